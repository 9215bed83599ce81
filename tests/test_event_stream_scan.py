"""``iocmatch scan --events`` with patterns that join observations
(``FOLLOWEDBY``, ``AND``, ``REPEATS``, ``WITHIN``): the records of every log
are evaluated in time order, and a hit names every record of its match."""

from __future__ import annotations

import json
import os
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


@pytest.mark.parametrize("reverse", [False, True], ids=["in order", "newest log first"])
def test_a_match_across_rotated_logs_is_found_naming_each_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reverse: bool
) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    first = write_log(tmp_path, [*ZEEK_CONN_HEADER, conn(0.0, "CHh", "203.0.113.9", 8060)], "conn.00.log")
    second = write_log(tmp_path, [*ZEEK_CONN_HEADER, conn(30.0, "CtP", "198.51.100.23", 443, "ssl")], "conn.01.log")
    logs = [str(second), str(first)] if reverse else [str(first), str(second)]
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", *logs)
    assert status == 0
    (hit,) = records
    # On the line of the record that completed the match, in its own log.
    assert (hit["file"], hit["line"]) == (str(second), FIRST_ROW)
    assert hit["events"] == [
        {"file": str(first), "line": FIRST_ROW, "time": at(0.0)},
        {"file": str(second), "line": FIRST_ROW, "time": at(30.0)},
    ]
    # The text format names the other log's record by file.
    assert cli.main(["scan", "-i", str(feed), "--events", "auto", *logs]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.endswith(f" events {first}:{FIRST_ROW}@{at(0.0)},{FIRST_ROW}@{at(30.0)}")


def sysmon_start(seconds: float, image: str, line: int) -> str:
    """A Sysmon process creation as Winlogbeat ships it, ``seconds`` after START."""
    moment = datetime.fromtimestamp(START + seconds, timezone.utc)
    event = {
        "@timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "event": {"code": "1", "kind": "event", "category": ["process"], "module": "sysmon"},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "provider_name": "Microsoft-Windows-Sysmon",
            "event_data": {
                "UtcTime": moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                "ProcessId": str(4000 + line),
                "Image": image,
                "CommandLine": f'"{image}" shell32.dll,Control_RunDLL',
                "User": "CORP\\alice",
            },
        },
    }
    return json.dumps(event)


RUNDLL_THEN_BEACON = (
    "([process:name = 'rundll32.exe'] FOLLOWEDBY "
    "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]) WITHIN 120 SECONDS"
)


