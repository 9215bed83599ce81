"""abuse.ch's CSV exports: Feodo Tracker, URLhaus, ThreatFox, MalwareBazaar.

Feodo Tracker and URLhaus are read from the real snapshots in the corpus
(skipped when it is not beside the project). No real ThreatFox or
MalwareBazaar export is in the corpus: their tests write small files here, in
the layouts abuse.ch documents (a ``#`` banner, the header as a ``# "a","b"``
comment, then rows of quoted cells with a space after each comma); the
values in them are made up.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import iocmatch
from iocmatch._feeds.detect import detect_format
from iocmatch._feeds.objects import SourceObjects
from iocmatch._feeds.reading import read_file
from iocmatch._patterns.clauses import compile_pattern

from .conftest import CORPUS

FEEDS = CORPUS.parent / "feeds"
FEODO = FEEDS / "abusech-feodotracker" / "ipblocklist.csv"
URLHAUS = FEEDS / "abusech-urlhaus" / "urlhaus.csv"


def _real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"the published abuse.ch snapshot is not beside the project ({path} is missing)")
    return path


def _data_rows(path: Path) -> list[dict[str, str]]:
    """The rows of an export as the csv module reads them: the expected answer,
    worked out here without the library."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return list(csv.DictReader(lines, skipinitialspace=True))


def _problems(report: iocmatch.LoadReport) -> list[tuple[str, str, str]]:
    return [(p.id, p.status, p.reason) for p in report.problems]


# ---------------------------------------------------------------- Feodo Tracker


def test_feodo_snapshot_compiles_one_address_per_row() -> None:
    path = _real(FEODO)
    rows = _data_rows(path)
    loaded = iocmatch.load(path)
    assert len(rows) == 28
    assert (loaded.report.read, loaded.report.compiled) == (len(rows), len(rows)), _problems(loaded.report)
    # Each row's dst_ip is its indicator; the port is context, never in the pattern.
    assert sorted(i.pattern for i in loaded.indicators) == sorted(
        f"[ipv4-addr:value = '{row['dst_ip']}']" for row in rows
    )
    assert loaded.report.kinds == {"ipv4-addr": len({row["dst_ip"] for row in rows})}


def test_feodo_c2_address_in_a_firewall_line_hits_with_family_and_publisher() -> None:
    matcher = iocmatch.compile(iocmatch.load(_real(FEODO)))
    line = (
        "Apr  4 08:12:01 fw01 kernel: [UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:5e:6c:00 "
        "SRC=10.20.1.15 DST=192.9.135.73 LEN=60 TOS=0x00 PROTO=TCP SPT=51514 DPT=1194 SYN"
    )
    hits = matcher.scan_line(line)
    assert [(h.value, h.attribution, h.sources) for h in hits] == [
        ("192.9.135.73", ("Pikabot",), ("abuse.ch Feodo Tracker",))
    ]
    # The port is not asked for: the address alone is the C2, on any port.
    assert len(matcher.scan_line("Apr  4 08:12:02 fw01 SRC=10.20.1.15 DST=192.9.135.73 DPT=443")) == 1
    assert matcher.scan_line("Apr  4 08:12:03 fw01 SRC=10.20.1.15 DST=192.9.135.7 DPT=1194") == []


def test_feodo_row_carries_first_seen_port_and_status() -> None:
    objects = read_file(_real(FEODO)).objects
    first = next(o for o in objects if o.get("type") == "indicator" and "192.9.135.73" in o["pattern"])
    assert first["valid_from"] == first["created"] == "2023-05-23T17:51:44.000Z"
    assert first["modified"] == "2024-04-01T00:00:00.000Z"  # last_online
    assert "port 1194" in first["description"]
    assert "status online" in first["description"]


# ---------------------------------------------------------------------- URLhaus


def test_urlhaus_snapshot_compiles_one_url_per_row() -> None:
    path = _real(URLHAUS)
    rows = _data_rows(path)
    loaded = iocmatch.load(path)
    assert len(rows) == 11_125
    assert (loaded.report.read, loaded.report.compiled) == (len(rows), len(rows)), _problems(loaded.report)[:5]
    assert set(loaded.report.kinds) == {"url"}


