"""``iocmatch scan --events``: lines that are records of a known schema are
judged on their fields with STIX semantics for the indicators their schema
maps; other indicators, and lines that are no record, as text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iocmatch._cli import command as cli
from iocmatch._matcher.records import PatternIndicator, RecordScanner
from tests.conftest import bundle, indicator, matcher_for
from tests.test_event_fields import CEF_FIREWALL, ZEEK_CONN_HEADER, ZEEK_CONN_LINE
from tests.test_event_fields import EVE_HTTP as EVE_EVENT
from tests.test_event_fields import SYSMON as SYSMON_EVENT

SYSMON: dict[str, Any] = SYSMON_EVENT
EVE_HTTP: dict[str, Any] = EVE_EVENT

C2 = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]"
GATE = "[network-traffic:extensions.'http-request-ext'.request_method = 'POST' AND url:value LIKE '%/gate.php%']"
GATE_REQUEST = (
    "[network-traffic:extensions.'http-request-ext'.request_method = 'POST'"
    " AND network-traffic:extensions.'http-request-ext'.request_value LIKE '/gate.php%']"
)
ENCODED = "[process:command_line LIKE '%-enc %']"
NOT_HTTP = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port != 80]"
DOMAIN = "[domain-name:value = 'evil.example']"
# Joins observations, one of which no Zeek conn record can make hold: named on stderr, not run.
FOLLOWED = "[ipv4-addr:value = '203.0.113.9'] FOLLOWEDBY [process:name = 'rundll32.exe']"

# Another connection to the same address: 8060 is its source port, not its destination port.
ZEEK_OTHER_PORT = ZEEK_CONN_LINE.replace("\t49732\t203.0.113.9\t8060\t", "\t8060\t203.0.113.9\t443\t")
PLAIN = "May 31 16:20:11 mail01 postfix/smtp[812]: to=<bob@corp.example>, relay=evil.example[192.0.2.7]:25"


def ident(number: int) -> str:
    return str(indicator("", number)["id"])


def write_feed(tmp_path: Path, *patterns: str) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(bundle(*(indicator(pattern, n) for n, pattern in enumerate(patterns, 1)))))
    return path


def write_log(tmp_path: Path, lines: list[str], name: str = "events.log") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def scan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = cli.main(["scan", *argv])
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    return status, [json.loads(line) for line in out if line.startswith("{")], captured.err


def test_address_and_port_hit_the_connection_they_name_not_another_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, C2)
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_CONN_LINE, ZEEK_OTHER_PORT], "conn.log")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    assert [(r["line"], r["kind"], r["field"], r["text"], r["indicators"]) for r in records] == [
        (len(ZEEK_CONN_HEADER) + 1, "fields", "id.resp_h,id.resp_p", "203.0.113.9,8060", [ident(1)])
    ]
    assert records[0]["value"] == C2
    # As text, both lines hold the address and 8060: the text scan cannot tell them apart.
    status, text_records, _ = scan(capsys, "-i", str(feed), "--format", "jsonl", str(log))
    assert status == 0
    assert sorted({r["line"] for r in text_records}) == [len(ZEEK_CONN_HEADER) + 1, len(ZEEK_CONN_HEADER) + 2]


def test_cef_firewall_and_a_not_equal_port_pattern_text_could_not_compile(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, C2, NOT_HTTP)
    log = write_log(tmp_path, [CEF_FIREWALL, CEF_FIREWALL.replace("dpt=8060", "dpt=80")])
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "cef", "--format", "jsonl", str(log))
    assert status == 0
    assert sorted((r["line"], r["indicators"][0], r["field"]) for r in records) == [
        (1, ident(1), "dst,dpt"),
        (1, ident(2), "dst,dpt"),
    ]


def test_request_method_and_path_on_suricata_eve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, GATE_REQUEST)
    get = {**EVE_HTTP, "http": {**EVE_HTTP["http"], "http_method": "GET"}}
    log = write_log(tmp_path, [json.dumps(EVE_HTTP), json.dumps(get)])
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    assert [(r["line"], r["field"], r["text"]) for r in records] == [
        (1, "http.http_method,http.url", "POST,/gate.php?id=7f3a")
    ]


def test_command_line_like_on_sysmon_and_text_for_a_plain_line_of_the_same_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, ENCODED, DOMAIN)
    quiet = {**SYSMON, "process": {**SYSMON["process"], "command_line": "powershell.exe -nop"}}
    quiet["winlog"] = {**SYSMON["winlog"], "event_data": {**SYSMON["winlog"]["event_data"], "CommandLine": "x"}}
    log = write_log(tmp_path, [json.dumps(SYSMON), json.dumps(quiet), PLAIN])
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    found = [(r["line"], r["kind"], r.get("field"), r["text"]) for r in records]
    assert found[0][:2] == (1, "fields")
    assert "-enc SQBFAFgAIAAoAE4AZQB3AC0A" in found[0][3]
    assert found[1:] == [(3, "domain-name", None, "evil.example")]
    assert PLAIN[records[1]["start"] : records[1]["end"]] == "evil.example"


def test_ecs_output_names_the_records_field_and_the_patterns_object_type(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, ENCODED)
    log = write_log(tmp_path, [json.dumps(SYSMON)])
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "sysmon", "--format", "ecs", str(log))
    assert status == 0
    (enrichment,) = records[0]["threat"]["enrichments"]
    assert enrichment["indicator"]["type"] == "process"
    assert enrichment["indicator"]["id"] == ident(1)
    # Sysmon's field and ECS's hold the same command line: shown once, by the first.
    assert enrichment["matched"]["field"] == "winlog.event_data.CommandLine"
    assert enrichment["matched"]["atomic"] == SYSMON["process"]["command_line"]


def test_an_indicator_is_reported_once_a_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The address is a text hit too; on a conn record the schema maps it, so fields alone judge it.
    feed = write_feed(tmp_path, "[ipv4-addr:value = '203.0.113.9']")
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_CONN_LINE], "conn.log")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    assert [(r["kind"], r["field"]) for r in records] == [("fields", "id.resp_h")]


def test_exit_status_nothing_and_problems_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, C2, FOLLOWED)
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_OTHER_PORT], "conn.log")
    status, records, err = scan(capsys, "-i", str(feed), "--events", "zeek-conn", "--format", "jsonl", str(log))
    assert (status, records) == (1, [])
    assert "patterns not compiled for records" in err
    assert ident(2) in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--events", "zeek-konn"],
        ["--events", "missing-mapping.json"],
        ["--events", "auto", "--json"],
        ["--lateness", "5"],
        ["--events", "auto", "--lateness", "-1"],
    ],
)
def test_events_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    feed = write_feed(tmp_path, C2)
    log = write_log(tmp_path, [ZEEK_CONN_LINE])
    with pytest.raises(SystemExit) as stopped:
        cli.main(["scan", "-i", str(feed), *argv, str(log)])
    assert stopped.value.code == 2
    assert ("--lateness" if "--lateness" in argv else "--events") in capsys.readouterr().err


def test_a_users_mapping_file_reads_its_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mapping = tmp_path / "acme.json"
    mapping.write_text(
        json.dumps(
            {
                "schema": "acme-fw",
                "fields": [
                    {"field": "target", "property": "network-traffic:dst_ref.value", "type": "address"},
                    {"field": "tport", "property": "network-traffic:dst_port", "type": "integer"},
                ],
            }
        )
    )
    feed = write_feed(tmp_path, C2)
    lines = [json.dumps({"target": "203.0.113.9", "tport": port, "sport": 8060}) for port in (8060, 443)]
    log = write_log(tmp_path, lines)
    status, records, _ = scan(capsys, "-i", str(feed), "--events", str(mapping), "--format", "jsonl", str(log))
    assert status == 0
    assert [(r["line"], r["field"]) for r in records] == [(1, "target,tport")]


def test_record_scanner_keeps_text_for_indicators_the_schema_does_not_map() -> None:
    address, mutex = "[ipv4-addr:value = '203.0.113.9']", "[mutex:name = 'Global\\\\QAZ-7731']"
    scanner = RecordScanner(
        matcher_for(address, mutex), [PatternIndicator(ident(1), address), PatternIndicator(ident(2), mutex)]
    )
    record = {"_path": "conn", "ts": 1717171717.1, "id.orig_h": "10.0.0.5", "id.resp_h": "203.0.113.9"}
    record["note"] = "opened Global\\QAZ-7731"
    found, scanned = scanner.scan(json.dumps(record).encode(), 1)
    assert scanned
    assert sorted((f.match.kind, f.match.indicators, f.field) for f in found) == [
        ("fields", (ident(1),), "id.resp_h"),
        ("mutex", (ident(2),), None),
    ]
    plain, _ = scanner.scan(b"deny 203.0.113.9", 2)
    assert [(f.match.kind, f.match.indicators) for f in plain] == [("ipv4-addr", (ident(1),))]


def test_a_zeek_header_holds_for_its_own_file_only(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, C2)
    conn = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_CONN_LINE], "conn.log")
    # The same columns without a header: no record of a known schema, so text finds address and port.
    bare = write_log(tmp_path, [ZEEK_OTHER_PORT], "bare.tsv")
    status = cli.main(["scan", "-i", str(feed), "--events", "auto", str(conn), str(bare)])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0].startswith(f"{conn}:{len(ZEEK_CONN_HEADER) + 1}:id.resp_h,id.resp_p:0-16: fields [network-traffic")
    assert '"203.0.113.9,8060"' in out[0]
    assert len(out) > 1
    assert [line.split(":")[0] for line in out[1:]] == [str(bare)] * (len(out) - 1)
    assert "fields" not in " ".join(out[1:])


def test_a_text_hit_left_to_other_indicators_carries_only_their_attribution() -> None:
    """On a conn record the address indicator is judged by fields; the other
    indicator's text hit on the same address stays, attributed to its own group only."""
    patterns = ["[ipv4-addr:value = '203.0.113.9']", "[ipv4-addr:value = '203.0.113.9'] OR [mutex:name = 'x']"]
    text = matcher_for(*patterns)
    first, second = (indicator(pattern, number)["id"] for number, pattern in enumerate(patterns, 1))
    scanner = RecordScanner(
        text,
        [
            PatternIndicator(first, patterns[0], ("Group A",), ("feed A",)),
            PatternIndicator(second, patterns[1], ("Group B",)),
        ],
    )
    [hit] = text.scan_line(ZEEK_CONN_LINE)
    assert set(hit.indicators) == {first, second}
    left = scanner.text_hit_without(hit, frozenset({first}))
    assert left is not None
    assert (left.indicators, left.attribution, left.sources) == ((second,), ("Group B",), ())


