"""``iocmatch scan --events`` with patterns that join observations
(``FOLLOWEDBY``, ``AND``, ``REPEATS``, ``WITHIN``): each log's records are
evaluated in time order, and a hit names every record of its match."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from iocmatch._cli import command as cli
from tests.test_event_fields import ZEEK_CONN_HEADER
from tests.test_event_scan import ident, scan, write_feed, write_log

BEACON = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]"
HTTPS = "[network-traffic:dst_ref.value = '198.51.100.23' AND network-traffic:dst_port = 443]"
BEACON_THEN_HTTPS = f"({BEACON} FOLLOWEDBY {HTTPS}) WITHIN 60 SECONDS"
LOOKUPS = "[domain-name:value = 'update.badcdn.example'] REPEATS 3 TIMES WITHIN 10 SECONDS"
START = 1717171717  # 2024-05-31T16:08:37Z
FIRST_ROW = len(ZEEK_CONN_HEADER) + 1


def conn(seconds: float, uid: str, resp_h: str, resp_p: int, service: str = "-") -> str:
    """A Zeek conn.log row of a connection from 10.20.1.15 starting ``seconds`` after START."""
    return (
        f"{START + seconds:.6f}\t{uid}\t10.20.1.15\t{49700 + int(seconds) % 100}\t{resp_h}\t{resp_p}\ttcp\t{service}"
        "\t3.004\t517\t1430\tSF\tT\tF\t0\tShADadFf\t8\t849\t6\t1750\t(empty)"
    )


def at(seconds: float) -> str:
    """The output's time for ``seconds`` after START."""
    moment = datetime.fromtimestamp(START + seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def beacon_log(tmp_path: Path, https_after: float, name: str = "conn.log") -> Path:
    return write_log(
        tmp_path,
        [
            *ZEEK_CONN_HEADER,
            conn(0.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060),
            conn(4.5, "C4J4Th3PJpwUYZZ6gc", "10.20.0.2", 53, "dns"),
            conn(https_after, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl"),
        ],
        name,
    )


def eve_dns(seconds: float, name: str, flow: int) -> str:
    event = {
        "timestamp": datetime.fromtimestamp(START + seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+0000"),
        "flow_id": 1183409132746000 + flow,
        "in_iface": "eth0",
        "event_type": "dns",
        "src_ip": "10.20.1.15",
        "src_port": 53000 + flow,
        "dest_ip": "10.20.0.2",
        "dest_port": 53,
        "proto": "UDP",
        "dns": {"type": "query", "id": 4000 + flow, "rrname": name, "rrtype": "A", "tx_id": 0},
    }
    return json.dumps(event)


def test_a_beacon_followed_within_a_minute_by_https_hits_naming_both_connections(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    log = beacon_log(tmp_path, https_after=30.25)
    status, records, err = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    assert "not compiled for records" not in err
    assert len(records) == 1
    hit = records[0]
    # Handed over on the line of its last record, naming every record of the match.
    assert (hit["line"], hit["kind"], hit["value"], hit["indicators"]) == (
        FIRST_ROW + 2,
        "fields",
        BEACON_THEN_HTTPS,
        [ident(1)],
    )
    assert hit["events"] == [
        {"file": str(log), "line": FIRST_ROW, "time": at(0.0)},
        {"file": str(log), "line": FIRST_ROW + 2, "time": at(30.25)},
    ]
    status = scan(capsys, "-i", str(feed), "--events", "auto", str(log))[0]
    assert status == 0


def test_the_text_format_lists_the_events_of_the_hit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    log = beacon_log(tmp_path, https_after=30.25)
    assert cli.main(["scan", "-i", str(feed), "--events", "auto", str(log)]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{log}:{FIRST_ROW + 2}:0-0: fields {BEACON_THEN_HTTPS}")
    assert line.endswith(f" events {FIRST_ROW}@{at(0.0)},{FIRST_ROW + 2}@{at(30.25)}")


BEACON_ROW = conn(0.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060)


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param([BEACON_ROW, conn(61.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl")], id="61 s later"),
        pytest.param(
            [conn(-2.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl"), BEACON_ROW], id="https before the beacon"
        ),
    ],
)
def test_no_hit_too_late_or_in_the_wrong_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], rows: list[str]
) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *rows], "conn.log")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert (status, records) == (1, [])


def test_repeated_dns_queries_in_an_eve_log_hit_once_three_came_within_ten_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, LOOKUPS)
    lines = [
        eve_dns(0.0, "update.badcdn.example", 1),
        eve_dns(1.0, "www.corp.example", 2),
        eve_dns(12.0, "update.badcdn.example", 3),  # 12 s after the first: the first can no longer count
        eve_dns(15.5, "update.badcdn.example", 4),
        eve_dns(16.0, "time.windows.com", 5),
        eve_dns(20.0, "update.badcdn.example", 6),  # the third within 10 s of line 3
    ]
    log = write_log(tmp_path, lines, "eve.json")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    assert [(r["line"], [(e["line"], e["time"]) for e in r["events"]]) for r in records] == [
        (6, [(3, at(12.0)), (4, at(15.5)), (6, at(20.0))])
    ]
    # Two queries within ten seconds are not three.
    log = write_log(tmp_path, lines[:5], "eve.json")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert (status, records) == (1, [])


def test_ecs_names_every_event_of_the_hit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    log = beacon_log(tmp_path, https_after=30.25)
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "ecs", str(log))
    assert status == 0
    (record,) = records
    assert (record["@timestamp"], record["event"]["sequence"]) == (at(30.25), FIRST_ROW + 2)
    assert "198.51.100.23\t443" in record["message"]
    (enrichment,) = record["threat"]["enrichments"]
    assert enrichment["indicator"]["type"] == "network-traffic"
    matched: dict[str, Any] = enrichment["matched"]
    assert (matched["id"], matched["occurred"]) == (ident(1), at(30.25))
    assert matched["events"] == [
        {"@timestamp": at(0.0), "event": {"sequence": FIRST_ROW}, "log": {"file": {"path": str(log)}}},
        {"@timestamp": at(30.25), "event": {"sequence": FIRST_ROW + 2}, "log": {"file": {"path": str(log)}}},
    ]


def test_sightings_count_every_event_of_the_matches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, LOOKUPS)
    lines = [
        eve_dns(seconds, "update.badcdn.example", n) for n, seconds in enumerate((0.0, 2.0, 4.0, 20.0, 21.0, 22.5))
    ]
    log = write_log(tmp_path, lines, "eve.json")
    assert cli.main(["scan", "-i", str(feed), "--events", "auto", "--format", "sightings", str(log)]) == 0
    bundle = json.loads(capsys.readouterr().out)
    (sighting,) = [obj for obj in bundle["objects"] if obj["type"] == "sighting"]
    assert sighting["sighting_of_ref"] == ident(1)
    assert (sighting["count"], sighting["first_seen"], sighting["last_seen"]) == (6, at(0.0), at(22.5))


def test_a_match_across_two_logs_is_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    first = write_log(tmp_path, [*ZEEK_CONN_HEADER, conn(0.0, "CHh", "203.0.113.9", 8060)], "conn.00.log")
    second = write_log(tmp_path, [*ZEEK_CONN_HEADER, conn(30.0, "CtP", "198.51.100.23", 443, "ssl")], "conn.01.log")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(first), str(second))
    assert (status, records) == (1, [])


