"""An interval index over integer addresses: every range containing a point.

Built once by a sweep over the range ends into elementary segments, each
holding the ranges that cover it, narrowest first; a lookup is one bisect.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class IntervalIndex(Generic[T]):
    __slots__ = ("_covers", "_starts")

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
        self._starts = starts
        self._covers = covers

    def __len__(self) -> int:
        return len(self._starts)

    def segments(self) -> tuple[list[int], list[bool]]:
        """Where each elementary segment starts, and whether any range covers it."""
        return self._starts, [bool(covers) for covers in self._covers]

    def lookup(self, point: int) -> tuple[T, ...]:
        """Payloads of every range containing ``point``, narrowest first."""
        slot = bisect_right(self._starts, point) - 1
        return self._covers[slot] if slot >= 0 else ()