@pytest.mark.slow  # compiles 11,125 URLs
def test_urlhaus_url_in_a_squid_line_hits_with_publisher() -> None:
    matcher = iocmatch.compile(iocmatch.load(_real(URLHAUS)))
    line = (
        "1745239000.417    512 10.1.2.3 TCP_MISS/200 5120 GET http://117.209.87.242:60905/bin.sh - "
        "HIER_DIRECT/117.209.87.242 application/octet-stream"
    )
    hits = matcher.scan_line(line)
    assert [(h.kind, h.value, h.sources) for h in hits] == [
        ("url", "http://117.209.87.242:60905/bin.sh", ("abuse.ch URLhaus",))
    ]
    # malware_download is a threat type, not a family: no attribution is made up.
    assert hits[0].attribution == ()


def test_urlhaus_export_with_its_banner_and_commented_header(tmp_path: Path) -> None:
    """The real export as abuse.ch serves it (the corpus copy lost its banner)."""
    path = tmp_path / "csv.txt"
    path.write_text(
        "################################################################\n"
        "# abuse.ch URLhaus Database Dump (CSV)                         #\n"
        "################################################################\n"
        "#\n"
        "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter\n"
        '"1","2025-04-21 12:35:06","http://bad.example/x.sh","online","2025-04-21 12:35:06",'
        '"malware_download","elf,Mozi","https://urlhaus.abuse.ch/url/1/","someone"\n'
        '"2","2025-04-21 12:35:07","http://bad.example/y.sh","offline","","malware_download","",'
        '"https://urlhaus.abuse.ch/url/2/","someone"\n'
        "# END\n"
    )
    source = read_file(path)
    assert (source.problems, len(source.clauses)) == ((), 2)
    first = next(o for o in source.objects if o.get("type") == "indicator")
    assert first["labels"] == ["malware_download", "elf", "Mozi"]
    assert first["external_references"] == [
        {
            "source_name": "abuse.ch URLhaus",
            "url": "https://urlhaus.abuse.ch/url/1/",
            "description": "reported by someone",
        }
    ]


# -------------------------------------------------------------------- ThreatFox

THREATFOX = (
    "################################################################\n"
    "# ThreatFox IOCs: CSV export                                   #\n"
    "################################################################\n"
    "#\n"
    '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias",'
    '"malware_printable","last_seen_utc","confidence_level","is_compromised","reference","tags","anonymous",'
    '"reporter"\n'
    '"2024-03-01 10:00:00", "101", "c2.bad.example", "domain", "botnet_cc", "win.cobalt_strike", '
    '"Agentemis,BEACON,CobaltStrike", "Cobalt Strike", "", "100", "False", "None", "CobaltStrike,c2", "0", '
    '"tester"\n'
    '"2024-03-01 10:00:01", "102", "https://pay.bad.example/gate.php", "url", "payload_delivery", '
    '"win.agent_tesla", "None", "Agent Tesla", "", "75", "False", "https://blog.example/post", "None", "0", '
    '"tester"\n'
    '"2024-03-01 10:00:02", "103", "0123456789abcdef0123456789abcdef", "md5_hash", "payload", "unknown", '
    '"None", "Unknown malware", "", "50", "False", "None", "None", "0", "tester"\n'
    '"2024-03-01 10:00:03", "104", "0123456789abcdef0123456789abcdef01234567", "sha1_hash", "payload", '
    '"win.agent_tesla", "None", "Agent Tesla", "", "50", "False", "None", "None", "0", "tester"\n'
    '"2024-03-01 10:00:04", "105", "' + "ab" * 32 + '", "sha256_hash", "payload", "win.agent_tesla", '
    '"None", "Agent Tesla", "", "50", "False", "None", "None", "0", "tester"\n'
    '"2024-03-01 10:00:05", "106", "203.0.113.9:8443", "ip:port", "botnet_cc", "win.cobalt_strike", '
    '"None", "Cobalt Strike", "", "100", "False", "None", "None", "0", "tester"\n'
    '"2024-03-01 10:00:06", "107", "x@bad.example", "envelope_from", "payload_delivery", "unknown", '
    '"None", "Unknown malware", "", "50", "False", "None", "None", "0", "tester"\n'
    "# Number of entries: 7\n"
)


