"""Records in time order and at their own time: ``TimeOrder`` puts any
number of records back in order in bounded memory, ``scan --events
--at-event-time`` judges each record with the indicators valid at its time,
and a hit of several records carries the line that completed it."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from iocmatch._cli import command as cli
from iocmatch._events.ordering import TimeOrder
from tests.conftest import bundle, indicator
from tests.test_event_fields import ZEEK_CONN_HEADER
from tests.test_event_scan import C2, NOT_HTTP, ident, scan, write_log
from tests.test_event_stream_scan import BEACON_THEN_HTTPS, FIRST_ROW, START, at, conn


def test_time_order_gives_every_item_back_sorted_through_runs_on_disk() -> None:
    rng = random.Random(7)
    items = [(rng.randrange(1_000), index, f"line {index}") for index in range(2_500)]
    order = TimeOrder(in_memory=100)
    for item in items:
        order.push(item, size=len(item[2]))
    assert order.spilled >= 2_400  # most went to disk, a run of 100 at a time
    assert len(order) == 2_500
    assert list(order.drain()) == sorted(items)
    assert len(order) == 0
    assert list(order.drain()) == []


def test_time_order_spills_on_bytes_as_well_as_on_count() -> None:
    order = TimeOrder(in_memory=1_000, in_memory_bytes=1_000)
    for index in range(10):
        order.push((10 - index, index, "x" * 400), size=400)
    assert order.spilled >= 6  # three items of 400 bytes pass the 1,000 bytes: a run each time
    assert [item[0] for item in order.drain()] == list(range(1, 11))


def test_time_order_holds_one_file_open_however_many_runs() -> None:
    """Thousands of runs must not run out of file descriptors (a process has about a thousand)."""
    descriptors = Path("/proc/self/fd")
    if not descriptors.is_dir():
        pytest.skip("counting open files needs /proc")
    before = len(list(descriptors.iterdir()))
    order = TimeOrder(in_memory=2)
    for index in range(6_000):
        order.push((6_000 - index, index))
    drained = order.drain()
    first = next(drained)
    assert len(list(descriptors.iterdir())) <= before + 1  # 3,000 runs, one file
    assert [first, *drained] == [(n, 6_000 - n) for n in range(1, 6_001)]
    assert len(list(descriptors.iterdir())) == before


def _feed(tmp_path: Path, *objects: dict[str, object]) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(bundle(*objects)))
    return path


def _seconds(text: str) -> float:
    """Seconds after START of an ISO time."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() - START


JUNE = {"valid_from": "2024-06-01T00:00:00Z", "valid_until": "2024-07-01T00:00:00Z"}


@pytest.mark.parametrize("pattern", [C2, NOT_HTTP], ids=["compiled for text too", "records only"])
def test_at_event_time_a_record_hits_only_inside_the_indicators_validity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pattern: str
) -> None:
    feed = _feed(tmp_path, indicator(pattern, 1, **JUNE))
    rows = [
        conn(_seconds("2024-05-31T23:59:59Z"), "CaBQ3k1bQGdHLrxTV2", "203.0.113.9", 8060),  # the day before
        conn(_seconds("2024-06-12T08:00:00Z"), "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060),
        conn(_seconds("2024-07-01T00:00:00Z"), "CtPZjS20MLrsMUOJi2", "203.0.113.9", 8060),  # at valid_until: out
    ]
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *rows], "conn.log")
    argv = ["-i", str(feed), "--events", "auto", "--format", "jsonl", "--as-of", "2024-06-15T00:00:00Z", str(log)]
    status, records, _ = scan(capsys, *argv, "--at-event-time")
    assert status == 0
    assert [(r["line"], r["kind"], r["indicators"]) for r in records] == [(FIRST_ROW + 1, "fields", [ident(1)])]
    # Judged once, at --as-of, every connection hits.
    status, records, _ = scan(capsys, *argv)
    assert (status, [r["line"] for r in records]) == (0, [FIRST_ROW, FIRST_ROW + 1, FIRST_ROW + 2])


def test_at_event_time_a_match_of_several_records_lies_inside_the_validity(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        conn(0.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060),
        conn(30.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl"),
    ]
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *rows], "conn.log")

    def hits(valid_until_seconds: float) -> list[int]:
        until = datetime.fromtimestamp(START + valid_until_seconds, timezone.utc).isoformat().replace("+00:00", "Z")
        feed = _feed(tmp_path, indicator(BEACON_THEN_HTTPS, 1, valid_until=until))
        argv = ["-i", str(feed), "--events", "auto", "--format", "jsonl", "--at-event-time", str(log)]
        status, records, _ = scan(capsys, *argv)
        assert status == (0 if records else 1)
        return [r["line"] for r in records]

    assert hits(60.0) == [FIRST_ROW + 1]
    assert hits(20.0) == []  # the https connection came after the indicator expired


