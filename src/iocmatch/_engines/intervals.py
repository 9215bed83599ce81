"""An interval index over integer addresses: every range containing a point.

Built once by a sweep over the range ends into elementary segments, each
holding the ranges that cover it, narrowest first; a lookup is one bisect.
An index read from a matcher file is made from its columns at its first
lookup (``of_segments``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class IntervalIndex(Generic[T]):
    __slots__ = ("_count", "_covered", "_covers", "_make", "_starts")

    def __init__(self, ranges: Iterable[tuple[int, int, T]]) -> None:
        """``ranges``: (first, last, payload), both ends included."""
        events: dict[int, tuple[list[int], list[int]]] = {}
        items = list(ranges)
        for index, (first, last, _) in enumerate(items):
            events.setdefault(first, ([], []))[0].append(index)
            events.setdefault(last + 1, ([], []))[1].append(index)
        active: set[int] = set()
        starts: list[int] = []
        covers: list[tuple[T, ...]] = []
        for point in sorted(events):
            opening, closing = events[point]
            active.difference_update(closing)
            active.update(opening)
            ordered = sorted(active, key=lambda i: (items[i][1] - items[i][0], i))
            starts.append(point)
            covers.append(tuple(items[i][2] for i in ordered))
        self._count = len(starts)
        self._make: Callable[[], Segments[T]] | None = None
        self._starts: Sequence[int] = starts
        self._covers: Sequence[tuple[T, ...]] = covers
        self._covered: Sequence[bool] = [bool(covered) for covered in covers]

    @classmethod
    def of_segments(cls, count: int, make: Callable[[], Segments[T]]) -> IntervalIndex[T]:
        """An index of ``count`` segments that ``make`` gives at the first
        lookup: where each starts (rising), what covers it, and whether
        anything does."""
        index: IntervalIndex[T] = cls.__new__(cls)
        index._count = count
        index._make = make
        index._starts = index._covers = index._covered = ()
        return index

    def __len__(self) -> int:
        return self._count

    def segments(self) -> tuple[Sequence[int], Sequence[bool]]:
        """Where each elementary segment starts, and whether any range covers it."""
        starts, _, covered = self._segments()
        return starts, covered

    def lookup(self, point: int) -> tuple[T, ...]:
        """Payloads of every range containing ``point``, narrowest first."""
        if self._make is not None:
            self._segments()
        slot = bisect_right(self._starts, point) - 1
        return self._covers[slot] if slot >= 0 else ()

    def _segments(self) -> Segments[T]:
        if self._make is not None:
            self._starts, self._covers, self._covered = self._make()
            self._make = None
        return self._starts, self._covers, self._covered

    def __getstate__(self) -> tuple[int, Sequence[int], tuple[tuple[T, ...], ...]]:
        starts, covers, _ = self._segments()
        return self._count, list(starts), tuple(covers)

    def __setstate__(self, state: tuple[int, Sequence[int], Sequence[tuple[T, ...]]]) -> None:
        self._count, self._starts, self._covers = state
        self._covered = [bool(covered) for covered in self._covers]
        self._make = None


Segments = tuple[Sequence[int], Sequence[tuple[T, ...]], Sequence[bool]]
