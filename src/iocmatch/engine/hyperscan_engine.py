"""Hyperscan as the block engine, where its wheel exists (Linux x86_64).

It only says where keys end in a block of ASCII-lowered bytes; the lines there
are then scanned exactly like any other, so results never depend on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

try:
    import hyperscan
except ImportError:  # no wheel for this platform: the Aho-Corasick engine serves
    AVAILABLE = False
else:
    AVAILABLE = True


class HyperscanEngine:
    __slots__ = ("_database",)

    def __init__(self, keys: Iterable[str]) -> None:
        self._database: Any
        literals = sorted({key.encode("utf-8") for key in keys if key})
        self._database = _compile(literals) if literals else None

    def line_ends(self, folded: bytes) -> list[int]:
        if self._database is None:
            return []
        ends: list[int] = []

        def on_match(_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            ends.append(end)

        self._database.scan(folded, match_event_handler=on_match)
        return ends

    def __getstate__(self) -> tuple[bytes | None]:
        return (hyperscan.dumpb(self._database) if self._database is not None else None,)

    def __setstate__(self, state: tuple[bytes | None]) -> None:
        (dumped,) = state
        self._database = None
        if dumped is not None:
            # A loaded database has no scratch space until it is given one.
            self._database = hyperscan.loadb(dumped, hyperscan.HS_MODE_BLOCK)
            self._database.scratch = hyperscan.Scratch(self._database)


def _compile(literals: list[bytes]) -> Any:
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=literals, ids=list(range(len(literals))), elements=len(literals), literal=True)
    return database
