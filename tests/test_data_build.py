"""The campaign data in data/: reproducible from its sources, valid STIX 2.1, and
the sample logs' ground truth agrees with what the library reports."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import iocmatch

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "apt10"
BUNDLE = ROOT / "data" / "apt10.stix21.json"
SAMPLES = ROOT / "data" / "samples"
LOGS = ("proxy.log", "dns.log", "firewall.log", "sysmon.jsonl")
PLAYBOOK_2022 = CORPUS / "pan-unit42_playbook_viewer" / "granite-taurus.json"


def needs_corpus() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the published corpus is not beside the project (looked for {CORPUS})")


def run_tool(script: str, *args: str | Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "tools" / script), *map(str, args)], check=True, capture_output=True)


def bundle_objects() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = json.loads(BUNDLE.read_text(encoding="utf-8"))["objects"]
    return objects


def expected_hits() -> list[dict[str, Any]]:
    lines = (SAMPLES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# --- reproducibility ---------------------------------------------------------


def test_build_reproduces_the_bundle_byte_for_byte(tmp_path: Path) -> None:
    needs_corpus()
    out = tmp_path / "apt10.stix21.json"
    run_tool("build_campaign_data.py", "--corpus", CORPUS, "--out", out)
    assert out.read_bytes() == BUNDLE.read_bytes()


def test_sample_writer_reproduces_the_samples_byte_for_byte(tmp_path: Path) -> None:
    run_tool("write_sample_logs.py", "--bundle", BUNDLE, "--out", tmp_path)
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == sorted(path.name for path in SAMPLES.iterdir())
    for name in written:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), name


# --- the bundle --------------------------------------------------------------


def test_bundle_has_every_2022_indicator_plus_the_2019_registry_key() -> None:
    needs_corpus()
    published = json.loads(PLAYBOOK_2022.read_text(encoding="utf-8"))["objects"]
    published_ids = {obj["id"] for obj in published if obj["type"] == "indicator"}
    ours = [obj for obj in bundle_objects() if obj["type"] == "indicator"]
    assert len(ours) == len(published_ids) + 1
    [extra] = [obj for obj in ours if obj["id"] not in published_ids]
    assert extra["pattern"].startswith("[windows-registry-key:key = ")


def test_bundle_objects_parse_as_stix_21() -> None:
    stix2 = pytest.importorskip("stix2")
    pattern_visitor = pytest.importorskip("stix2.pattern_visitor")
    for obj in bundle_objects():
        assert obj["spec_version"] == "2.1"
        stix2.parse(obj, allow_custom=False)
        if obj["type"] == "indicator":
            pattern_visitor.create_pattern_object(obj["pattern"], version="2.1")


def test_every_indicator_is_live_and_has_provenance() -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    objects = bundle_objects()
    identities = {obj["id"]: obj["name"] for obj in objects if obj["type"] == "identity"}
    for obj in [o for o in objects if o["type"] == "indicator"]:
        assert "valid_until" not in obj
        assert not obj.get("revoked", False)
        assert obj["valid_from"] <= now
        assert obj["pattern_type"] == "stix"
        assert obj["pattern_version"] == "2.1"
        assert identities[obj["created_by_ref"]] == "Palo Alto Networks Unit 42"
        [ref] = obj["external_references"]
        assert ref["url"].startswith("https://github.com/pan-unit42/playbook_viewer/blob/")


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


# --- the sample logs ---------------------------------------------------------


def test_expected_spans_stand_in_the_lines() -> None:
    lines = {name: (SAMPLES / name).read_text(encoding="utf-8").splitlines() for name in LOGS}
    for hit in expected_hits():
        line = lines[hit["file"]][hit["line"] - 1]
        assert line[hit["start"] : hit["end"]] == hit["text"], hit


def test_every_indicator_is_planted_at_least_once() -> None:
    planted = {hit["value"] for hit in expected_hits()}
    assert len(planted) == sum(obj["type"] == "indicator" for obj in bundle_objects())


@pytest.fixture(scope="module")
def matcher() -> iocmatch.Matcher:
    # Sysmon writes HKCU keys as HKU\<SID>\...: the samples are scanned as the demo
    # scans them, with registry aliases on.
    return iocmatch.compile(iocmatch.load(str(BUNDLE)), registry_aliases=True)


@pytest.mark.parametrize("name", LOGS)
def test_library_reports_exactly_the_planted_hits(matcher: iocmatch.Matcher, name: str) -> None:
    expected = {
        (hit["file"], hit["line"], hit["kind"], hit["value"], hit["text"])
        for hit in expected_hits()
        if hit["file"] == name
    }
    found = {(name, m.line, m.kind, m.value, m.text) for m in matcher.scan_file(SAMPLES / name)}
    assert sorted(found - expected) == [], "reported but not planted"
    assert sorted(expected - found) == [], "planted but not reported"


@pytest.mark.parametrize("name", LOGS)
def test_library_spans_agree_with_the_planted_spans(matcher: iocmatch.Matcher, name: str) -> None:
    expected = {(hit["line"], hit["start"], hit["end"]) for hit in expected_hits() if hit["file"] == name}
    found = {(m.line, m.start, m.end) for m in matcher.scan_file(SAMPLES / name)}
    assert found == expected


def test_without_registry_aliases_only_the_hku_spellings_are_missed() -> None:
    plain = iocmatch.compile(iocmatch.load(str(BUNDLE)))
    found = {(m.line, m.start, m.end) for m in plain.scan_file(SAMPLES / "sysmon.jsonl")}
    expected = {
        (hit["line"], hit["start"], hit["end"], hit["text"]) for hit in expected_hits() if hit["file"] == "sysmon.jsonl"
    }
    missed = {text for line, start, end, text in expected if (line, start, end) not in found}
    assert missed
    assert all(text.upper().startswith("HKU\\\\S-1-5-21-") for text in missed)