@pytest.fixture
def threatfox(tmp_path: Path) -> Path:
    path = tmp_path / "threatfox.csv"
    path.write_text(THREATFOX)
    return path


def test_threatfox_is_told_from_a_type_value_csv(threatfox: Path) -> None:
    # Its ioc_type and ioc_value columns would pass for a Type,Value CSV's.
    assert detect_format(threatfox.read_bytes(), "threatfox.csv") == "abusech"


def test_threatfox_rows_compile_and_an_unknown_type_is_skipped_with_its_reason(threatfox: Path) -> None:
    report = iocmatch.load(threatfox).report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (7, 6, 1, 0)
    assert report.kinds == {
        "domain-name": 1,
        "ipv4-addr": 1,
        "md5": 1,
        "port": 1,
        "sha1": 1,
        "sha256": 1,
        "url": 1,
    }
    assert [(p.id, p.reason) for p in report.problems] == [
        (f"{threatfox}:12", "unknown ThreatFox ioc_type 'envelope_from' for 'x@bad.example'")
    ]


def test_threatfox_ip_port_is_the_address_and_the_port_on_one_line(threatfox: Path) -> None:
    [endpoint] = [o for o in read_file(threatfox).objects if o.get("name") == "203.0.113.9:8443"]
    assert endpoint["pattern"] == (
        "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8443]"
    )
    matcher = iocmatch.compile(iocmatch.load(threatfox))
    proxy = "1709287500.123 85 10.1.2.3 TCP_TUNNEL/200 4210 CONNECT 203.0.113.9:8443 - HIER_DIRECT/203.0.113.9 -"
    hits = matcher.scan_line(proxy)
    assert {(h.kind, h.value, h.attribution) for h in hits} == {
        ("ipv4-addr", "203.0.113.9", ("Cobalt Strike",)),
        ("port", "8443", ("Cobalt Strike",)),
    }
    # The same address on another port is another service of a host that may be shared: no hit.
    firewall = "Mar  1 10:05:00 fw01 kernel: [UFW BLOCK] SRC=10.1.2.3 DST=203.0.113.9 PROTO=TCP SPT=51514 DPT=22"
    assert matcher.scan_line(firewall) == []
    # Unless the caller asks for the address alone.
    alone = iocmatch.compile(iocmatch.load(threatfox, ignore_ports=True))
    assert [(h.kind, h.value) for h in alone.scan_line(firewall)] == [("ipv4-addr", "203.0.113.9")]


def test_threatfox_hits_carry_the_family_and_abusech(threatfox: Path) -> None:
    matcher = iocmatch.compile(iocmatch.load(threatfox))
    dns = matcher.scan_line("Mar  1 10:05:00 dnsmasq[812]: query[A] c2.bad.example from 10.1.2.3")
    assert [(h.value, h.attribution, h.sources) for h in dns] == [
        ("c2.bad.example", ("Cobalt Strike",), ("abuse.ch ThreatFox",))
    ]
    unknown = matcher.scan_line("md5=0123456789abcdef0123456789abcdef")
    assert [(h.kind, h.attribution) for h in unknown] == [("md5", ())]  # "Unknown malware" is no family
    objects = read_file(threatfox).objects
    domain = next(o for o in objects if o.get("type") == "indicator" and "c2.bad.example" in o["pattern"])
    assert (domain["labels"], domain["confidence"]) == (["botnet_cc", "CobaltStrike", "c2"], 100)
    family = next(o for o in objects if o.get("type") == "malware" and o["name"] == "Cobalt Strike")
    assert family["aliases"] == ["Agentemis", "BEACON", "CobaltStrike"]


