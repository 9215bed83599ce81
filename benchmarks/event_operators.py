#!/usr/bin/env python3
"""Observation operators over a stream: records per second of ``EventStream``
against the OASIS reference matcher (stix2-matcher) on the same records.

    .venv/bin/python benchmarks/event_operators.py [--sizes 100,1000,10000] [--cap 30]

The input is a Zeek conn log (JSON) of one connection every half second on
average: mostly ordinary traffic, with connections to a C2 address, beacons
to port 8060 and HTTPS connections placed so that none makes a match (near
misses for every pattern), and at the end one planted match of each
pattern. Each pattern
is evaluated over the first N records:

- ``stream (lines)``: ``EventStream.feed`` on each line (reading the JSON,
  mapping it to objects, reading its time, then the operators);
- ``stream (records)``: ``EventStream.feed_record`` on records read in
  advance, which is what the reference is given;
- ``reference``: ``stix2matcher.matcher.match`` on one observed-data per
  record (built in advance). It searches every combination of records, so
  its time grows with the records each observation holds; a run longer than
  ``--cap`` seconds is stopped and reported as such.

Both must agree on whether the pattern holds; when the reference finishes,
it must also hold on the records up to the stream's first hit and not on
those before it (the hit came as soon as the match was complete). The run
fails (exit 1) on any disagreement. Results are printed as JSON lines.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from stix2matcher.matcher import match as reference_match

from iocmatch._events import EventMatcher, EventStream
from iocmatch._events.objects import Record
from iocmatch._events.observed import observed_data

C2 = "203.0.113.9"
BASE = datetime(2024, 5, 31, 16, 0, 0, tzinfo=timezone.utc)
BEACON = "[network-traffic:dst_port = 8060]"
TO_C2 = f"[ipv4-addr:value = '{C2}']"
HTTPS = "[network-traffic:dst_port = 443 AND network-traffic:dst_ref.value = '198.51.100.80']"
PATTERNS = {
    "A FOLLOWEDBY B WITHIN": f"({BEACON} FOLLOWEDBY {TO_C2}) WITHIN 60 SECONDS",
    "A AND B WITHIN": f"({BEACON} AND {TO_C2}) WITHIN 60 SECONDS",
    "A REPEATS 5 WITHIN": f"{HTTPS} REPEATS 5 TIMES WITHIN 10 SECONDS",
}


class _OverCap(Exception):
    pass


def conn(seconds: float, host: str, port: int) -> str:
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


def log(size: int) -> list[tuple[float, str]]:
    """``size`` records (seconds, line): near misses only, then one planted match of each pattern at the end.

    The first half holds connections to the C2 among ordinary traffic, the
    second (two minutes later) beacons and HTTPS connections three seconds
    apart or more: every beacon comes after every C2 connection and over a
    minute from it, and no 10 s holds five HTTPS connections. No pattern
    holds before the planted records, so the reference searches them all.
    """
    rng = random.Random(size)
    seconds, records, last_https = 0.0, [], -10.0
    body = size - 8
    for number in range(body):
        seconds += rng.choice((0.0, 0.25, 0.5, 0.75, 1.0)) + (120 if number == body // 2 else 0)
        draw = rng.random()
        host, port = f"192.0.2.{rng.randint(1, 254)}", rng.choice((80, 53, 123, 8080))
        if number < body // 2 and draw < 0.02:
            host, port = C2, 22
        elif number >= body // 2 and draw < 0.02:
            host, port = "198.51.100.7", 8060
        elif number >= body // 2 and draw < 0.06 and seconds - last_https >= 3:
            host, port, last_https = "198.51.100.80", 443, seconds
        records.append((seconds, conn(seconds, host, port)))
    seconds += 300  # past every window of the near misses
    planted = [(8060, "198.51.100.7"), (22, C2), *[(443, "198.51.100.80")] * 5, (80, "192.0.2.1")]
    for step, (port, host) in enumerate(planted):
        records.append((seconds + step, conn(seconds + step, host, port)))
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--cap", type=float, default=30.0, help="seconds the reference may take per run")
    args = parser.parse_args()
    ok = True
    for size in (int(text) for text in args.sizes.split(",")):
        records = log(size)
        reader = EventMatcher([])
        read = [_read(reader, line) for _, line in records]
        bundles = [
            observed_data(record, BASE + timedelta(seconds=at), n)
            for n, (record, (at, _)) in enumerate(zip(read, records, strict=True))
        ]
        for name, pattern in PATTERNS.items():
            ok &= _compare(name, pattern, size, records, read, bundles, args.cap)
    return 0 if ok else 1


def _compare(
    name: str, pattern: str, size: int, records: list[tuple[float, str]], read: list[Record],
    bundles: list[dict[str, Any]], cap: float,
) -> bool:  # fmt: skip
    stream = EventStream([("indicator--p", pattern)])  # compiling the pattern is not timed
    started = time.perf_counter()
    first = None
    for number, (_, line) in enumerate(records, 1):
        if stream.feed(line) and first is None:
            first = number
    lines_seconds = time.perf_counter() - started

    stream = EventStream([("indicator--p", pattern)])
    started = time.perf_counter()
    for number, (record, (at, _)) in enumerate(zip(read, records, strict=True), 1):
        stream.feed_record(record, number, BASE + timedelta(seconds=at))
    records_seconds = time.perf_counter() - started

    outcome: dict[str, Any] = {
        "pattern": name, "records": size, "stream_first_hit": first,
        "stream_lines_per_s": round(size / lines_seconds), "stream_records_per_s": round(size / records_seconds),
    }  # fmt: skip
    started = time.perf_counter()
    agreed = True
    try:
        holds = _capped(cap, lambda: bool(reference_match(pattern, bundles, stix_version="2.1")))
        reference_seconds = time.perf_counter() - started
        outcome["reference_records_per_s"] = round(size / reference_seconds, 1)
        outcome["reference_holds"] = holds
        agreed = holds is (first is not None)
        if agreed and first is not None:
            # As soon as the match was complete: the reference holds up to the first hit, not before.
            at_hit = _capped(cap, lambda: bool(reference_match(pattern, bundles[:first], stix_version="2.1")))
            before = _capped(cap, lambda: bool(reference_match(pattern, bundles[: first - 1], stix_version="2.1")))
            agreed = at_hit and not before
    except _OverCap:
        outcome["reference"] = f"stopped after {cap:g} s"
    outcome["agree"] = agreed
    print(json.dumps(outcome), flush=True)
    return agreed


def _capped(cap: float, work: Any) -> Any:
    def stop(_signal: int, _frame: FrameType | None) -> None:
        raise _OverCap

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, cap)
    try:
        return work()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _read(reader: EventMatcher, line: str) -> Record:
    record = reader.record(line)
    assert record is not None
    return record


if __name__ == "__main__":
    sys.exit(main())
