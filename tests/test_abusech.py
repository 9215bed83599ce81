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


def test_threatfox_domains_urls_hashes_compile_and_ip_port_is_skipped_with_its_reason(threatfox: Path) -> None:
    report = iocmatch.load(threatfox).report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (7, 5, 2, 0)
    assert report.kinds == {"domain-name": 1, "md5": 1, "sha1": 1, "sha256": 1, "url": 1}
    reasons = {p.id.rsplit(":", 1)[1]: p.reason for p in report.problems}
    assert reasons.keys() == {"11", "12"}
    assert "'203.0.113.9:8443'" in reasons["11"]
    assert "port on one line" in reasons["11"]
    assert "no address-and-port comparison" in reasons["11"]
    assert reasons["12"] == "unknown ThreatFox ioc_type 'envelope_from' for 'x@bad.example'"


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
