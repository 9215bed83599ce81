"""Properties: planted values are found, the interval index is exact,
canonical forms are fixed points, and a pickled matcher scans the same."""

from __future__ import annotations

import functools
import ipaddress
import pickle
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._engines.intervals import IntervalIndex
from iocmatch._patterns.canonical import canonical_value
from tests import strategies as gen
from tests.conftest import PATTERN_PATHS as PATHS
from tests.conftest import matcher_for


def _tagged(kind: str, value: str) -> tuple[str, str]:
    return kind, value


VALUES = st.one_of(
    *(
        strategy.map(functools.partial(_tagged, kind))
        for kind, strategy in [
            ("domain-name", gen.domains),
            ("md5", gen.md5s),
            ("sha256", gen.sha256s),
            ("ipv4-addr", gen.ipv4s),
            ("ipv6-addr", gen.ipv6s),
            ("email-addr", gen.emails),
        ]
    )
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(VALUES, gen.filler, gen.separators, gen.separators, gen.filler, gen.case_changes)
def test_a_planted_value_is_always_found(
    planted: tuple[str, str], head: str, left: str, right: str, tail: str, case: Callable[[str], str]
) -> None:
    kind, value = planted
    # A generated address may be a public resolver, excluded as too broad: that is breadth's test, not this one.
    matcher = matcher_for(f"[{PATHS[kind]} = '{value}']", allow_broad=True)
    written = case(value)
    line = head + left + written + right + tail
    start = len(head) + 1
    hits = {(m.start, m.end, m.kind) for m in matcher.scan_line(line) if m.kind == kind}
    assert (start, start + len(written), kind) in hits


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 60)), max_size=40),
    st.lists(st.integers(-5, 1100), min_size=1, max_size=40),
)
def test_interval_index_equals_brute_force(ranges: list[tuple[int, int]], points: list[int]) -> None:
    items = [(first, first + width, number) for number, (first, width) in enumerate(ranges)]
    index = IntervalIndex(items)
    for point in points:
        expected = sorted((last - first, number) for first, last, number in items if first <= point <= last)
        assert list(index.lookup(point)) == [number for _, number in expected]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(VALUES, gen.case_changes)
def test_canonical_forms_are_fixed_points(planted: tuple[str, str], case: Callable[[str], str]) -> None:
    kind, value = planted
    once = canonical_value(kind, case(value))
    assert canonical_value(kind, once) == once
    if kind in ("ipv4-addr", "ipv6-addr"):
        assert ipaddress.ip_address(once) == ipaddress.ip_address(value)
    else:
        assert once == value.lower()


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=8), gen.filler)
def test_a_pickled_matcher_scans_the_same(planted: list[tuple[str, str]], filler: str) -> None:
    # Pickling is checked here, not breadth: a generated public resolver (1.0.0.1) is kept.
    matcher = matcher_for(*{f"[{PATHS[kind]} = '{value}']" for kind, value in planted}, allow_broad=True)
    line = filler + " " + " x ".join(value for _, value in planted) + " " + filler
    restored = pickle.loads(pickle.dumps(matcher))
    assert isinstance(restored, iocmatch.Matcher)
    assert restored.scan_line(line) == matcher.scan_line(line)
    assert len(matcher.scan_line(line)) >= len(planted)
