"""The MISP reader: events, attribute CSV and feed folders, real and made up.

The real files are read where they lie (/work/shared/corpus/feeds): the
Citizen Lab ones are CC BY-NC-SA and are never copied into the project.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._common.errors import PatternError
from iocmatch._feeds.misp import (
    is_misp_feed,
    looks_like_misp_csv,
    looks_like_misp_event,
    misp_entry,
    read_misp_csv,
    read_misp_event,
    read_misp_feed,
)
from iocmatch._patterns.clauses import compile_pattern

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT.parent / "shared" / "corpus" / "feeds"
CROWDSEC = FEEDS / "misp-feed-crowdsec"
CHROME = FEEDS / "misp-feed-chrome-mal-ids"
CITIZENLAB = FEEDS / "citizenlab-openioc"
# Reports whose misp.json and iocs.csv export the same event (the same attribute UUIDs).
SAME_EVENT_REPORTS = [
    "201702_NilePhish",
    "201705_TaintedLeaks",
    "201706_RecklessExploit",
    "201706_RecklessRedux",
    "201712_Cyberbit",
    "201803_BadTraffic",
    "201810_TheKingdomCameToCanada",
    "201909_MissingLink",
    "202006_DarkBasin",
]


def _real(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"the real feeds are not beside the project ({path} is missing)")
    return path


def _attributes(event: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(event.get("Attribute", []))
    for obj in event.get("Object", []):
        found.extend(obj.get("Attribute", []))
    return found


def _events(document: Any) -> list[dict[str, Any]]:
    if "response" in document:
        return [entry["Event"] for entry in document["response"]]
    return [document["Event"]]


def _values(loaded: iocmatch.IndicatorSet) -> set[tuple[str, str]]:
    return {(atom.kind, atom.value) for ind in loaded.indicators for clause in ind.clauses for atom in clause}


def _reasons(loaded: iocmatch.IndicatorSet) -> Counter[tuple[str, str]]:
    return Counter((problem.status, problem.reason) for problem in loaded.report.problems)


# ------------------------------------------------------------------ real files


def test_crowdsec_feed_every_ip_src_compiles() -> None:
    folder = _real(CROWDSEC)
    assert is_misp_feed(folder)
    sources = read_misp_feed(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert len(sources) == len(manifest) == 3
    assert all(source.digest for source in sources)
    loaded = iocmatch.load(*sources, ignore_validity=True)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (864, 864, 0, 0)
    # The rolling events repeat addresses: kinds counts distinct values.
    values = {
        a["value"]
        for uuid in manifest
        for a in _events(json.loads((folder / f"{uuid}.json").read_bytes()))[0]["Attribute"]
    }
    assert report.kinds == {"ipv4-addr": len(values)}
    assert {ind.publisher for ind in loaded.indicators} == {"cyberdefense.blue"}


def test_crowdsec_address_in_a_firewall_line_hits_with_the_events_org() -> None:
    folder = _real(CROWDSEC)
    event = json.loads((folder / "d177856e-6e46-44ee-8eb5-83ef1c7452c7.json").read_text(encoding="utf-8"))["Event"]
    address = event["Attribute"][0]["value"]
    matcher = iocmatch.compile(iocmatch.load(*read_misp_feed(folder), ignore_validity=True))
    line = (
        "Dec  6 10:00:01 fw01 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 "
        f"SRC={address} DST=10.0.0.5 LEN=40 TOS=0x00 TTL=241 PROTO=TCP SPT=54321 DPT=22 SYN"
    )
    matches = matcher.scan_line(line)
    assert [match.value for match in matches] == [address]
    assert matches[0].sources == (event["Orgc"]["name"],)
    assert matches[0].indicators == (f"indicator--{event['Attribute'][0]['uuid']}",)
    # A neighbouring address is no hit.
    assert matcher.scan_line(line.replace(f"SRC={address}", "SRC=192.0.2.77")) == []


def test_chrome_feed_urls_are_excluded_and_text_skipped() -> None:
    folder = _real(CHROME / "misp-feed")
    assert is_misp_feed(folder)
    sources = read_misp_feed(folder)
    assert len(sources) == 79
    loaded = iocmatch.load(*sources, ignore_validity=True)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (5188, 0, 2525, 2663)
    assert _reasons(loaded) == Counter(
        {
            ("excluded", "to_ids is false"): 2663,
            ("skipped", "MISP type 'text': free text, not an indicator value"): 2525,
        }
    )
    assert sum(entry["excluded"] for entry in report.by_source.values()) == 2663


def test_chrome_export_one_event() -> None:
    document = json.loads(_real(CHROME / "misp-export.json").read_text(encoding="utf-8"))
    assert looks_like_misp_event(document)
    loaded = iocmatch.load(read_misp_event(document, "misp-export.json"), ignore_validity=True)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (5050, 0, 2525, 2525)


def _citizenlab_json() -> list[Path]:
    return sorted(CITIZENLAB.glob("*/misp.json")) if CITIZENLAB.is_dir() else []


@pytest.mark.parametrize("path", _citizenlab_json() or [CITIZENLAB / "missing"], ids=lambda p: p.parent.name)
def test_citizenlab_event_counts_add_up(path: Path) -> None:
    """Every attribute is compiled, skipped or excluded; excluded exactly when to_ids is false."""
    document = json.loads(_real(path).read_text(encoding="utf-8"))
    assert looks_like_misp_event(document)
    attributes = [a for event in _events(document) for a in _attributes(event)]
    loaded = iocmatch.load(read_misp_event(document, str(path)), ignore_validity=True, allow_broad=True)
    report = loaded.report
    assert report.read == len(attributes)
    assert report.compiled + report.skipped + report.excluded == len(attributes)
    assert report.excluded == sum(1 for a in attributes if not a["to_ids"])
    assert all(p.reason == "to_ids is false" for p in report.problems if p.status == "excluded")
    assert all("MISP type" in p.reason for p in report.problems if p.status == "skipped")


def test_citizenlab_counts_by_type() -> None:
    """YARA rules are skipped, named; MissingLink's user agent compiles."""
    keyboy = json.loads(_real(CITIZENLAB / "201611_KeyBoy" / "misp.json").read_text(encoding="utf-8"))
    loaded = iocmatch.load(read_misp_event(keyboy, "keyboy"), ignore_validity=True)
    assert (loaded.report.compiled, loaded.report.skipped, loaded.report.excluded) == (32, 8, 39)
    assert _reasons(loaded)[("skipped", "MISP type 'yara': no STIX 2.1 pattern for it")] == 8
    link = json.loads(_real(CITIZENLAB / "201909_MissingLink" / "misp.json").read_text(encoding="utf-8"))
    loaded = iocmatch.load(read_misp_event(link, "missing-link"), ignore_validity=True)
    assert (loaded.report.compiled, loaded.report.skipped, loaded.report.excluded) == (29, 0, 42)
    proxy = (
        "1568000000.123    240 10.1.2.3 TCP_MISS/200 812 GET http://198.51.100.20/a.php - HIER_DIRECT/198.51.100.20 "
        'text/html "hots scot"'
    )
    [hit] = iocmatch.compile(loaded).scan_line(proxy)
    assert (hit.kind, hit.value, hit.sources) == ("user-agent", "hots scot", ("citizenlab",))  # its Orgc