# The rows 101 and 106 of THREATFOX as ThreatFox's JSON export writes them
# (``/export/json/recent/``: each IOC id maps to a list holding its record) ...
THREATFOX_EXPORT = {
    "101": [
        {
            "ioc_value": "c2.bad.example",
            "ioc_type": "domain",
            "threat_type": "botnet_cc",
            "malware": "win.cobalt_strike",
            "malware_alias": "Agentemis,BEACON,CobaltStrike",
            "malware_printable": "Cobalt Strike",
            "first_seen_utc": "2024-03-01 10:00:00",
            "last_seen_utc": None,
            "confidence_level": 100,
            "reference": None,
            "tags": "CobaltStrike,c2",
            "anonymous": "0",
            "reporter": "tester",
        }
    ],
    "106": [
        {
            "ioc_value": "203.0.113.9:8443",
            "ioc_type": "ip:port",
            "threat_type": "botnet_cc",
            "malware": "win.cobalt_strike",
            "malware_alias": None,
            "malware_printable": "Cobalt Strike",
            "first_seen_utc": "2024-03-01 10:00:05",
            "last_seen_utc": None,
            "confidence_level": 100,
            "reference": None,
            "tags": None,
            "anonymous": "0",
            "reporter": "tester",
        }
    ],
}
# ... and as the API answers them (``get_iocs``, ``search_ioc``): other field names, tags as a list.
THREATFOX_API = {
    "query_status": "ok",
    "data": [
        {
            "id": "101",
            "ioc": "c2.bad.example",
            "threat_type": "botnet_cc",
            "threat_type_desc": "Indicator that identifies a botnet command&control server (C&C)",
            "ioc_type": "domain",
            "ioc_type_desc": "Domain that is used for botnet Command&control (C&C)",
            "malware": "win.cobalt_strike",
            "malware_printable": "Cobalt Strike",
            "malware_alias": "Agentemis,BEACON,CobaltStrike",
            "malware_malpedia": "https://malpedia.caad.fkie.fraunhofer.de/details/win.cobalt_strike",
            "confidence_level": 100,
            "first_seen": "2024-03-01 10:00:00 UTC",
            "last_seen": None,
            "reference": None,
            "reporter": "tester",
            "tags": ["CobaltStrike", "c2"],
        },
        {
            "id": "106",
            "ioc": "203.0.113.9:8443",
            "threat_type": "botnet_cc",
            "ioc_type": "ip:port",
            "malware": "win.cobalt_strike",
            "malware_printable": "Cobalt Strike",
            "malware_alias": None,
            "confidence_level": 100,
            "first_seen": "2024-03-01 10:00:05 UTC",
            "last_seen": None,
            "reference": None,
            "reporter": "tester",
            "tags": None,
        },
    ],
}


def _objects_by_id(read: SourceObjects) -> dict[str, dict[str, object]]:
    return {obj["id"]: obj for obj in read.objects}


@pytest.mark.parametrize("document", [THREATFOX_EXPORT, THREATFOX_API], ids=["export", "api"])
def test_threatfox_json_means_what_the_csv_rows_mean(tmp_path: Path, threatfox: Path, document: object) -> None:
    path = tmp_path / "threatfox.json"
    path.write_text(json.dumps(document, indent=4))
    assert detect_format(path.read_bytes(), str(path)) == "abusech"
    read = read_file(path)
    from_csv = _objects_by_id(read_file(threatfox))
    # Same ids, same patterns, dates, labels, confidence, family and publisher as the CSV's rows 101 and 106.
    assert _objects_by_id(read) == {ident: from_csv[ident] for ident in _objects_by_id(read)}
    assert {obj["name"] for obj in read.objects if obj["type"] == "indicator"} == {
        "c2.bad.example",
        "203.0.113.9:8443",
    }
    report = iocmatch.load(path).report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (2, 2, 0, 0)


def test_threatfox_json_records_that_are_no_ioc_are_skipped_by_id(tmp_path: Path) -> None:
    document = {
        **THREATFOX_EXPORT,
        "107": ["not a record"],
        "108": [{**THREATFOX_EXPORT["101"][0], "ioc_value": "c2[.]bad[.]example", "ioc_type": "domain"}],
        "109": [{**THREATFOX_EXPORT["101"][0], "ioc_value": "x@bad.example", "ioc_type": "envelope_from"}],
    }
    path = tmp_path / "full.json"
    path.write_text(json.dumps(document))
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (5, 3, 2, 0)
    assert [(p.id, p.reason) for p in report.problems] == [
        (f"{path}#107", "ThreatFox entry is not a JSON object (a str)"),
        (f"{path}#109", "unknown ThreatFox ioc_type 'envelope_from' for 'x@bad.example'"),
    ]
    # A value published defanged is read refanged, and the report says so.
    assert [w.reason for w in report.warnings] == [
        f"{path}#108: defanged value 'c2[.]bad[.]example' refanged to 'c2.bad.example'"
    ]