def test_stderr_says_text_skipped_what_records_judge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Text cannot compile a pattern joining observations; records can: stderr
    says the skip is text's, and how many patterns records judge."""
    joined = (
        "([network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]"
        " FOLLOWEDBY [ipv4-addr:value = '198.51.100.23']) WITHIN 60 SECONDS"
    )
    feed = write_feed(tmp_path, C2, joined)
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_CONN_LINE], "conn.log")
    status, _, err = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    assert f"iocmatch: as text: 1 skipped, 0 excluded, 0 warnings: {ident(2)}: WITHIN is not supported" in err
    assert "iocmatch: --events: 2 patterns compiled for records" in err


def test_strict_with_events_refuses_only_what_neither_text_nor_records_judge(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_CONN_LINE], "conn.log")
    # dst_port != 80 compiles for no text, but records judge it: not a problem with --events.
    feed = write_feed(tmp_path, NOT_HTTP)
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--strict", "--format", "jsonl", str(log))
    assert (status, [r["indicators"] for r in records]) == (0, [[ident(1)]])
    status, records, err = scan(capsys, "-i", str(feed), "--strict", "--format", "jsonl", str(log))
    assert (status, records) == (2, [])
    assert "--strict: 1 problems" in err
    # A pattern no Zeek conn record can make hold is one, named.
    feed = write_feed(tmp_path, C2, FOLLOWED)
    argv = ["-i", str(feed), "--events", "zeek-conn", "--strict", "--format", "jsonl", str(log)]
    status, records, err = scan(capsys, *argv)
    assert (status, records) == (2, [])
    assert f"--strict: 1 problems in the indicators: {ident(2)}" in err


def test_a_pattern_nothing_can_judge_is_named_and_refused_by_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Text skips ``!=``; no mapping gives software:name: neither judges it, and stderr says so."""
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, ZEEK_CONN_LINE], "conn.log")
    feed = write_feed(tmp_path, C2, "[software:name != 'x']")
    argv = ["-i", str(feed), "--events", "auto", "--format", "jsonl", str(log)]
    status, records, err = scan(capsys, *argv)
    assert (status, [r["indicators"] for r in records]) == (0, [[ident(1)]])
    assert "--events: 1 patterns compiled for records" in err
    (named,) = [line for line in err.splitlines() if "patterns not compiled for records" in line]
    assert f"{ident(2)}: no mapping gives software:name" in named
    status, records, err = scan(capsys, *argv, "--strict")
    assert (status, records) == (2, [])
    assert f"--strict: 1 problems in the indicators: {ident(2)}: no mapping gives software:name" in err