def test_citizenlab_domain_hits_with_its_event() -> None:
    path = _real(CITIZENLAB / "201705_TaintedLeaks" / "misp.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    event = _events(document)[0]
    domain = next(a for a in event["Attribute"] if a["type"] == "domain" and a["to_ids"])
    loaded = iocmatch.load(read_misp_event(document, str(path)), ignore_validity=True)
    matcher = iocmatch.compile(loaded)
    line = (
        f'10.1.2.3 - - [25/May/2017:10:00:00 +0000] "GET http://{domain["value"]}/login HTTP/1.1" 200 512 "-" '
        '"Mozilla/5.0"'
    )
    matches = matcher.scan_line(line)
    assert [match.value for match in matches] == [domain["value"]]
    assert matches[0].sources == ("citizenlab",)
    # This report's event carries no galaxy and no galaxy tag: no attribution to invent.
    assert not event.get("Galaxy")
    assert not any(t["name"].startswith("misp-galaxy:") for t in event.get("Tag", []))
    assert matches[0].attribution == ()
    indicator = next(i for i in loaded.indicators if i.id == f"indicator--{domain['uuid']}")
    assert indicator.name == event["info"]


@pytest.mark.parametrize("report", SAME_EVENT_REPORTS)
def test_citizenlab_csv_and_json_exports_compile_the_same_values(report: str) -> None:
    folder = _real(CITIZENLAB / report)
    data = (folder / "iocs.csv").read_bytes()
    assert looks_like_misp_csv(data[:4096])
    from_csv = iocmatch.load(read_misp_csv(data, "iocs.csv"), ignore_validity=True, allow_broad=True)
    document = json.loads((folder / "misp.json").read_text(encoding="utf-8"))
    from_json = iocmatch.load(read_misp_event(document, "misp.json"), ignore_validity=True, allow_broad=True)
    assert _values(from_csv) == _values(from_json)
    assert {i.id for i in from_csv.indicators} == {i.id for i in from_json.indicators}
    rows = data.decode("utf-8").count("\n") - 1
    assert from_csv.report.read <= rows  # a YARA rule's row runs over many lines


def test_citizenlab_keyboy_csv_is_another_event() -> None:
    """KeyBoy's CSV (Citizen Lab's event 17) and JSON (CiviCERT's event 5414) share no attribute."""
    folder = _real(CITIZENLAB / "201611_KeyBoy")
    csv_ids = {line.split(",", 1)[0] for line in (folder / "iocs.csv").read_text(encoding="utf-8").splitlines()}
    document = json.loads((folder / "misp.json").read_text(encoding="utf-8"))
    assert not csv_ids & {a["uuid"] for e in _events(document) for a in _attributes(e)}
    loaded = iocmatch.load(read_misp_csv((folder / "iocs.csv").read_bytes(), "iocs.csv"), ignore_validity=True)
    report = loaded.report
    # 33 rows, 9 of them YARA rules over many lines: each one row, skipped.
    assert (report.read, report.compiled, report.skipped, report.excluded) == (33, 24, 9, 0)


# ------------------------------------------------------------- made-up events


def _event(*attributes: dict[str, Any], **fields: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "uuid": "5b1f6a1e-0000-4000-8000-000000000001",
        "info": "Test campaign",
        "timestamp": "1600000000",
        "Orgc": {"name": "Example CERT"},
        "Attribute": list(attributes),
    }
    event.update(fields)
    return {"Event": event}


def _attribute(number: int, type_name: str, value: str, to_ids: Any = True, **fields: Any) -> dict[str, Any]:
    attribute = {
        "uuid": f"5b1f6a1e-0000-4000-8000-{number:012d}",
        "type": type_name,
        "category": "Network activity",
        "value": value,
        "to_ids": to_ids,
        "timestamp": "1600000000",
    }
    attribute.update(fields)
    return attribute


MAPPING = [
    ("ip-src", "198.51.100.7", {("ipv4-addr", "198.51.100.7")}),
    ("ip-dst", "203.0.113.0/24", {("ipv4-addr", "203.0.113.0/24")}),
    ("ip-dst", "2001:db8::1", {("ipv6-addr", "2001:db8::1")}),
    ("domain", "Evil.Example.com", {("domain-name", "evil.example.com")}),
    ("hostname", "c2.example.net", {("domain-name", "c2.example.net")}),
    ("domain|ip", "c2.example.org|198.51.100.9", {("domain-name", "c2.example.org"), ("ipv4-addr", "198.51.100.9")}),
    ("url", "http://evil.example.com/gate.php", {("url", "http://evil.example.com/gate.php")}),
    ("uri", "https://evil.example.com/a", {("url", "https://evil.example.com/a")}),
    ("md5", "D41D8CD98F00B204E9800998ECF8427E", {("md5", "d41d8cd98f00b204e9800998ecf8427e")}),
    ("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", {("sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709")}),
    ("sha256", "a" * 64, {("sha256", "a" * 64)}),
    ("sha512", "b" * 128, {("sha512", "b" * 128)}),
    ("filename", "payload.exe", {("file-name", "payload.exe")}),
    ("filename|md5", "payload.exe|" + "c" * 32, {("md5", "c" * 32)}),
    ("filename|sha256", "payload.exe|" + "d" * 64, {("sha256", "d" * 64)}),
    ("email-src", "Spoof@Example.com", {("email-addr", "spoof@example.com")}),
    ("email-dst", "victim@example.org", {("email-addr", "victim@example.org")}),
    ("mutex", "Global\\EvilMutex", {("mutex", "Global\\EvilMutex")}),
    ("regkey", "HKLM\\Software\\Evil", {("windows-registry-key", "hkey_local_machine\\software\\evil")}),
    ("regkey|value", "HKCU\\Software\\Evil|payload", {("windows-registry-key", "hkey_current_user\\software\\evil")}),
    ("email-subject", "Your invoice 4411", {("email-subject", "Your invoice 4411")}),
    ("user-agent", "hots scot", {("user-agent", "hots scot")}),
    ("uri", "/wp-content/gate.php", {("http-request", "/wp-content/gate.php")}),
    ("x509-fingerprint-sha1", "E" * 40, {("sha1", "e" * 40)}),
    ("x509-fingerprint-sha256", "f" * 64, {("sha256", "f" * 64)}),
    ("x509-fingerprint-md5", "1" * 32, {("md5", "1" * 32)}),
    ("ip-dst|port", "198.51.100.7|443", {("ipv4-addr", "198.51.100.7"), ("port", "443")}),
    ("ip-src|port", "2001:db8::7|8443", {("ipv6-addr", "2001:db8::7"), ("port", "8443")}),
    ("hostname|port", "c2.example.net|8080", {("domain-name", "c2.example.net"), ("port", "8080")}),
]


@pytest.mark.parametrize(("type_name", "value", "atoms"), MAPPING, ids=[m[0] + ":" + m[1][:20] for m in MAPPING])
def test_type_mapping_and_the_shown_pattern_compiles_to_the_clauses(
    type_name: str, value: str, atoms: set[tuple[str, str]]
) -> None:
    entry = misp_entry(type_name, value)
    assert {(atom.kind, atom.value.lower()) for clause in entry.clauses for atom in clause} == {
        (kind, atom_value.lower()) for kind, atom_value in atoms
    }
    assert set(compile_pattern(entry.pattern).clauses) == set(entry.clauses)


def test_domain_ip_is_two_comparisons_joined_by_or() -> None:
    entry = misp_entry("domain|ip", "c2.example.org|198.51.100.9")
    assert len(entry.clauses) == 2
    assert all(len(clause) == 1 for clause in entry.clauses)
    assert " OR " in entry.pattern


def test_filename_beside_a_hash_is_context() -> None:
    read = read_misp_event(_event(_attribute(1, "filename|md5", "dropper.exe|" + "c" * 32)), "x")
    (made,) = [obj for obj in read.objects if obj["type"] == "indicator"]
    assert "dropper.exe" in made["description"]
    assert "dropper" not in made["pattern"]
    loaded = iocmatch.load(read, ignore_validity=True)
    assert loaded.report.kinds == {"md5": 1}


SKIPS = [
    ("ip-dst|port", "198.51.100.7", "is not 'address|port'"),
    ("ip-src|port", "198.51.100.7|http", "is not a port"),
    ("link", "https://citizenlab.ca/report", "a reference"),
    ("text", "some words", "free text"),
    ("comment", "some words", "free text"),
    ("other", "some words", "free text"),
    ("http-method", "POST", "no indicator"),
    ("ja3-fingerprint-md5", "e7d705a3286e19ea42f587b344ee6865", "JA3"),
    ("yara", "rule x { condition: true }", "no STIX 2.1 pattern"),
]


@pytest.mark.parametrize(("type_name", "value", "reason"), SKIPS, ids=[s[0] for s in SKIPS])
def test_types_without_a_pattern_are_skipped_naming_the_type(type_name: str, value: str, reason: str) -> None:
    with pytest.raises(PatternError, match=reason) as raised:
        misp_entry(type_name, value)
    assert f"'{type_name}'" in str(raised.value)
    loaded = iocmatch.load(read_misp_event(_event(_attribute(1, type_name, value)), "x"), ignore_validity=True)
    assert (loaded.report.read, loaded.report.skipped) == (1, 1)


def test_to_ids_false_is_excluded_and_counted() -> None:
    document = _event(
        _attribute(1, "domain", "kept.example.com"),
        _attribute(2, "domain", "reference.example.com", to_ids=False),
        _attribute(3, "domain", "deleted.example.com", deleted=True),
        _attribute(4, "text", "note"),
    )
    loaded = iocmatch.load(read_misp_event(document, "event.json"), ignore_validity=True)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (4, 1, 1, 2)
    assert report.by_source["event.json"] == {"read": 4, "compiled": 1, "skipped": 1, "excluded": 2}
    excluded = {p.id: p.reason for p in report.problems if p.status == "excluded"}
    assert excluded == {
        "indicator--5b1f6a1e-0000-4000-8000-000000000002": "to_ids is false",
        "indicator--5b1f6a1e-0000-4000-8000-000000000003": "attribute is deleted",
    }


def test_galaxy_and_tags_give_attribution() -> None:
    galaxy = {
        "type": "threat-actor",
        "name": "Threat Actor",
        "GalaxyCluster": [{"value": "APT10", "meta": {"synonyms": ["Stone Panda", "menuPass"]}}],
    }
    document = _event(
        _attribute(1, "domain", "c2.example.com"),
        _attribute(2, "ip-dst", "198.51.100.7", Tag=[{"name": 'misp-galaxy:mitre-malware="PlugX - S0013"'}]),
        Galaxy=[galaxy],
        Tag=[{"name": 'misp-galaxy:threat-actor="APT10"'}, {"name": "tlp:white"}],
    )
    read = read_misp_event(document, "event.json")
    sets = [obj for obj in read.objects if obj["type"] == "intrusion-set"]
    assert [(obj["name"], obj["aliases"]) for obj in sets] == [("APT10", ["Stone Panda", "menuPass"])]
    matcher = iocmatch.compile(iocmatch.load(read, ignore_validity=True))
    (domain_hit,) = matcher.scan_line("query: c2.example.com IN A")
    assert domain_hit.attribution == ("APT10",)
    assert domain_hit.sources == ("Example CERT",)
    (address_hit,) = matcher.scan_line("DST=198.51.100.7")
    assert set(address_hit.attribution) == {"APT10", "PlugX - S0013"}


def test_valid_from_is_first_seen_else_timestamp_and_never_future() -> None:
    document = _event(
        _attribute(1, "domain", "a.example.com", first_seen="2019-03-04T05:06:07.000000+00:00"),
        _attribute(2, "domain", "b.example.com"),
        _attribute(3, "domain", "c.example.com", timestamp="4102444800"),  # 2100
    )
    objects = {obj["pattern"]: obj for obj in read_misp_event(document, "x").objects if obj["type"] == "indicator"}
    valid = {pattern.split("'")[1]: obj["valid_from"] for pattern, obj in objects.items()}
    assert valid["a.example.com"] == "2019-03-04T05:06:07.000Z"
    assert valid["b.example.com"] == "2020-09-13T12:26:40.000Z"
    assert valid["c.example.com"] <= datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.999Z")
    assert iocmatch.load(read_misp_event(document, "x")).report.compiled == 3  # none "not yet valid"


def test_object_attributes_are_read_too() -> None:
    document = _event(
        Object=[{"name": "domain-ip", "Attribute": [_attribute(5, "domain", "obj.example.com")]}],
    )
    loaded = iocmatch.load(read_misp_event(document, "x"), ignore_validity=True)
    assert _values(loaded) == {("domain-name", "obj.example.com")}


def test_document_shapes() -> None:
    one = _event(_attribute(1, "domain", "a.example.com"))
    api = {"response": [one, _event(_attribute(2, "domain", "b.example.com"))]}
    assert looks_like_misp_event(one)
    assert looks_like_misp_event(api)
    assert looks_like_misp_event([one, one])
    assert not looks_like_misp_event({"type": "bundle", "id": "bundle--1", "objects": []})
    assert not looks_like_misp_event([])
    assert not looks_like_misp_event({"response": []})
    loaded = iocmatch.load(read_misp_event(api, "api.json"), ignore_validity=True)
    assert _values(loaded) == {("domain-name", "a.example.com"), ("domain-name", "b.example.com")}


def test_csv_rows() -> None:
    data = (
        b"uuid,event_id,category,type,value,comment,to_ids,date\n"
        b"5b1f6a1e-0000-4000-8000-000000000001,1,Network activity,domain,a.example.com,,1,20170525\n"
        b"5b1f6a1e-0000-4000-8000-000000000002,1,External analysis,url,https://ref.example.com/,,0,20170525\n"
        b'5b1f6a1e-0000-4000-8000-000000000003,1,Artifacts dropped,yara,"rule x {\n condition: true\n}",,1,20170525\n'
        b"5b1f6a1e-0000-4000-8000-000000000004,1,Network activity,ip-dst|port,198.51.100.7|443,,1,20170525\n"
    )
    assert looks_like_misp_csv(data)
    assert not looks_like_misp_csv(b"type,value\ndomain,a.example.com\n")
    read = read_misp_csv(data, "iocs.csv")
    assert read.objects[0]["valid_from"] == "2017-05-25T00:00:00.000Z"
    loaded = iocmatch.load(read, ignore_validity=True)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (4, 2, 1, 1)
    assert {p.id: p.status for p in report.problems} == {"iocs.csv:3": "excluded", "iocs.csv:4": "skipped"}
    # ip-dst|port: the address and the port, on one line.
    endpoint = next(i for i in loaded.indicators if i.id == "indicator--5b1f6a1e-0000-4000-8000-000000000004")
    assert endpoint.pattern == "[network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 443]"
    matcher = iocmatch.compile(loaded)
    assert len(matcher.scan_line("May 25 10:00:00 fw01 SRC=10.1.2.3 DST=198.51.100.7 PROTO=TCP DPT=443")) == 2
    assert matcher.scan_line("May 25 10:00:00 fw01 SRC=10.1.2.3 DST=198.51.100.7 PROTO=TCP DPT=22") == []


@pytest.mark.parametrize(
    ("date", "valid_from"),
    [
        ("20170525", "2017-05-25T00:00:00.000Z"),  # as MISP writes it
        ("1495714210", "2017-05-25T12:10:10.000Z"),  # epoch seconds, as other exports do
        ("2017-05-25T12:10:10Z", "2017-05-25T12:10:10.000Z"),
        ("someday", "1970-01-01T00:00:00.000Z"),  # no date: valid from the start
    ],
)
def test_csv_dates(date: str, valid_from: str) -> None:
    data = (
        b"uuid,event_id,category,type,value,comment,to_ids,date\n"
        b"5b1f6a1e-0000-4000-8000-000000000001,1,Network activity,domain,a.example.com,,1," + date.encode() + b"\n"
    )
    [made] = read_misp_csv(data, "iocs.csv").objects
    assert (made["created"], made["valid_from"]) == (valid_from, valid_from)


def test_feed_folder_with_a_missing_event_is_an_error(tmp_path: Path) -> None:
    event_uuid = "5b1f6a1e-0000-4000-8000-0000000000aa"
    (tmp_path / "manifest.json").write_text(json.dumps({event_uuid: {"info": "x"}}), encoding="utf-8")
    assert is_misp_feed(tmp_path)
    with pytest.raises(iocmatch.SourceError, match="cannot read the event"):
        read_misp_feed(tmp_path)
    (tmp_path / f"{event_uuid}.json").write_text(
        json.dumps(_event(_attribute(1, "ip-src", "198.51.100.7"))), encoding="utf-8"
    )
    (read,) = read_misp_feed(tmp_path)
    assert iocmatch.load(read, ignore_validity=True).report.compiled == 1
    assert not is_misp_feed(tmp_path / "nothing-here")


def test_shapes_that_once_lost_attributes_are_read_or_reported() -> None:
    alone = {
        "Event": {
            "info": "x",
            "Attribute": {"type": "domain", "value": "evil.example", "to_ids": True},
            "Object": [{"Attribute": [{"type": "domain", "value": "other.example", "to_ids": True}]}],
        }
    }
    report = iocmatch.load(alone).report
    assert (report.read, report.compiled) == (2, 2)
    broken = {
        "Event": {
            "info": "x",
            "Attribute": "evil.example",
            "Object": [{"Attribute": [{"type": "domain", "value": "other.example", "to_ids": True}]}],
        }
    }
    report = iocmatch.load(broken).report
    assert (report.compiled, report.skipped) == (1, 1)
    assert "'Attribute' is not a list" in report.problems[0].reason
    unsaid = {"Event": {"info": "x", "Attribute": [{"type": "domain", "value": "evil.example"}]}}
    report = iocmatch.load(unsaid).report
    assert [(p.status, p.reason) for p in report.problems] == [("excluded", "to_ids is not given")]


def test_a_stix_bundle_with_an_event_key_stays_stix() -> None:
    bundle_with_event = {
        "type": "bundle", "id": "bundle--5b3e5ad1-0000-4000-8000-000000000001",
        "objects": [{"type": "indicator", "spec_version": "2.1",
                     "id": "indicator--5b3e5ad1-0000-4000-8000-000000000002",
                     "created": "2020-01-01T00:00:00Z", "modified": "2020-01-01T00:00:00Z",
                     "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
                     "valid_from": "2020-01-01T00:00:00Z"}],
        "Event": {"info": "x", "Attribute": [{"type": "domain", "value": "other.example", "to_ids": True}]},
    }  # fmt: skip
    matcher = iocmatch.compile(iocmatch.load(bundle_with_event))
    assert [m.value for m in matcher.scan_line("dns query evil.example")] == ["evil.example"]


def test_a_csv_with_chosen_columns_honours_to_ids_and_a_cut_row_is_skipped(tmp_path: Path) -> None:
    chosen = tmp_path / "chosen.csv"
    chosen.write_text("type,value,to_ids\ndomain,evil.example,0\nip-dst,198.51.100.7,1\n")
    report = iocmatch.load(chosen).report
    assert (report.read, report.compiled, report.excluded) == (2, 1, 1)
    cut = tmp_path / "cut.csv"
    rows = [
        "uuid,event_id,category,type,value,comment,to_ids,date",
        "5b3e5ad1-0000-4000-8000-000000000003,1,Network activity,domain",
        "5b3e5ad1-0000-4000-8000-000000000004,1,Network activity,domain,evil.example,,1,20200101",
    ]
    cut.write_text("\n".join(rows) + "\n")
    report = iocmatch.load(cut).report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (2, 1, 1, 0)
    assert report.problems[0].reason == "row has 4 cells, the header 8"