def test_an_ecs_record_of_several_records_carries_the_line_that_completed_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _feed(tmp_path, indicator(BEACON_THEN_HTTPS, 1))
    last = conn(30.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443, "ssl")
    first = write_log(tmp_path, [*ZEEK_CONN_HEADER, conn(0.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060)], "a.log")
    second = write_log(tmp_path, [*ZEEK_CONN_HEADER, last], "b.log")
    status = cli.main(["scan", "-i", str(feed), "--events", "auto", "--format", "ecs", str(first), str(second)])
    assert status == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (record["log"]["file"]["path"], record["event"]["sequence"]) == (str(second), FIRST_ROW)
    assert record["event"]["original"] == last
    assert record["@timestamp"] == at(30.0)
    offset = len("\n".join(ZEEK_CONN_HEADER)) + 1
    assert record["log"]["offset"] == offset
    (enrichment,) = record["threat"]["enrichments"]
    assert [event["log"]["file"]["path"] for event in enrichment["matched"]["events"]] == [str(first), str(second)]


def test_evaluated_as_they_come_a_line_hit_alone_and_as_the_end_of_a_match_is_one_ecs_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    https = "[network-traffic:dst_ref.value = '198.51.100.23' AND network-traffic:dst_port = 443]"
    feed = _feed(tmp_path, indicator(BEACON_THEN_HTTPS, 1), indicator(https, 2))
    rows = [conn(0.0, "CHhAvVGS1DHFjwGM9", "203.0.113.9", 8060), conn(30.0, "CtPZjS20MLrsMUOJi2", "198.51.100.23", 443)]
    log = write_log(tmp_path, [*ZEEK_CONN_HEADER, *rows], "conn.log")
    argv = ["scan", "-i", str(feed), "--events", "auto", "--format", "ecs", "--lateness", "0", str(log)]
    assert cli.main(argv) == 0
    (record,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert record["event"]["sequence"] == FIRST_ROW + 1
    assert sorted(e["matched"]["id"] for e in record["threat"]["enrichments"]) == [ident(1), ident(2)]


def test_a_log_whose_line_numbers_start_again_is_read_as_another_log() -> None:
    """A followed log truncated and written again gives line 1 twice, at one time: both records count."""
    from iocmatch._matcher.records import PatternIndicator, RecordScanner
    from tests.conftest import matcher_for

    pattern = "[ipv4-addr:value = '203.0.113.9'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.23']"
    scanner = RecordScanner(matcher_for("[domain-name:value = 'unrelated.example']"),
                            [PatternIndicator("indicator--x", pattern)], lateness=60.0)  # fmt: skip
    scanner.new_input("conn.log")
    before = [*ZEEK_CONN_HEADER, conn(0.0, "CaBQ3k1bQGdHLrxTV2", "203.0.113.9", 8060)]
    after = [*ZEEK_CONN_HEADER, conn(0.0, "CbjJ1bNHhtGMjz1Yf", "198.51.100.23", 443)]
    for lines in (before, after):  # numbered from 1 each time, as the follower numbers a log written again
        for number, line in enumerate(lines, 1):
            scanner.scan(line.encode(), number)
    hits = [*scanner.take_streamed(), *scanner.finish()]
    assert [(hit.file, hit.number) for hit in hits] == [("conn.log", FIRST_ROW)]
    (found,) = hits[0].matches
    assert [(event.file, event.line) for event in found.events] == [("conn.log", FIRST_ROW), ("conn.log", FIRST_ROW)]


def test_time_order_names_the_temporary_folder_when_it_cannot_write(monkeypatch: pytest.MonkeyPatch) -> None:
    from iocmatch._common.errors import IocmatchError

    def full(*_args: object, **_kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tempfile.TemporaryFile", full)
    order = TimeOrder(in_memory=2)
    order.push((1, 1))
    with pytest.raises(IocmatchError, match=r"cannot keep records in time order in .* No space left on device"):
        order.push((2, 2))


def test_a_stop_while_the_records_read_are_evaluated_ends_it_and_says_so() -> None:
    from iocmatch._matcher.records import PatternIndicator, RecordScanner
    from tests.conftest import matcher_for

    scanner = RecordScanner(matcher_for("[domain-name:value = 'unrelated.example']"),
                            [PatternIndicator("indicator--x", BEACON_THEN_HTTPS)])  # fmt: skip
    scanner.new_input("conn.log")
    rows = [conn(0.0, "CaBQ3k1bQGdHLrxTV2", "203.0.113.9", 8060), conn(30.0, "CbjJ1bNHhtGMjz1Yf", "198.51.100.23", 443)]
    for number, line in enumerate([*ZEEK_CONN_HEADER, *rows], 1):
        scanner.scan(line.encode(), number)
    assert list(scanner.finish(lambda: True)) == []
    assert scanner.cut