def test_stats_count_records_out_of_time_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    rows = [
        conn(10.0, "CsTs0lU2S6uLnH9Qa", "198.51.100.23", 443, "ssl"),
        conn(5.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060),  # logged after a later connection: late
        conn(30.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl"),
    ]
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *rows], "conn.log")
    status, records, err = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", "--stats", str(log))
    assert (status, records) == (1, [])
    assert "patterns with observation operators: 1 records late" in err
    # In time order, nothing is late and nothing is said.
    log = beacon_log(tmp_path, https_after=30.0)
    status, records, err = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", "--stats", str(log))
    assert (status, len(records)) == (0, 1)
    assert "observation operators" not in err


def test_a_pattern_no_record_of_the_schema_can_hold_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    never = "[process:name = 'rundll32.exe'] FOLLOWEDBY [network-traffic:dst_port = 443]"
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS, never)
    log = beacon_log(tmp_path, https_after=30.0)
    status, records, err = scan(capsys, "-i", str(feed), "--events", "zeek-conn", "--format", "jsonl", str(log))
    assert (status, [r["indicators"] for r in records]) == (0, [[ident(1)]])
    (named,) = [line for line in err.splitlines() if "patterns not compiled for records" in line]
    assert ident(2) in named
    assert ident(1) not in named


def test_a_hit_with_an_unreadable_log_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    log = beacon_log(tmp_path, https_after=30.0)
    missing = tmp_path / "conn.02.log"
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log), str(missing))
    assert (status, len(records)) == (2, 1)
