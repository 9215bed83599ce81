"""Scanning a file in large blocks: find the few lines that may hold a hit
without any Python work on the lines that hold nothing.

A block engine reports where any key ends in a whole block of ASCII-lowered
bytes; only the lines around those offsets are decoded and scanned, by the
same per-line code as everything else, so the block path can select too many
lines but never decide a hit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import IO

BLOCK_SIZE = 1 << 20


def read_blocks(stream: IO[bytes], size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """Blocks of whole lines (the last may lack its newline); a line longer
    than ``size`` makes a longer block, so memory follows the longest line."""
    # read1 hands over what it has: a damaged gzip member loses only its tail.
    read = getattr(stream, "read1", stream.read)
    # The pieces of a line longer than one read, joined once when it ends
    # (joining at every read would copy a 64 MB line 64 times).
    pending: list[bytes] = []
    try:
        while chunk := read(size):
            cut = chunk.rfind(b"\n")
            if cut < 0:
                pending.append(chunk)
                continue
            pending.append(chunk[: cut + 1])
            yield b"".join(pending)
            pending = [chunk[cut + 1 :]] if cut + 1 < len(chunk) else []
    except (EOFError, zlib.error):
        if pending:
            yield b"".join(pending)  # the lines read so far are scanned before the error is raised
        raise
    if pending:
        yield b"".join(pending)


def line_count(block: bytes) -> int:
    return count_newlines(block) + (0 if block.endswith(b"\n") else 1)


Event = tuple[int, int, int]  # start, end, tag


class BlockLines:
    """The lines of one block, each newline counted once however the block is asked."""

    __slots__ = ("_block", "_counted", "_newlines")

    def __init__(self, block: bytes) -> None:
        self._block = block
        self._counted = 0  # newlines before this offset are in _newlines
        self._newlines = 0

    def with_events(self, events: list[Event]) -> Iterator[tuple[int, int, bytes, list[Event]]]:
        """The lines holding any of ``events`` ((start, end, tag), byte offsets;
        an event belongs to the line its start is in), in order: (1-based
        number within the block, offset of the line, the line without its
        newline, its events)."""
        block = self._block
        line_start = 0
        line_end = -1
        in_line: list[Event] = []
        for event in sorted(events):
            offset = event[0]
            if offset <= line_end:
                in_line.append(event)
                continue
            if in_line:
                yield self._newlines + 1, line_start, block[line_start:line_end], in_line
            line_start = block.rfind(b"\n", 0, offset) + 1
            line_end = block.find(b"\n", offset)
            if line_end < 0:
                line_end = len(block)
            self._newlines += count_newlines(block, self._counted, line_start)
            self._counted = line_start
            in_line = [event]
        if in_line:
            yield self._newlines + 1, line_start, block[line_start:line_end], in_line

    def count(self) -> int:
        """How many lines the block holds (the last may lack its newline)."""
        self._newlines += count_newlines(self._block, self._counted)
        self._counted = len(self._block)
        return self._newlines + (0 if self._block.endswith(b"\n") else 1)


def count_newlines(block: bytes, start: int = 0, end: int | None = None) -> int:
    end = len(block) if end is None else end
    if end - start < _SHORT:
        return block.count(b"\n", start, end)
    # numpy compares 16 or 32 bytes at a time: three times bytes.count on large
    # spans. Imported here, as only files of many blocks need it.
    import numpy

    return int(numpy.count_nonzero(numpy.frombuffer(block, numpy.uint8, end - start, start) == _NEWLINE))


_SHORT = 4096
_NEWLINE = ord("\n")
