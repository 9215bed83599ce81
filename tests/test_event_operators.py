"""Observation operators over a stream of records: AND, OR and FOLLOWEDBY
between observations, WITHIN, REPEATS and START/STOP, evaluated in one pass
over Zeek conn records in time order, and checked against the OASIS
reference matcher (stix2-matcher) on the same records as observed-data."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from iocmatch._events import EventMatcher, EventStream, StreamHit
from iocmatch._events.observed import observed_data
from iocmatch._events.predicates import stix_timestamp

stix2matcher = pytest.importorskip("stix2matcher.matcher", reason="stix2-matcher is in the test extra")

C2 = "203.0.113.9"
OTHER = "198.51.100.7"
BASE = datetime(2024, 5, 31, 16, 0, 0, tzinfo=timezone.utc)
A = "[network-traffic:dst_port = 8060]"  # the beacon's port
B = f"[ipv4-addr:value = '{C2}']"  # the C2 address, as the destination's object
C = "[network-traffic:dst_port = 443]"

Event = tuple[float, str, int]  # seconds after BASE, destination address, destination port


def conn(seconds: float, host: str, port: int) -> str:
    """A Zeek conn.log record (JSON) of a connection to ``host:port`` at BASE + ``seconds``."""
    ts = (BASE + timedelta(seconds=seconds)).timestamp()
    return json.dumps(
        {
            "_path": "conn",
            "ts": "TS",
            "uid": "CwY3Yb1",
            "id.orig_h": "10.0.0.5",
            "id.orig_p": 49152,
            "id.resp_h": host,
            "id.resp_p": port,
            "proto": "tcp",
            "conn_state": "SF",
        }
    ).replace('"TS"', f"{ts:.6f}", 1)  # fmt: skip  (Zeek writes microseconds)


def run(pattern: str, events: Sequence[Event], **options: Any) -> list[StreamHit]:
    stream = EventStream([("indicator--p", pattern)], **options)
    assert not stream.problems, stream.problems
    hits = [hit for event in events for hit in stream.feed(conn(*event))]
    return hits + stream.flush()


def reference(pattern: str, events: Sequence[Event]) -> bool:
    """Whether the reference matcher finds ``pattern`` in the records of ``events``, one observed-data each."""
    reader = EventMatcher([])
    bundles = []
    for number, event in enumerate(events):
        record = reader.record(conn(*event))
        assert record is not None
        bundles.append(observed_data(record, BASE + timedelta(seconds=event[0]), number))
    return bool(stix2matcher.match(pattern, bundles, stix_version="2.1"))


T0 = stix_timestamp(BASE)
T10 = stix_timestamp(BASE + timedelta(seconds=10))

# pattern, records (seconds, address, port), the line numbers of the first hit (None: no hit).
CASES: list[tuple[str, list[Event], tuple[int, ...] | None]] = [
    # AND: both observations, by different records, in any order.
    (f"{A} AND {B}", [(0, OTHER, 8060), (5, C2, 22)], (1, 2)),
    (f"{A} AND {B}", [(0, C2, 22), (5, OTHER, 8060)], (1, 2)),
    (f"{A} AND {B}", [(0, C2, 8060)], None),  # one record holds both: AND needs two
    (f"{A} AND {B}", [(0, C2, 8060), (1, C2, 8060)], (1, 2)),
    (f"{A} AND {B}", [(0, OTHER, 8060), (5, OTHER, 22)], None),
    # OR: either, each record alone.
    (f"{A} OR {B}", [(0, OTHER, 22), (1, C2, 22)], (2,)),
    (f"{A} OR {B}", [(0, OTHER, 22)], None),
    # FOLLOWEDBY: the right side at or after the left.
    (f"{A} FOLLOWEDBY {B}", [(0, OTHER, 8060), (5, C2, 22)], (1, 2)),
    (f"{A} FOLLOWEDBY {B}", [(0, C2, 22), (5, OTHER, 8060)], None),  # wrong order
    (f"{A} FOLLOWEDBY {B}", [(3, C2, 22), (3, OTHER, 8060)], (1, 2)),  # the same second counts
    (f"{A} FOLLOWEDBY {B}", [(0, C2, 8060)], None),
    (
        f"{A} FOLLOWEDBY {B} FOLLOWEDBY {C}",
        [(0, OTHER, 8060), (1, OTHER, 443), (2, C2, 22), (3, OTHER, 443)],
        (1, 3, 4),
    ),
    # WITHIN: every record of the match at most n seconds apart, both ends included.
    (f"({A} FOLLOWEDBY {B}) WITHIN 10 SECONDS", [(0, OTHER, 8060), (10, C2, 22)], (1, 2)),
    (f"({A} FOLLOWEDBY {B}) WITHIN 10 SECONDS", [(0, OTHER, 8060), (10.5, C2, 22)], None),  # outside the window
    (f"({A} FOLLOWEDBY {B}) WITHIN 10 SECONDS", [(0, OTHER, 8060), (8, OTHER, 8060), (15, C2, 22)], (2, 3)),
    (f"({A} AND {B}) WITHIN 2 SECONDS", [(0, C2, 22), (5, OTHER, 8060), (6, C2, 22)], (2, 3)),
    # REPEATS: n different records.
    (f"{C} REPEATS 3 TIMES", [(0, OTHER, 443), (50, C2, 443), (900, OTHER, 443)], (1, 2, 3)),
    (f"{C} REPEATS 3 TIMES", [(0, OTHER, 443), (50, C2, 443), (900, OTHER, 22)], None),  # too few
    (f"{C} REPEATS 3 TIMES WITHIN 5 SECONDS", [(0, OTHER, 443), (4, OTHER, 443), (6, OTHER, 443)], None),
    (
        f"{C} REPEATS 3 TIMES WITHIN 5 SECONDS",
        [(0, OTHER, 443), (4, OTHER, 443), (6, OTHER, 443), (8, C2, 443)],
        (2, 3, 4),
    ),
    (f"({A} FOLLOWEDBY {C}) REPEATS 2 TIMES", [(0, OTHER, 8060), (1, OTHER, 443), (2, OTHER, 443)], None),
    (
        f"({A} FOLLOWEDBY {C}) REPEATS 2 TIMES",
        [(0, OTHER, 8060), (1, OTHER, 8060), (2, OTHER, 443), (3, OTHER, 443)],
        (1, 2, 3, 4),
    ),
    # START/STOP: every record at or after START and before STOP.
    (f"{A} START t'{T0}' STOP t'{T10}'", [(0, OTHER, 8060)], (1,)),
    (f"{A} START t'{T0}' STOP t'{T10}'", [(10, OTHER, 8060)], None),  # STOP is left out
    (f"{A} START t'{T0}' STOP t'{T10}'", [(-1, OTHER, 8060), (12, OTHER, 8060)], None),
    (f"({A} FOLLOWEDBY {B}) START t'{T0}' STOP t'{T10}'", [(-1, OTHER, 8060), (3, C2, 22)], None),
    (f"({A} FOLLOWEDBY {B}) START t'{T0}' STOP t'{T10}'", [(-1, OTHER, 8060), (2, OTHER, 8060), (3, C2, 22)], (2, 3)),
    # Qualifiers and operators nested.
    (f"(({A} OR {C}) FOLLOWEDBY {B}) WITHIN 5 SECONDS", [(0, OTHER, 443), (4, C2, 22)], (1, 2)),
    (
        f"([{A[1:-1]}] AND {B}) REPEATS 2 TIMES WITHIN 10 SECONDS",
        [(0, OTHER, 8060), (1, C2, 22), (2, OTHER, 8060), (11, C2, 22)],
        None,
    ),
    (
        f"({A} AND {B}) REPEATS 2 TIMES WITHIN 10 SECONDS",
        [(0, OTHER, 8060), (1, C2, 22), (2, OTHER, 8060), (9, C2, 22)],
        (1, 2, 3, 4),
    ),
]


@pytest.mark.parametrize(("pattern", "events", "first_hit"), CASES)
def test_operator_table(pattern: str, events: list[Event], first_hit: tuple[int, ...] | None) -> None:
    """The first hit names the records of the match, by line number and time, as soon as the match is complete."""
    hits = run(pattern, events)
    if first_hit is None:
        assert hits == []
    else:
        assert tuple(moment.index for moment in hits[0].events) == first_hit
        for moment in hits[0].events:
            assert moment.time == BASE + timedelta(seconds=events[moment.index - 1][0])
    assert bool(hits) is reference(pattern, events)


def test_a_hit_uses_records_after_the_previous_hit() -> None:
    """Each beacon-then-C2 pair alerts once: the records of a hit do not make the next one."""
    events = [(0, OTHER, 8060), (1, C2, 22), (2, C2, 22), (3, OTHER, 8060), (4, C2, 22)]
    hits = run(f"{A} FOLLOWEDBY {B}", events)
    assert [[moment.index for moment in hit.events] for hit in hits] == [[1, 2], [4, 5]]


def test_records_out_of_order_within_lateness_are_put_in_place() -> None:
    """A record up to ``lateness`` seconds behind the newest takes its place; a later one is dropped and counted."""
    stream = EventStream([("indicator--p", f"{A} FOLLOWEDBY {B}")], lateness=5)
    assert stream.feed(conn(3, C2, 22)) == []
    assert stream.feed(conn(1, OTHER, 8060)) == []  # 2 s late: waits, then goes before the C2 record
    assert stream.feed(conn(7.5, OTHER, 22)) == []
    hits = stream.feed(conn(9, OTHER, 22))  # the newest is 9 s: the records up to 4 s are evaluated
    assert [[moment.index for moment in hit.events] for hit in hits] == [[2, 1]]
    assert stream.feed(conn(0, OTHER, 8060)) == []  # 9 s behind: too late
    assert stream.late == 1


def test_without_lateness_a_record_behind_the_stream_is_dropped() -> None:
    stream = EventStream([("indicator--p", f"{A} FOLLOWEDBY {B}")])
    assert stream.feed(conn(3, C2, 22)) == []
    assert stream.feed(conn(1, OTHER, 8060)) == []
    assert stream.flush() == []
    assert stream.late == 1


def test_the_time_can_be_given_and_a_record_without_one_is_counted() -> None:
    stream = EventStream([("indicator--p", f"{A} FOLLOWEDBY {B}")])
    untimed = json.loads(conn(0, OTHER, 8060))
    del untimed["ts"]
    assert stream.feed(untimed) == []
    assert stream.untimed == 1
    assert stream.feed(untimed, index=41, time=BASE) == []
    hits = stream.feed(conn(2, C2, 22), index=42)
    assert hits == [StreamHit("indicator--p", tuple(hits[0].events))]
    assert [(moment.index, moment.time) for moment in hits[0].events] == [(41, BASE), (42, BASE + timedelta(seconds=2))]


def test_within_keeps_only_partial_matches_in_its_window() -> None:
    """A thousand beacons, no C2: inside WITHIN nothing reaches the cap; without WITHIN the oldest go."""
    beacons = [(float(second), OTHER, 8060) for second in range(1_000)]
    windowed = EventStream([("indicator--p", f"({A} FOLLOWEDBY {B}) WITHIN 10 SECONDS")], max_partials=50)
    unbounded = EventStream([("indicator--p", f"{A} FOLLOWEDBY {B}")], max_partials=50)
    for event in beacons:
        windowed.feed(conn(*event))
        unbounded.feed(conn(*event))
    assert windowed.dropped() == 0
    assert unbounded.dropped() == len(beacons) - 50
    assert unbounded.feed(conn(1_000, C2, 22))  # the most recent beacons are kept
    hits = windowed.feed(conn(1_005, C2, 22))  # the last beacon, 999 s, is 6 s before
    assert [[moment.index for moment in hit.events] for hit in hits] == [[1_000, 1_001]]


def test_patterns_that_do_not_compile_are_problems() -> None:
    stream = EventStream(
        [
            ("indicator--bad", "[network-traffic:dst_port = 8060] FOLLOWEDBY"),
            ("indicator--hex", f"{A} AND [file:hashes.MD5 = h'00ff']"),
            ("indicator--unmapped", f"{A} AND [mutex:name = 'Global\\\\x']"),
            ("indicator--good", f"{A} AND {B}"),
        ]
    )
    assert {problem.id: problem.status for problem in stream.problems} == {
        "indicator--bad": "skipped",
        "indicator--hex": "skipped",
        "indicator--unmapped": "warning",
    }


def test_a_long_or_is_one_level_and_a_deep_chain_is_a_problem() -> None:
    """A feed's 300 alternatives compile; 150 FOLLOWEDBYs nest deeper than evaluation allows."""
    ports = " OR ".join(f"[network-traffic:dst_port = {port}]" for port in range(1000, 1300))
    chain = " FOLLOWEDBY ".join(f"[network-traffic:dst_port = {port}]" for port in range(1000, 1150))
    stream = EventStream([("indicator--ports", f"({ports}) FOLLOWEDBY {B}"), ("indicator--chain", chain)])
    assert [(problem.id, problem.status) for problem in stream.problems] == [("indicator--chain", "skipped")]
    assert stream.feed(conn(0, OTHER, 1299)) == []
    assert [hit.indicator for hit in stream.feed(conn(1, C2, 22))] == ["indicator--ports"]


