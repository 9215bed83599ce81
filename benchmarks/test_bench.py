"""Micro-benchmarks of the library's stages, each checked against the corpus's ground truth.

    .venv/bin/python -m pytest benchmarks/ --benchmark-only

Outside the default test run (pytest's ``testpaths`` is ``tests``). The corpus
is 10,000 indicators and 10,000 log lines from benchmarks/corpus.py, built once
per session in a temporary folder.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from corpus import Corpus, build
from iocmatch._engines.hyperscan import AVAILABLE as HYPERSCAN
from iocmatch._engines.intervals import IntervalIndex

INDICATORS = 10_000
LINES = 10_000
# Dense enough that 10,000 lines hold every kind of plant.
HIT_RATE = 0.02
MISS_RATE = 0.02


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return build(tmp_path_factory.mktemp("corpus"), INDICATORS, LINES, seed=7, hit_rate=HIT_RATE, miss_rate=MISS_RATE)


@pytest.fixture(scope="session")
def indicator_set(corpus: Corpus) -> iocmatch.IndicatorSet:
    return iocmatch.load(corpus.feed)


ENGINES = ["aho-corasick", "tokens", *(["hyperscan"] if HYPERSCAN else [])]


@pytest.fixture(scope="session", params=ENGINES)
def matcher(indicator_set: iocmatch.IndicatorSet, request: pytest.FixtureRequest) -> iocmatch.Matcher:
    return iocmatch.compile(indicator_set, engine=request.param)


@pytest.fixture(scope="session")
def log_lines(corpus: Corpus) -> list[str]:
    return corpus.log.read_text(encoding="ascii").splitlines()


def spans(matches: list[iocmatch.Match]) -> list[tuple[int, int, int, str]]:
    return [(m.line, m.start, m.end, m.value) for m in matches]


def test_load_bundle(benchmark: Any, corpus: Corpus) -> None:
    loaded = benchmark.pedantic(iocmatch.load, args=(corpus.feed,), rounds=3, iterations=1)
    assert loaded.report.compiled == INDICATORS
    assert not loaded.report.skipped


@pytest.mark.parametrize("engine", ENGINES)
def test_compile(
    benchmark: Any, indicator_set: iocmatch.IndicatorSet, log_lines: list[str], corpus: Corpus, engine: str
) -> None:
    compiled = benchmark.pedantic(
        iocmatch.compile, args=(indicator_set,), kwargs={"engine": engine}, rounds=3, iterations=1
    )
    # Every indicator value is distinct: one atom each.
    assert compiled.atom_count == INDICATORS
    expected = Counter(corpus.truth())
    assert Counter(spans(list(compiled.scan(log_lines)))) == expected


def _first_line(corpus: Corpus, log_lines: list[str], label: str) -> tuple[int, str]:
    number = min(n for n, (*_, kind) in corpus.line_flags().items() if kind == label)
    return number, log_lines[number - 1]


@pytest.mark.parametrize("label", ["dns_query", "sysmon_hashes", "firewall_address"])
def test_scan_line_hit(
    benchmark: Any, matcher: iocmatch.Matcher, corpus: Corpus, log_lines: list[str], label: str
) -> None:
    number, line = _first_line(corpus, log_lines, label)
    found = benchmark(matcher.scan_line, line, number)
    expected = sorted(t for t in corpus.truth() if t[0] == number)
    assert expected
    assert sorted(spans(found)) == expected


@pytest.mark.parametrize("label", ["background", "domain_au", "hash_in_longer_run", "address_with_fifth_part"])
def test_scan_line_miss(
    benchmark: Any, matcher: iocmatch.Matcher, corpus: Corpus, log_lines: list[str], label: str
) -> None:
    if label == "background":
        number = min(set(range(1, LINES + 1)) - corpus.line_flags().keys())
        line = log_lines[number - 1]
    else:
        number, line = _first_line(corpus, log_lines, label)
    assert benchmark(matcher.scan_line, line, number) == []


def test_scan_file(benchmark: Any, matcher: iocmatch.Matcher, corpus: Corpus) -> None:
    found = benchmark.pedantic(lambda: list(matcher.scan_file(corpus.log)), rounds=5, iterations=1)
    assert Counter(spans(found)) == Counter(corpus.truth())


def test_scan_lines_in_memory(benchmark: Any, matcher: iocmatch.Matcher, corpus: Corpus, log_lines: list[str]) -> None:
    found = benchmark.pedantic(lambda: list(matcher.scan(log_lines)), rounds=5, iterations=1)
    assert Counter(spans(found)) == Counter(corpus.truth())


def _ipv4_ranges(feed: Path) -> list[tuple[int, int, str]]:
    """(first, last, value) of every IPv4 indicator, read from the bundle's patterns."""
    ranges = []
    for obj in json.loads(feed.read_text())["objects"]:
        pattern = obj.get("pattern", "")
        if pattern.startswith("[ipv4-addr:value = '"):
            network = ipaddress.ip_network(pattern.split("'")[1])
            ranges.append((int(network.network_address), int(network.broadcast_address), str(network)))
    return ranges


def test_interval_lookups(benchmark: Any, corpus: Corpus) -> None:
    ranges = _ipv4_ranges(corpus.feed)
    index = IntervalIndex(ranges)
    rng = random.Random(3)
    # For every range a point inside and the point just below it, plus addresses no range holds.
    points = [rng.randint(first, last) for first, last, _ in ranges]
    points += [first - 1 for first, _, _ in ranges]
    points += [int(ipaddress.ip_address(f"198.51.100.{rng.randrange(256)}")) for _ in range(len(ranges))]
    # The ranges are disjoint (corpus.py makes them so): a point is inside at most one.
    expected = sum(any(first <= p <= last for first, last, _ in ranges) for p in points)

    def lookups() -> int:
        return sum(len(index.lookup(point)) for point in points)

    assert benchmark(lookups) == expected
    assert expected >= len(ranges)