def test_a_process_on_the_endpoint_then_its_beacon_on_the_network_log_is_one_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two sources, two schemas: Sysmon through Winlogbeat and a Zeek conn.log, merged by time."""
    feed = write_feed(tmp_path, RUNDLL_THEN_BEACON)
    sysmon = write_log(
        tmp_path,
        [
            sysmon_start(-300.0, "C:\\Windows\\System32\\rundll32.exe", 1),  # too early for the beacon
            sysmon_start(-20.0, "C:\\Windows\\System32\\notepad.exe", 2),
            sysmon_start(-15.0, "C:\\Windows\\System32\\rundll32.exe", 3),
        ],
        "sysmon.json",
    )
    zeek = write_log(tmp_path, [*ZEEK_CONN_HEADER, conn(0.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060)], "conn.log")
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(zeek), str(sysmon))
    assert status == 0
    (hit,) = records
    assert [(event["file"], event["line"]) for event in hit["events"]] == [(str(sysmon), 3), (str(zeek), FIRST_ROW)]
    # Without the endpoint's log, the beacon alone is no match.
    status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(zeek))
    assert (status, records) == (1, [])


OUT_OF_ORDER = [
    conn(10.0, "CsTs0lU2S6uLnH9Qa", "198.51.100.23", 443, "ssl"),
    conn(5.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060),  # written after a later connection, as Zeek does
    conn(30.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl"),
]


def test_records_written_out_of_order_in_a_file_are_put_in_time_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *OUT_OF_ORDER], "conn.log")
    status, records, err = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", str(log))
    assert status == 0
    (hit,) = records
    assert [event["line"] for event in hit["events"]] == [FIRST_ROW + 1, FIRST_ROW]  # beacon at 5 s, https at 10 s
    assert "did not evaluate" not in err


def test_a_record_later_than_the_lateness_is_counted_and_the_scan_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    rows = [
        conn(10.0, "CsTs0lU2S6uLnH9Qa", "198.51.100.23", 443, "ssl"),
        conn(20.0, "C7fIlMZDuRiqjpYbb", "198.51.100.23", 443, "ssl"),
        conn(5.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060),  # 15 s behind the newest
        conn(30.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl"),
    ]
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *rows], "conn.log")
    argv = ["-i", str(feed), "--events", "auto", "--format", "jsonl", str(log)]
    # Evaluated as they come, waiting 2 s: the connection at 10 s is evaluated when the one at 20 s comes,
    # so the beacon, behind it, is not evaluated, and the scan says so.
    status, records, err = scan(capsys, *argv, "--lateness", "2")
    assert (status, records) == (2, [])
    assert "did not evaluate 1 records that arrived more than the lateness" in err
    # Waiting 20 s is enough.
    status, records, err = scan(capsys, *argv, "--lateness", "20")
    assert (status, len(records)) == (0, 1)
    assert [event["line"] for event in records[0]["events"]] == [FIRST_ROW + 2, FIRST_ROW]
    assert "did not evaluate" not in err


def test_stdin_from_a_pipe_waits_a_minute_for_records_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = write_feed(tmp_path, BEACON_THEN_HTTPS)
    later = conn(100.0, "C7fIlMZDuRiqjpYbb", "198.51.100.23", 443, "ssl")
    late = conn(75.0, "C0k1qSa9ZT1F2eE2Gb", "198.51.100.23", 443, "ssl")
    # The beacon is 5 s behind the connection before it: waited for. The last connection comes after the one
    # at 100 s was evaluated (a minute behind the one at 170 s): not evaluated, and the scan says so.
    rows = [*OUT_OF_ORDER, later, conn(170.0, "CbjJ1bNHhtGMjz1Yf", "10.20.0.2", 53, "dns"), late]
    reading, writing = os.pipe()
    os.write(writing, ("\n".join([*ZEEK_CONN_HEADER, *rows]) + "\n").encode())
    os.close(writing)
    with os.fdopen(reading, "rb") as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        status, records, err = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", "-")
    assert status == 2
    (hit,) = records
    assert [(event["file"], event["line"]) for event in hit["events"]] == [("-", FIRST_ROW + 1), ("-", FIRST_ROW)]
    assert "did not evaluate 1 records that arrived more than the lateness" in err


def test_a_log_named_twice_is_read_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One lookup named twice (by another path, or as stdin redirected from it) is no repetition."""
    feed = write_feed(tmp_path, "[domain-name:value = 'update.badcdn.example'] REPEATS 2 TIMES WITHIN 10 SECONDS")
    log = write_log(tmp_path, [eve_dns(0.0, "update.badcdn.example", 1)], "eve.json")
    argv = ["-i", str(feed), "--events", "auto", "--format", "jsonl"]
    status, records, err = scan(capsys, *argv, str(log), str(tmp_path / "." / "eve.json"))
    assert (status, records) == (1, [])
    assert f"{tmp_path / '.' / 'eve.json'} is {log}, read once with --events" in err
    with log.open("rb") as stdin:
        monkeypatch.setattr("sys.stdin", stdin)
        status, records, err = scan(capsys, *argv, str(log), "-")
    assert (status, records) == (1, [])
    assert f"- is {log}, read once with --events" in err
    second = write_log(tmp_path, [eve_dns(4.0, "update.badcdn.example", 2)], "eve.1.json")
    status, records, _ = scan(capsys, *argv, str(log), str(second))
    assert (status, len(records)) == (0, 1)


def test_records_of_one_time_in_several_logs_give_the_same_hits_whatever_the_order_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = write_feed(tmp_path, "[domain-name:value = 'update.badcdn.example'] REPEATS 2 TIMES")
    logs = [
        str(write_log(tmp_path, [eve_dns(float(n), "update.badcdn.example", n) for n in range(3)], f"eve.{name}.json"))
        for name in "abc"
    ]
    found = []
    for order in (logs, logs[::-1], [logs[1], logs[2], logs[0]]):
        status, records, _ = scan(capsys, "-i", str(feed), "--events", "auto", "--format", "jsonl", *order)
        assert status == 0
        found.append(sorted((r["file"], r["line"], [(e["file"], e["line"]) for e in r["events"]]) for r in records))
    assert found[0] == found[1] == found[2]
    assert len(found[0]) == 4  # nine lookups at three times: four pairs, each record in one


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