def test_repeats_beyond_the_cap_keeps_room_for_its_count() -> None:
    hits = run(f"{C} REPEATS 30 TIMES", [(float(second), OTHER, 443) for second in range(30)], max_partials=10)
    assert [len(hit.events) for hit in hits] == [30]


def test_lines_that_are_no_records_are_passed_over() -> None:
    stream = EventStream([("indicator--p", f"{A} FOLLOWEDBY {B}")])
    for line in ["", "not a record", "{", "[1, 2]", '{"ts": "x"}', "\x00" * 100]:
        assert stream.feed(line) == []
    assert stream.feed(conn(0, OTHER, 8060)) == []
    assert len(stream.feed(conn(1, C2, 22))) == 1  # the stream read on past them


# Patterns of the generated sequences: every operator and qualifier, alone and nested.
GENERATED_PATTERNS = [
    f"{A} AND {B}",
    f"{A} OR {B}",
    f"{A} FOLLOWEDBY {B}",
    f"{B} FOLLOWEDBY {A}",
    f"{A} AND {B} AND {C}",
    f"({A} FOLLOWEDBY {B}) WITHIN 3 SECONDS",
    f"({A} AND {B}) WITHIN 2 SECONDS",
    f"{A} REPEATS 3 TIMES",
    f"{B} REPEATS 2 TIMES WITHIN 3 SECONDS",
    f"({A} FOLLOWEDBY {C}) REPEATS 2 TIMES",
    f"({A} AND {B}) REPEATS 2 TIMES WITHIN 8 SECONDS",
    f"({A} FOLLOWEDBY {B} FOLLOWEDBY {C}) WITHIN 6 SECONDS",
    f"(({A} OR {C}) FOLLOWEDBY {B}) WITHIN 4 SECONDS",
    f"{A} FOLLOWEDBY ({B} REPEATS 2 TIMES)",
    f"({A} FOLLOWEDBY {B}) START t'{stix_timestamp(BASE + timedelta(seconds=2))}' STOP t'{T10}'",
]


def generated(rng: random.Random, length: int) -> list[Event]:
    seconds = 0.0
    events = []
    for _ in range(length):
        seconds += rng.choice((0, 0.5, 1, 1, 2, 3))  # ties included
        events.append((seconds, rng.choice((C2, OTHER)), rng.choice((8060, 443, 22))))
    return events


@pytest.mark.slow
@pytest.mark.parametrize("pattern", GENERATED_PATTERNS)
def test_agrees_with_the_reference_on_generated_sequences(pattern: str) -> None:
    """On every prefix of 60 random sequences the stream has hit exactly when the reference matches."""
    rng = random.Random(pattern)
    for _ in range(60):
        events = generated(rng, rng.randint(1, 8))
        stream = EventStream([("indicator--p", pattern)])
        first = None
        for number, event in enumerate(events, 1):
            if stream.feed(conn(*event)) and first is None:
                first = number
        hit_at = [first is not None and number >= first for number in range(1, len(events) + 1)]
        expected = [reference(pattern, events[:number]) for number in range(1, len(events) + 1)]
        assert hit_at == expected, (pattern, events)