def test_abusech_api_answers_without_indicators(tmp_path: Path) -> None:
    empty = tmp_path / "none.json"
    empty.write_text('{"query_status": "no_result", "data": "Your search did not yield any results"}')
    report = iocmatch.load(empty).report
    assert (report.read, report.compiled) == (0, 0)
    refused = tmp_path / "refused.json"
    refused.write_text('{"query_status": "unknown_auth_key"}')
    with pytest.raises(iocmatch.SourceError, match="answered 'unknown_auth_key'"):
        iocmatch.load(refused)
    urlhaus = tmp_path / "urls.json"  # URLhaus's API lists "urls": not read, and said so
    urlhaus.write_text('{"query_status": "ok", "urls": [{"url": "http://bad.example/x"}]}')
    with pytest.raises(iocmatch.SourceError, match="without a 'data' list"):
        iocmatch.load(urlhaus)


def test_json_that_is_not_abusech_is_not_taken_for_it() -> None:
    bundle = {"type": "bundle", "id": "bundle--1", "objects": [{"type": "indicator", "description": "ioc_value"}]}
    assert detect_format(json.dumps(bundle).encode(), "b.json") == "stix2-json"
    event = {"Event": {"info": "query_status", "Attribute": [{"type": "domain", "value": "a.example"}]}}
    assert detect_format(json.dumps(event).encode(), "e.json") == "stix2-json"


# ---------------------------------------------------------------- MalwareBazaar

SHA256 = "b7689b12e1b94e628c8398ec86a6ad5ba564f107c5085464f3d03f408959545b"
MD5 = "46de0f2bd1b6d6b5f2f5b2e4a0c9d7e1"
SHA1 = "cde1c6a3f2b0e4d5a6b7c8d9e0f1a2b3c4d5e6f7"
MALWAREBAZAAR = (
    "################################################################\n"
    "# MalwareBazaar recent malware samples (CSV)                   #\n"
    "################################################################\n"
    "#\n"
    '# "first_seen_utc","sha256_hash","md5_hash","sha1_hash","reporter","file_name","file_type_guess",'
    '"mime_type","signature","clamav","vtpercent","imphash","ssdeep","tlsh"\n'
    f'"2024-03-02 00:42:15", "{SHA256}", "{MD5}", "{SHA1}", "abuse_ch", "invoice.exe", "exe", '
    '"application/x-dosexec", "AgentTesla", "n/a", "n/a", "n/a", "384:x", "T1"\n'
    f'"2024-03-02 00:43:00", "{"cd" * 32}", "{"ef" * 15}", "n/a", "abuse_ch", "i686", "elf", '
    '"application/x-executable", "n/a", "n/a", "n/a", "n/a", "384:y", "T1"\n'
    '"2024-03-02 00:44:00", "n/a", "n/a", "n/a", "abuse_ch", "empty", "elf", "", "n/a", "n/a", "n/a", "n/a", '
    '"", ""\n'
)


def test_malwarebazaar_rows_are_files_hit_by_any_hash(tmp_path: Path) -> None:
    path = tmp_path / "recent.csv"
    path.write_text(MALWAREBAZAAR)
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped) == (3, 2, 1)
    assert report.problems[0].reason == "row has no sha256_hash, md5_hash or sha1_hash"
    # The second row's MD5 is 30 digits: left out, said so, the row kept on its SHA-256.
    assert [w.reason.split(": ", 1)[1][:8] for w in report.warnings] == ["md5_hash"]
    matcher = iocmatch.compile(loaded)
    for line in (f"Hashes=SHA256={SHA256.upper()}", f"md5 {MD5}", f"sha1:{SHA1}"):
        assert [(h.attribution, h.sources) for h in matcher.scan_line(line)] == [
            (("AgentTesla",), ("abuse.ch MalwareBazaar",))
        ], line
    second = matcher.scan_line(f"file {'cd' * 32}")
    assert [(h.kind, h.attribution) for h in second] == [("sha256", ())]  # signature n/a: no family
    first = next(o for o in read_file(path).objects if o.get("type") == "indicator")
    assert first["name"] == "invoice.exe"
    assert first["valid_from"] == "2024-03-02T00:42:15.000Z"


