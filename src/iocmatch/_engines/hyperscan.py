"""Hyperscan as the block engine, where its wheel exists (Linux x86_64).

It only says where which key ends in a block; ASCII case is ignored by
Hyperscan itself (no lowered copy of the block). The occurrences are then
verified exactly like any other, so results never depend on it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

try:
    import hyperscan
except ImportError:  # no wheel for this platform: the Aho-Corasick engine serves
    AVAILABLE = False
else:
    AVAILABLE = True


class HyperscanEngine:
    """Safe to scan with from many threads: a scan needs scratch space of its
    own, so each thread is given one (a clone, cheap) at its first scan."""

    __slots__ = ("_database", "_scratch")
    folds_ascii = True

    def __init__(self, keys: Sequence[str]) -> None:
        """``keys`` are distinct; a candidate names its key by its index."""
        self._database: Any
        self._scratch = threading.local()
        literals = [(index, key.encode("utf-8")) for index, key in enumerate(keys) if key]
        self._database = _compile(literals) if literals else None

    @classmethod
    def of_expressions(cls, expressions: Sequence[bytes]) -> HyperscanEngine:
        """An engine of regular expressions, case kept: a candidate is where
        one ends (every end of every match), named by its index."""
        engine = cls.__new__(cls)
        engine._scratch = threading.local()
        engine._database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        engine._database.compile(
            expressions=list(expressions), ids=list(range(len(expressions))), elements=len(expressions)
        )
        return engine

    def candidates(self, block: bytes) -> list[tuple[int, int]]:
        """(end offset, key index) of every key in ``block``, ASCII case ignored."""
        if self._database is None:
            return []
        found: list[tuple[int, int]] = []
        add = found.append

        def on_match(key: int, _start: int, end: int, _flags: int, _context: object) -> None:
            add((end, key))

        scratch = getattr(self._scratch, "space", None)
        if scratch is None:
            scratch = self._scratch.space = hyperscan.Scratch(self._database)
        self._database.scan(block, match_event_handler=on_match, scratch=scratch)
        return found

    def __getstate__(self) -> tuple[bytes | None]:
        return (hyperscan.dumpb(self._database) if self._database is not None else None,)

    def __setstate__(self, state: tuple[bytes | None]) -> None:
        (dumped,) = state
        self._database = None
        self._scratch = threading.local()
        if dumped is not None:
            self._database = hyperscan.loadb(dumped, hyperscan.HS_MODE_BLOCK)


def _compile(literals: list[tuple[int, bytes]]) -> Any:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(
        expressions=[literal for _, literal in literals],
        ids=[index for index, _ in literals],
        elements=len(literals),
        flags=[hyperscan.HS_FLAG_CASELESS] * len(literals),
        literal=True,
    )
    return database
