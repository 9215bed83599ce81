"""IPv4 addresses in a block found with numpy and looked up as numbers.

For large feeds, keys for the first octets of every network are too many to
compile. Instead every dotted quad in the block is found as four runs of 1-3
digits joined by single dots, with no digit run joined before or after (the
address rule of SEMANTICS.md: ``1.2.3.4.5`` holds no address), its value
computed, and kept only when some indicator's range holds it: one sorted
search for the whole block. What is kept picks its line, where the address
is read again and looked up by the ordinary verification.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._common.addresses import ipv4_in
from .intervals import IntervalIndex

_DOT = ord(".")
_ZERO = ord("0")
# Below this many bytes (a line), a regex is quicker than numpy's cost per call.
SMALL_INPUT = 4096


class IPv4Sieve:
    """The addresses of a block that fall in one of a set of ranges."""

    __slots__ = ("_covered", "_index", "_starts")

    def __init__(self, index: IntervalIndex[Any]) -> None:
        """``index``: the IPv4 ranges. Its elementary segments become two
        arrays, when a block is first searched: where each starts, and
        whether any range covers it."""
        self._index = index
        self._starts: Any = None
        self._covered: Any = None

    def spans(self, block: bytes) -> list[tuple[int, int]]:
        """(start, end) of every address in ``block`` that some range holds."""
        if not block or not len(self._index):
            return []
        if len(block) < SMALL_INPUT:
            return self._spans_of_line(block)
        if self._starts is None:
            segment_starts, covered = self._index.segments()
            self._covered = np.asarray(covered, dtype=bool)
            self._starts = np.asarray(segment_starts, dtype=np.int64)
        data = np.frombuffer(block, dtype=np.uint8)
        # Digit runs; arithmetic on the bytes is quicker than a table lookup.
        digits = np.zeros(len(data) + 2, dtype=bool)
        np.less(data - np.uint8(_ZERO), 10, out=digits[1:-1])
        edges = np.flatnonzero(digits[1:] != digits[:-1])
        starts, ends = edges[0::2], edges[1::2]
        if len(starts) < 4:
            return []
        joined = np.zeros(len(starts) + 1, dtype=bool)  # joined[i]: run i joins run i - 1
        joined[1:-1] = (starts[1:] - ends[:-1] == 1) & (data[ends[:-1]] == _DOT)
        lengths = ends - starts
        short = lengths <= 3
        # Quads start at run i: runs i..i+3 joined, none before or after, each 1-3 digits.
        last = len(starts) - 3
        quad = (
            ~joined[:last]
            & joined[1 : last + 1]
            & joined[2 : last + 2]
            & joined[3 : last + 3]
            & ~joined[4 : last + 4]
            & short[:last]
            & short[1 : last + 1]
            & short[2 : last + 2]
            & short[3 : last + 3]
        )
        first = np.flatnonzero(quad)
        if not len(first):
            return []
        address = np.zeros(len(first), dtype=np.int64)
        valid = np.ones(len(first), dtype=bool)
        for part in range(4):
            octet = _octets(data, starts[first + part], lengths[first + part])
            valid &= octet <= 255
            address = address << 8 | octet
        slots = np.searchsorted(self._starts, address, side="right") - 1
        keep = valid & (slots >= 0) & self._covered[np.maximum(slots, 0)]
        kept = first[keep]
        return list(zip(starts[kept].tolist(), ends[kept + 3].tolist(), strict=True))

    def _spans_of_line(self, block: bytes) -> list[tuple[int, int]]:
        """What ``spans`` finds, by the line rule and the index's own lookup
        (Latin-1 keeps every byte one character, so offsets stay byte offsets)."""
        index = self._index
        return [(start, end) for start, end, value in ipv4_in(block.decode("latin-1")) if index.lookup(value)]


def _octets(data: Any, starts: Any, lengths: Any) -> Any:
    """The decimal value of each run of 1-3 digits."""
    value = (data[starts] - _ZERO).astype(np.int64)
    for place in (1, 2):
        more = lengths > place
        digits = data[np.minimum(starts + place, len(data) - 1)].astype(np.int64) - _ZERO
        value = np.where(more, value * 10 + digits, value)
    return value