def test_malwarebazaar_api_answer_means_what_the_csv_row_means(tmp_path: Path) -> None:
    answer = {
        "query_status": "ok",
        "data": [
            {
                "sha256_hash": SHA256,
                "sha3_384_hash": "00" * 48,
                "sha1_hash": SHA1,
                "md5_hash": MD5,
                "first_seen": "2024-03-02 00:42:15",
                "last_seen": None,
                "file_name": "invoice.exe",
                "file_size": 1024,
                "file_type_mime": "application/x-dosexec",
                "file_type": "exe",
                "reporter": "abuse_ch",
                "signature": "AgentTesla",
                "tags": ["AgentTesla", "exe"],
            },
            ["not", "a", "sample"],
        ],
    }
    path = tmp_path / "get_recent.json"
    path.write_text(json.dumps(answer))
    csv_path = tmp_path / "recent.csv"
    csv_path.write_text(MALWAREBAZAAR)
    from_csv = _objects_by_id(read_file(csv_path))
    read = read_file(path)
    assert _objects_by_id(read) == {ident: from_csv[ident] for ident in _objects_by_id(read)}
    assert [(p.id, p.reason) for p in read.problems] == [
        (f"{path}#1", "MalwareBazaar entry is not a JSON object (a list)")
    ]
    matcher = iocmatch.compile(iocmatch.load(path))
    assert [(h.attribution, h.sources) for h in matcher.scan_line(f"sha1:{SHA1}")] == [
        (("AgentTesla",), ("abuse.ch MalwareBazaar",))
    ]


# ------------------------------------------------------------- broken rows, dates


def test_a_broken_row_costs_only_itself_and_a_bad_date_keeps_the_row(tmp_path: Path) -> None:
    path = tmp_path / "ipblocklist.csv"
    path.write_text(
        '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n'
        '"2024-01-01 00:00:00","198.51.100.1","443","online","2024-01-02","QakBot"\n'
        '"2024-01-01 00:00:00","198.51.100.2,"443","online","2024-01-02","QakBot"\n'
        '"2024-01-01 00:00:00","198.51.100.999","443","online","2024-01-02","QakBot"\n'
        '"2024-01-01 00:00:00","198.51.100.4","443","online","2024-01-02","QakBot","extra","cells","here"\n'
        '"yesterday","198.51.100.5","443","online","2024-01-02",""\n'
        '"2999-01-01 00:00:00","198.51.100.6","443","online","","QakBot"\n'
    )
    report = iocmatch.load(path).report
    skipped = {p.id.removeprefix(f"{path}:"): p.reason for p in report.problems if p.status == "skipped"}
    excluded = [p.reason for p in report.problems if p.status == "excluded"]
    assert (report.read, report.compiled, report.skipped, report.excluded) == (6, 2, 3, 1), report.problems
    assert skipped["3"].startswith("unreadable CSV row")
    assert skipped["4"] == "dst_ip: '198.51.100.999' is not a valid ipv4-addr address or network"
    assert skipped["5"] == "row has 9 cells, the header 6: an unquoted ',' in some cell"
    # A first_seen in the future is what the feed says: not yet valid, excluded and counted.
    assert excluded == ["not yet valid (valid_from 2999-01-01T00:00:00.000Z)"]
    assert [w.reason for w in report.warnings] == [f"{path}:6: 'yesterday' is no date: read as undated"]


def test_a_value_written_defanged_is_read_refanged_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "ipblocklist.csv"
    path.write_text(
        '"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"\n'
        '"2024-01-01 00:00:00","198.51.100[.]1","443","online","2024-01-02","QakBot"\n'
        '"2024-01-01 00:00:00","198.51.100.2","443","online","2024-01-02","QakBot"\n'
    )
    loaded = iocmatch.load(path)
    assert [w.reason for w in loaded.report.warnings] == [
        f"{path}:2: defanged value '198.51.100[.]1' refanged to '198.51.100.1'"
    ]
    hits = iocmatch.compile(loaded).scan_line("Jan  2 fw01 SRC=10.1.2.3 DST=198.51.100.1 DPT=443")
    assert [(h.value, h.attribution) for h in hits] == [("198.51.100.1", ("QakBot",))]


