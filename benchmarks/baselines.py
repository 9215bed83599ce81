#!/usr/bin/env python3
"""Naive Python matchers, timed on the first lines of a log; run by compare.py.

    python benchmarks/baselines.py naive|regex LITERALS LOG --sample K
    python benchmarks/baselines.py stix2-matcher FEED LOG --sample K

Prints one JSON object: ``build_s`` (reading the indicators and building the
matcher), ``scan_s``, ``lines`` and ``bytes`` scanned, and ``hit_lines`` (the
1-based numbers of the lines the tool reports). ``--verdicts`` names planted
lines further on to judge too, untimed (``verdict_lines``, ``verdict_hits``),
so that a sample of a few lines still meets every case. Each runs in its own process
so that its peak memory can be measured alone.

* ``naive``: ``any(literal in line ...)``, grep -F's question asked in Python.
* ``regex``: one ``re`` alternation of the escaped literals, ``search`` per line.
* ``stix2-matcher``: the OASIS reference matcher. It matches patterns against
  STIX observed-data, not text, so each line is first turned into observables
  by simple extraction (host names, dotted quads, 32- and 64-digit hex runs,
  taken as written), then every pattern is matched against that line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

LineTest = Callable[[str], bool]


def read_lines(log: Path, count: int, wanted: set[int]) -> tuple[list[str], dict[int, str]]:
    """The first ``count`` lines, and the lines numbered in ``wanted`` after them."""
    with log.open(encoding="utf-8", errors="surrogateescape") as stream:
        sample = [line.rstrip("\n") for line in islice(stream, count)]
        later = {}
        last = max(wanted, default=0)
        for number, line in enumerate(stream, count + 1):
            if number > last:
                break
            if number in wanted:
                later[number] = line.rstrip("\n")
    return sample, later


def build_naive(literals_path: Path) -> LineTest:
    literals = literals_path.read_text(encoding="ascii").split()

    def test(line: str) -> bool:
        return any(literal in line for literal in literals)

    return test


def build_regex(literals_path: Path) -> LineTest:
    literals = literals_path.read_text(encoding="ascii").split()
    # Longest first, as one would write it by hand; the answer (does the line hold one?) is the same.
    pattern = re.compile("|".join(map(re.escape, sorted(literals, key=len, reverse=True))))

    def test(line: str) -> bool:
        return pattern.search(line) is not None

    return test


# What a line offers the reference matcher: observables as written, without
# the normalisation (case, subdomains, ranges) iocmatch adds.
_HOST = re.compile(r"(?<![A-Za-z0-9_.-])(?:[A-Za-z0-9_-]+\.)+[A-Za-z][A-Za-z0-9-]*(?![A-Za-z0-9_-])")
_QUAD = re.compile(r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9]|\.[0-9])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{64}|[0-9A-Fa-f]{32})(?![0-9A-Fa-f])")


def observed_data(line: str) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    for host in _HOST.findall(line):
        objects[str(len(objects))] = {"type": "domain-name", "value": host}
    for address in _QUAD.findall(line):
        objects[str(len(objects))] = {"type": "ipv4-addr", "value": address}
    for digits in _HEX.findall(line):
        algorithm = "MD5" if len(digits) == 32 else "SHA-256"
        objects[str(len(objects))] = {"type": "file", "hashes": {algorithm: digits}}
    return {
        "type": "observed-data",
        "spec_version": "2.1",
        "id": "observed-data--00000000-0000-4000-8000-000000000000",
        "created": "2024-01-15T00:00:00.000Z",
        "modified": "2024-01-15T00:00:00.000Z",
        "first_observed": "2024-01-15T00:00:00Z",
        "last_observed": "2024-01-15T00:00:00Z",
        "number_observed": 1,
        "objects": objects,
    }


def build_stix2_matcher(feed_path: Path) -> LineTest:
    from stix2matcher.matcher import Pattern  # optional: compare.py checks it imports first

    bundle = json.loads(feed_path.read_text(encoding="utf-8"))
    patterns = [Pattern(obj["pattern"]) for obj in bundle["objects"] if obj.get("type") == "indicator"]

    def test(line: str) -> bool:
        observed = [observed_data(line)]
        if not observed[0]["objects"]:
            return False
        return any(pattern.match(observed) for pattern in patterns)

    return test


BUILDERS: dict[str, Callable[[Path], LineTest]] = {
    "naive": build_naive,
    "regex": build_regex,
    "stix2-matcher": build_stix2_matcher,
}


def hits(test: LineTest, lines: Iterable[tuple[int, str]]) -> Iterator[int]:
    return (number for number, line in lines if test(line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tool", choices=sorted(BUILDERS))
    parser.add_argument("indicators", type=Path, help="literal list (naive, regex) or STIX bundle (stix2-matcher)")
    parser.add_argument("log", type=Path)
    parser.add_argument("--sample", type=int, required=True, help="scan the first SAMPLE lines (timed)")
    parser.add_argument("--verdicts", default="", help="also scan these line numbers (untimed), comma-separated")
    args = parser.parse_args(argv)

    wanted = {int(n) for n in args.verdicts.split(",") if n}
    sample, later = read_lines(args.log, args.sample, wanted)
    started = time.perf_counter()
    test = BUILDERS[args.tool](args.indicators)
    built = time.perf_counter()
    found = list(hits(test, enumerate(sample, 1)))
    scanned = time.perf_counter()
    verdict_hits = list(hits(test, sorted(later.items())))
    result = {
        "build_s": built - started,
        "scan_s": scanned - built,
        "verdict_s": time.perf_counter() - scanned,
        "lines": len(sample),
        "bytes": sum(len(line.encode("utf-8", "surrogateescape")) + 1 for line in sample),
        "hit_lines": found,
        "verdict_lines": sorted(later),
        "verdict_hits": verdict_hits,
    }
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
