"""The campaign data in data/: reproducible from its sources, valid STIX 2.1, one
indicator per (publisher, value) with provenance, and the sample logs' ground truth
agrees with what the library reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._feeds.reading import read_file
from iocmatch._patterns.clauses import compile_pattern

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "apt10"
BUNDLE = ROOT / "data" / "apt10.stix21.json"
SAMPLES = ROOT / "data" / "samples"
LOGS = ("proxy.log", "dns.log", "firewall.log", "mail.log", "sysmon.jsonl")

US_CERT = "US-CERT (NCCIC)"
PWC = "PwC UK and BAE Systems"
UNIT42 = "Palo Alto Networks Unit 42"
SIGBASE = "Florian Roth (signature-base), from AlienVault OTX"

US_CERT_XML = "clinthart2003_Selenium/IR-ALERT-MED-17-093-01-C.XML"
PWC_CSV = "janhenrikdotcom_iocs/Operation Cloud Hopper - Indicators of Compromise v3.csv"
PLAYBOOK_2022 = "pan-unit42_playbook_viewer/granite-taurus.json"
PLAYBOOK_2019 = "pan-unit42_playbook_viewer/commit_7381733/menupass.json"
UNIT42_LIST = "pan-unit42_iocs/menuPass"
SIGBASE_FILES = (
    "Neo23x0_signature-base/c2-iocs.APT10-extract.txt",
    "Neo23x0_signature-base/hash-iocs.APT10-extract.txt",
)
REGISTRY_2019 = "indicator--4a4c0e03-265a-4a12-8f29-ccbe1f054e02"

# The repositories the bundle may cite: the high-confidence sources and ATT&CK.
CITED_REPOS = {
    "clinthart2003/Selenium",
    "janhenrikdotcom/iocs",
    "pan-unit42/playbook_viewer",
    "pan-unit42/iocs",
    "Neo23x0/signature-base",
}
ORIGINALS = {
    US_CERT: "https://www.us-cert.gov/ncas/alerts/TA17-117A",
    PWC: "https://www.pwc.co.uk/cyber-security/pdf/cloud-hopper-indicators-of-compromise-v3.pdf",
}


def needs_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the published corpus is not beside the project (looked for {CORPUS})")


def run_tool(script: str, *args: str | Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / script), *map(str, args)], check=True, capture_output=True)


@cache
def bundle_objects() -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(BUNDLE.read_text(encoding="utf-8"))["objects"])


def indicators() -> list[dict[str, Any]]:
    return [obj for obj in bundle_objects() if obj["type"] == "indicator"]


@cache
def publisher_of() -> dict[str, str]:
    names = {obj["id"]: obj["name"] for obj in bundle_objects() if obj["type"] == "identity"}
    return {obj["id"]: names[obj["created_by_ref"]] for obj in indicators()}


def ids_by_publisher() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for ident, name in publisher_of().items():
        out.setdefault(name, set()).add(ident)
    return out


def reader_ids(*paths: str) -> set[str]:
    return {obj["id"] for path in paths for obj in read_file(CORPUS / path).objects if obj["type"] == "indicator"}


def atoms(pattern: str) -> frozenset[tuple[str, str]]:
    return frozenset((atom.kind, atom.value) for clause in compile_pattern(pattern).clauses for atom in clause)


def expected_hits() -> list[dict[str, Any]]:
    lines = (SAMPLES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# --- reproducibility ---------------------------------------------------------


@pytest.mark.slow
def test_build_reproduces_the_bundle_byte_for_byte(tmp_path: Path) -> None:
    needs_corpus()
    out = tmp_path / "apt10.stix21.json"
    run_tool("build_campaign_data.py", "--corpus", CORPUS, "--out", out, "--no-stix2")
    assert out.read_bytes() == BUNDLE.read_bytes()


@pytest.mark.slow
def test_sample_writer_reproduces_the_samples_byte_for_byte(tmp_path: Path) -> None:
    run_tool("write_sample_logs.py", "--bundle", BUNDLE, "--out", tmp_path)
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted([*LOGS, "expected.jsonl"])
    assert written == sorted(path.name for path in SAMPLES.iterdir())
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


def test_bundle_is_one_object_per_line_sorted_by_type_and_id() -> None:
    lines = BUNDLE.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('{"type": "bundle", "id": "bundle--')
    assert lines[0].endswith('"objects": [')
    assert lines[-1] == "]}"
    objects = [json.loads(line.removesuffix(",")) for line in lines[1:-1]]
    assert objects == list(bundle_objects())
    assert [(o["type"], o["id"]) for o in objects] == sorted((o["type"], o["id"]) for o in objects)


# --- the bundle: validity and provenance -------------------------------------


@pytest.mark.slow
def test_bundle_objects_parse_as_stix_21() -> None:
    stix2 = pytest.importorskip("stix2")
    pattern_visitor = pytest.importorskip("stix2.pattern_visitor")
    for obj in bundle_objects():
        assert obj["spec_version"] == "2.1"
        stix2.parse(obj, allow_custom=True)  # x_sightings on US-CERT's indicators is custom
        if obj["type"] == "indicator":
            pattern_visitor.create_pattern_object(obj["pattern"], version="2.1")


def test_library_compiles_every_indicator() -> None:
    report = iocmatch.load(str(BUNDLE)).report
    assert report.read == report.compiled == len(indicators())
    assert report.problems == ()
    assert report.warnings == ()


def test_every_indicator_is_live_and_has_provenance() -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    indicated = {obj["source_ref"] for obj in bundle_objects() if obj.get("relationship_type") == "indicates"}
    for obj in indicators():
        assert "valid_until" not in obj
        assert not obj.get("revoked", False)
        assert obj["valid_from"][:10] >= "2017-04-03"
        assert obj["valid_from"] <= now
        assert obj["created"] <= obj["modified"]
        assert obj["pattern_type"] == "stix"
        assert obj["pattern_version"] == "2.1"
        publisher = publisher_of()[obj["id"]]
        assert publisher in (US_CERT, PWC, UNIT42, SIGBASE)
        urls = [ref["url"] for ref in obj["external_references"]]
        match = re.fullmatch(r"https://github\.com/([^/]+/[^/]+)/blob/[0-9a-f]{40}/\S+", urls[0])
        assert match, urls[0]
        assert match.group(1) in CITED_REPOS, urls[0]
        if publisher in ORIGINALS:
            assert ORIGINALS[publisher] in urls
        assert obj["id"] in indicated


def test_one_indicator_per_publisher_and_value() -> None:
    seen = Counter((publisher_of()[obj["id"]], atoms(obj["pattern"])) for obj in indicators())
    assert [key for key, count in seen.items() if count > 1] == []
    # Values are not merged across publishers: a shared value has one indicator each.
    by_value = Counter(atoms(obj["pattern"]) for obj in indicators())
    assert max(by_value.values()) == 4


def test_low_confidence_sources_are_left_out() -> None:
    text = BUNDLE.read_text(encoding="utf-8")
    for name in ("maltrail", "RedDrip7", "malware-ioc", "mirrorface", "jonaslejon"):
        assert name.lower() not in text.lower(), name


def test_us_cert_indicators_keep_their_metadata() -> None:
    us_cert = [obj for obj in indicators() if publisher_of()[obj["id"]] == US_CERT]
    assert all(re.fullmatch(r"indicator--[0-9a-f-]{36}", obj["id"]) for obj in us_cert)
    assert all(obj["created"].startswith("2017-05-10T") for obj in us_cert)
    assert all(obj["x_sightings"] and obj["description"] for obj in us_cert)
    assert sum("kill_chain_phases" in obj for obj in us_cert) == 539
    assert {ref.get("external_id") for obj in us_cert for ref in obj["external_references"]} >= {
        "IR-ALERT-MED-17-093-01-D"
    }


def test_signature_base_confidence_is_marked() -> None:
    for obj in indicators():
        if publisher_of()[obj["id"]] == SIGBASE:
            assert obj["description"].endswith("Confidence: Medium-High.")


# --- the bundle: counts against what the readers give ------------------------


@pytest.mark.slow
def test_us_cert_pwc_and_signature_base_are_what_the_readers_give() -> None:
    needs_corpus()
    published = ids_by_publisher()
    for publisher, paths in ((US_CERT, (US_CERT_XML,)), (PWC, (PWC_CSV,)), (SIGBASE, SIGBASE_FILES)):
        assert published[publisher] == reader_ids(*paths), publisher
        # What the library itself keeps of the raw files: read minus problems minus repeated rows.
        report = iocmatch.load(*(CORPUS / path for path in paths)).report
        assert len(published[publisher]) == report.compiled, publisher
    assert (len(published[US_CERT]), len(published[PWC]), len(published[SIGBASE])) == (601, 1889, 1987)


def test_unit42_is_both_playbooks_and_the_list_without_repeats() -> None:
    needs_corpus()
    playbook = json.loads((CORPUS / PLAYBOOK_2022).read_text(encoding="utf-8"))["objects"]
    playbook_ids = {obj["id"] for obj in playbook if obj["type"] == "indicator"} | {REGISTRY_2019}
    playbook_values = {
        atoms(obj["pattern"]) for obj in indicators() if obj["id"] in playbook_ids and obj["id"] != REGISTRY_2019
    }
    listed = [obj for obj in read_file(CORPUS / UNIT42_LIST).objects if obj["type"] == "indicator"]
    list_only = {obj["id"] for obj in listed if atoms(obj["pattern"]) not in playbook_values}
    assert ids_by_publisher()[UNIT42] == playbook_ids | list_only
    assert len(playbook_ids) == 38
    assert len(list_only) == 786
    # A value in both keeps Unit 42's playbook indicator, citing the list too.
    in_both = [obj for obj in indicators() if obj["id"] in playbook_ids and len(obj["external_references"]) == 2]
    assert len(in_both) == 33
    assert all(obj["external_references"][1]["source_name"] == "Unit 42 menuPass IOC list" for obj in in_both)


def test_rows_the_readers_could_not_convert_are_not_in_the_bundle() -> None:
    needs_corpus()
    problems = read_file(CORPUS / US_CERT_XML).problems
    assert len(problems) == 2
    assert not {problem.id for problem in problems} & set(publisher_of())
    assert len(read_file(CORPUS / PWC_CSV).problems) == 7
    names = {obj.get("name", "") for obj in indicators()}
    assert not {name for name in names if "%" in name or "pipe" in name.lower() or "[digits]" in name}


# --- the bundle: attribution -------------------------------------------------


def test_campaigns_are_attributed_to_menupass() -> None:
    objects = bundle_objects()
    names = {obj["id"]: obj["name"] for obj in objects if "name" in obj}
    attributed = {
        (names[obj["source_ref"]], names[obj["target_ref"]])
        for obj in objects
        if obj["type"] == "relationship" and obj["relationship_type"] == "attributed-to"
    }
    assert attributed == {("September - November 2016", "menuPass"), ("Operation Cloud Hopper", "menuPass")}
    [intrusion_set] = [obj for obj in objects if obj["type"] == "intrusion-set"]
    assert {"APT10", "Stone Panda", "Granite Taurus"} <= set(intrusion_set["aliases"])


def test_indicators_point_where_their_publisher_said() -> None:
    objects = bundle_objects()
    names = {obj["id"]: obj["name"] for obj in objects if "name" in obj}
    targets: dict[str, set[str]] = {}
    for obj in objects:
        if obj.get("relationship_type") == "indicates":
            targets.setdefault(obj["source_ref"], set()).add(names[obj["target_ref"]])
    for obj in indicators():
        publisher = publisher_of()[obj["id"]]
        if publisher in (US_CERT, PWC):
            assert targets[obj["id"]] == {"Operation Cloud Hopper"}
        elif publisher == SIGBASE:
            assert targets[obj["id"]] == {"menuPass"}
        elif obj["external_references"][0]["source_name"] == "Unit 42 playbook":
            assert targets[obj["id"]] <= {"September - November 2016", "ChChes"}
        else:
            assert targets[obj["id"]] == {"menuPass"}


# --- the sample logs ---------------------------------------------------------


def test_expected_records_have_the_documented_shape() -> None:
    for hit in expected_hits():
        assert list(hit) == ["file", "line", "start", "end", "kind", "value", "text"]


def test_expected_spans_stand_in_the_lines() -> None:
    lines = {name: (SAMPLES / name).read_text(encoding="utf-8").splitlines() for name in LOGS}
    for hit in expected_hits():
        line = lines[hit["file"]][hit["line"] - 1]
        assert line[hit["start"] : hit["end"]] == hit["text"], hit


def test_every_publisher_and_kind_is_planted() -> None:
    published = {(publisher_of()[obj["id"]], atom[0]) for obj in indicators() for atom in atoms(obj["pattern"])}
    publishers: dict[tuple[str, str], set[str]] = {}
    for obj in indicators():
        for atom in atoms(obj["pattern"]):
            publishers.setdefault(atom, set()).add(publisher_of()[obj["id"]])
    planted = {(p, hit["kind"]) for hit in expected_hits() for p in publishers[(hit["kind"], hit["value"])]}
    # Sysmon has no event for mutexes, so PwC's are not planted.
    assert published - planted == {(PWC, "mutex")}


def test_every_playbook_indicator_is_planted() -> None:
    planted = {(hit["kind"], hit["value"]) for hit in expected_hits()}
    playbook = [obj for obj in indicators() if obj["external_references"][0]["source_name"] == "Unit 42 playbook"]
    assert len(playbook) == 38
    assert all(atoms(obj["pattern"]) <= planted for obj in playbook)


@pytest.fixture(scope="module")
def matcher() -> iocmatch.Matcher:
    # Sysmon writes HKCU keys as HKU\<SID>\...: the samples are scanned as the demo
    # scans them, with registry aliases on.
    return iocmatch.compile(iocmatch.load(str(BUNDLE)), registry_aliases=True)


@pytest.mark.parametrize("name", LOGS)
def test_library_reports_exactly_the_planted_hits(matcher: iocmatch.Matcher, name: str) -> None:
    expected = {
        (hit["line"], hit["start"], hit["end"], hit["kind"], hit["value"], hit["text"])
        for hit in expected_hits()
        if hit["file"] == name
    }
    found = [(m.line, m.start, m.end, m.kind, m.value, m.text) for m in matcher.scan_file(SAMPLES / name)]
    assert len(found) == len(set(found)), "one match per (line, span, value)"
    assert sorted(set(found) - expected) == [], "reported but not planted"
    assert sorted(expected - set(found)) == [], "planted but not reported"


def test_a_value_several_publishers_published_names_them_all(matcher: iocmatch.Matcher) -> None:
    publishers: dict[tuple[str, str], set[str]] = {}
    for obj in indicators():
        for atom in atoms(obj["pattern"]):
            publishers.setdefault(atom, set()).add(publisher_of()[obj["id"]])
    checked = 0
    for name in LOGS:
        for match in matcher.scan_file(SAMPLES / name):
            assert set(match.sources) == publishers[(match.kind, match.value)]
            checked += len(match.sources) > 1
    assert checked >= 10


def test_without_registry_aliases_only_the_hku_spellings_are_missed() -> None:
    plain = iocmatch.compile(iocmatch.load(str(BUNDLE)))
    found = {(m.line, m.start, m.end) for m in plain.scan_file(SAMPLES / "sysmon.jsonl")}
    expected = {
        (hit["line"], hit["start"], hit["end"], hit["text"]) for hit in expected_hits() if hit["file"] == "sysmon.jsonl"
    }
    missed = {text for line, start, end, text in expected if (line, start, end) not in found}
    assert missed
    assert all(text.upper().startswith("HKU\\\\S-1-5-21-") for text in missed)