# ------------------------------- what an indicator matches is what its pattern says


def _assert_clauses_are_what_the_patterns_say(read: SourceObjects) -> None:
    """The loader takes the clauses the reader built, not its patterns: they must agree."""
    indicators = [position for position, obj in enumerate(read.objects) if obj["type"] == "indicator"]
    assert sorted(read.clauses) == indicators
    for position in indicators:
        compiled = compile_pattern(read.objects[position]["pattern"])
        assert (read.clauses[position], compiled.warnings) == (compiled.clauses, ()), read.objects[position]


def test_clauses_built_are_what_the_patterns_say(tmp_path: Path) -> None:
    for name, text in (("threatfox.csv", THREATFOX), ("recent.csv", MALWAREBAZAAR)):
        (tmp_path / name).write_text(text)
        _assert_clauses_are_what_the_patterns_say(read_file(tmp_path / name))
    _assert_clauses_are_what_the_patterns_say(read_file(_real(FEODO)))


@pytest.mark.slow
def test_urlhaus_clauses_built_are_what_the_patterns_say() -> None:
    _assert_clauses_are_what_the_patterns_say(read_file(_real(URLHAUS)))


# --------------------------------------------------------------------- the CLI


@pytest.mark.parametrize("path", [FEODO, pytest.param(URLHAUS, marks=pytest.mark.slow)], ids=["feodo", "urlhaus"])
def test_check_json_accounts_for_every_row(path: Path) -> None:
    rows = len(_data_rows(_real(path)))
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "check", "--json", "-i", str(path)], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    counts = report["by_source"][str(path)]
    assert counts["read"] == rows == counts["compiled"] + counts["skipped"] + counts["excluded"]
    assert counts["compiled"] == rows


@pytest.mark.slow  # two runs of the command
def test_ignore_ports_on_the_command_line(threatfox: Path, tmp_path: Path) -> None:
    log = tmp_path / "fw.log"
    log.write_text("Mar  1 10:05:00 fw01 kernel: [UFW BLOCK] SRC=10.1.2.3 DST=203.0.113.9 PROTO=TCP DPT=22\n")
    command = [sys.executable, "-m", "iocmatch", "scan", "-i", str(threatfox), str(log)]
    as_published = subprocess.run(command, capture_output=True, text=True, check=False)
    assert (as_published.returncode, as_published.stdout) == (1, "")
    alone = subprocess.run([*command, "--ignore-ports"], capture_output=True, text=True, check=False)
    assert alone.returncode == 0, alone.stderr
    assert "ipv4-addr 203.0.113.9" in alone.stdout
    assert "[Cobalt Strike] {abuse.ch ThreatFox}" in alone.stdout


def test_type_value_csv_is_not_taken_for_an_abusech_export() -> None:
    plain = b"Type,Value,Comment\nurl,http://bad.example/dst_ip,malware tags reporter\nip,198.51.100.1,\n"
    assert detect_format(plain, "plain.csv") == "csv"
    commented = b"# first_seen_utc dst_ip dst_port malware\nType,Value\ndomain,bad.example\n"
    assert detect_format(commented, "commented.csv") == "csv"


def test_no_campaign_corpus_csv_is_taken_for_an_abusech_export() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the published campaign corpus is not beside the project ({CORPUS} is missing)")
    for path in sorted(CORPUS.rglob("*.csv")):
        assert detect_format(path.read_bytes(), str(path)) != "abusech", path


def test_a_threatfox_ip_port_that_names_no_address_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "threatfox.csv"
    row = (
        '"2024-03-01 10:00:07", "108", "notanip:443", "ip:port", "botnet_cc", "win.cobalt_strike", '
        '"None", "Cobalt Strike", "", "100", "False", "None", "None", "0", "tester"\n'
    )
    path.write_text(THREATFOX.replace("# Number of entries: 7\n", row + "# Number of entries: 8\n"))
    report = iocmatch.load(path).report
    assert (report.read, report.compiled, report.skipped) == (8, 6, 2)
    assert (f"{path}:13", "ioc_value: 'notanip' of ip:port 'notanip:443' is not an IP address") in [
        (p.id, p.reason) for p in report.problems
    ]
