"""Which lines of a block may hold a hit, and where: the block path's one decision.

A block engine reports where which key ends in the ASCII-lowered block; most
keys are the line scan's own needles, and any occurrence picks its line. Keys
for IPv4 networks carry a check first, so that ``8.125.`` does not pick every
line holding ``10.28.125.4``. For very large sets, a token engine finds the
domains and hashes, and an IPv4 sieve the addresses in a range, beside the
block engine that keeps the other keys. Each occurrence is then verified by
the same boundary rules as on the line path, so a key may pick too much,
never too little.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .ipv4_sieve import IPv4Sieve
    from .tokens import TokenEngine

# What a key's occurrence must satisfy to pick its line.
ANYWHERE = 0
AFTER_NON_DIGIT = 1  # the first octets of an IPv4 network: "8.125." not inside "28.125."
MAPPED_IPV4_HEX = 2  # "::ffff:" before a hex group and a colon ("::ffff:c000:262", not "::ffff:192.0.2.98")

_HEX_GROUP = re.compile(rb"[0-9a-fA-F]{1,4}:")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_DIGITS = frozenset(b"0123456789")


class BlockEngine(Protocol):
    # True: ``candidates`` ignores ASCII case itself; False: it is given the block ASCII-lowered.
    folds_ascii: bool

    def candidates(self, block: bytes) -> list[tuple[int, int]]:
        """(end offset, key index) of every key occurrence in ``block``."""


class LinePicker:
    """Finds the key occurrences in a block that may make a hit."""

    __slots__ = ("_address_key", "_checks", "_engine", "_lengths", "_non_ascii_keys", "_sieve", "_tokens")

    def __init__(
        self,
        engine: BlockEngine,
        keys: Sequence[str],
        checks: Sequence[int],
        *,
        tokens: TokenEngine | None = None,
        sieve: IPv4Sieve | None = None,
        address_key: int = -1,
    ) -> None:
        """``checks[i]`` is what an occurrence of ``keys[i]`` must satisfy.
        ``engine`` looks for every key except those ``tokens`` holds; what
        ``sieve`` finds is reported under ``address_key``."""
        self._engine = engine
        self._tokens = tokens
        self._sieve = sieve
        self._address_key = address_key
        self._lengths = tuple(len(key.encode("utf-8")) for key in keys)
        self._checks = tuple(checks)
        self._non_ascii_keys = not all(key.isascii() for key in keys)

    def pick(self, block: bytes) -> tuple[list[tuple[int, int, int]], list[int]]:
        """(start, end, key index) of every key occurrence that passes its
        check, and offsets of lines that need the line's own folding (their
        candidates in lowered bytes may be incomplete)."""
        folded = block if self._engine.folds_ascii else block.lower()
        checks = self._checks
        lengths = self._lengths
        found = self._engine.candidates(folded)
        candidates = []
        try:
            for end, key in found:
                start = end - lengths[key]
                check = checks[key]
                if start < 0 or (check and not _passes(check, folded, start, end)):
                    continue  # (a start before the block: a key's length that is not the engine's)
                candidates.append((start, end, key))
        except IndexError:
            candidates = self._known_only(found, folded)
        if self._tokens is not None:
            candidates += self._tokens.spans(block)
        if self._sieve is not None:
            address_key = self._address_key
            candidates += [(start, end, address_key) for start, end in self._sieve.spans(block)]
        # Only ASCII is lowered in bytes: non-ASCII keys need the line's own folding.
        whole_lines = [found.start() for found in _NON_ASCII.finditer(block)] if self._non_ascii_keys else []
        return candidates, whole_lines

    def occurrences(self, data: bytes) -> list[tuple[int, int, int]]:
        """(start, end, key index) of every key in case-folded UTF-8 ``data``,
        unchecked: the line path, which finds addresses by itself."""
        lengths = self._lengths
        candidates = self._engine.candidates(data)
        try:
            found = [(end - lengths[key], end, key) for end, key in candidates if end >= lengths[key]]
        except IndexError:
            known = [(end, key) for end, key in candidates if 0 <= key < len(lengths)]
            found = [(end - lengths[key], end, key) for end, key in known if end >= lengths[key]]
        if self._tokens is not None:
            found += self._tokens.spans(data)
        return found

    def _known_only(self, found: list[tuple[int, int]], folded: bytes) -> list[tuple[int, int, int]]:
        """``pick``'s candidates without key numbers the tables do not have (an engine's
        database from a damaged matcher file): a line is never the cause of a raise."""
        lengths, checks = self._lengths, self._checks
        kept = []
        for end, key in found:
            if not 0 <= key < len(lengths):
                continue
            start = end - lengths[key]
            if start < 0 or (checks[key] and not _passes(checks[key], folded, start, end)):
                continue
            kept.append((start, end, key))
        return kept

    def check(self, key: int) -> int:
        return self._checks[key]


def _passes(check: int, folded: bytes, start: int, end: int) -> bool:
    if check == MAPPED_IPV4_HEX:
        return _HEX_GROUP.match(folded, end) is not None
    return start == 0 or folded[start - 1] not in _DIGITS
