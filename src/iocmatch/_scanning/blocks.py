"""Scanning a stream in large blocks: find the few lines that may hold a hit
without any Python work on the lines that hold nothing.

A block engine reports where any key ends in a whole block of ASCII-lowered
bytes; only the lines around those offsets are decoded and scanned, by the
same per-line code as everything else, so the block path can select too many
lines but never decide a hit.

Every reader of logs cuts its bytes into lines here (``LineSplitter``), so a
line longer than the line window is never held whole: it is handed over as
``LinePiece``s and scanned in overlapping windows (``long_lines.py``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

BLOCK_SIZE = 1 << 20
# A line longer than this is scanned in overlapping windows of about this
# size instead of being held whole: memory stays bounded whatever the input,
# and ordinary lines (even 1 MB JSON events) are still read whole.
LINE_WINDOW = 4 << 20


@dataclass(frozen=True, slots=True)
class LinePiece:
    """Consecutive bytes of one line longer than the line window.

    ``last``: the line ends with this piece (its newline, or the end of the
    stream; the piece may then be empty).
    """

    data: bytes
    last: bool


def next_line_start(data: bytes, start: int = 0) -> int:
    """Where in ``data`` the line after the one holding ``data[start]``
    starts (just past its newline); -1 when that line goes on past ``data``."""
    end = data.find(b"\n", start)
    return end + 1 if end >= 0 else -1


# What a splitter hands over: a block of whole lines (the last may lack its
# newline only at the end of a stream), or a piece of a long line.
Block = bytes | LinePiece


class LineSplitter:
    """Cuts bytes, as they arrive, into blocks of whole lines and the pieces
    of lines longer than ``line_window``.

    A line shorter than the window is held until its newline, then handed
    over whole, in the block of the read that completed it (so a block can
    exceed the window by one read). A line that grows past the window is
    handed over in pieces, one a read, and never joined.
    """

    __slots__ = ("_held", "_held_size", "_in_long_line", "_window")

    def __init__(self, line_window: int = LINE_WINDOW) -> None:
        self._window = max(1, line_window)
        self._held: list[bytes] = []  # the start of a line, waiting for its newline
        self._held_size = 0
        self._in_long_line = False

    def push(self, data: bytes) -> list[Block]:
        """What ``data`` completes: blocks of whole lines, pieces of a long line."""
        out: list[Block] = []
        if self._in_long_line:
            cut = next_line_start(data)
            if cut < 0:
                if data:
                    out.append(LinePiece(data, False))
                return out
            out.append(LinePiece(data[:cut], True))
            self._in_long_line = False
            data = data[cut:]
        # The last newline, not the next: a read's whole lines go out as one block.
        cut = data.rfind(b"\n")
        if cut >= 0:
            # The held start of a line is joined once, when its line ends
            # (joining at every read copied a 64 MB line 64 times).
            self._held.append(data[: cut + 1])
            out.append(b"".join(self._held))
            data = data[cut + 1 :]
            self._held, self._held_size = [], 0
        if data:
            self._held.append(data)
            self._held_size += len(data)
            if self._held_size > self._window:
                out.append(LinePiece(b"".join(self._held), False))
                self._held, self._held_size = [], 0
                self._in_long_line = True
        return out

    def end(self) -> list[Block]:
        """The stream ended: the last line, without its newline, is complete."""
        if self._in_long_line:
            self._in_long_line = False
            return [LinePiece(b"", True)]
        if self._held:
            block = b"".join(self._held)
            self._held, self._held_size = [], 0
            return [block]
        return []


def read_blocks(stream: IO[bytes], size: int = BLOCK_SIZE, line_window: int = LINE_WINDOW) -> Iterator[Block]:
    """Blocks of whole lines (the last may lack its newline) and the pieces of
    lines longer than ``line_window``, read ``size`` bytes at a time."""
    # read1 hands over what it has: from a pipe, a line is scanned as soon as
    # it arrives; a damaged gzip member loses only its tail.
    read = getattr(stream, "read1", stream.read)
    splitter = LineSplitter(line_window)
    try:
        while chunk := read(size):
            yield from splitter.push(chunk)
    except (EOFError, zlib.error):
        yield from splitter.end()  # the lines read so far are scanned before the error is raised
        raise
    yield from splitter.end()


# (line number, byte offset of the line, the line with its newline, or a piece of it)
NumberedLine = tuple[int, int, "bytes | LinePiece"]


class LineNumbers:
    """Numbers the lines of a stream's blocks and pieces, for the readers that
    go line by line (JSON events, followed files): each whole line as
    (number, offset, line), each piece of a long line as (number, offset of
    the line, piece)."""

    __slots__ = ("_line_start", "number", "offset")

    def __init__(self) -> None:
        self.number = 0  # lines completed
        self.offset = 0  # bytes handed over
        self._line_start = 0

    def restart(self) -> None:
        """The file was rotated or truncated: numbers and offsets start again."""
        self.number = self.offset = self._line_start = 0

    def lines(self, block: Block) -> Iterator[NumberedLine]:
        if isinstance(block, LinePiece):
            yield self.number + 1, self._line_start, block
            self.offset += len(block.data)
            if block.last:
                self.number += 1
                self._line_start = self.offset
            return
        start = 0
        # next_line_start's rule, inline: a call per line made this loop ~8% slower.
        while (end := block.find(b"\n", start)) >= 0:
            self.number += 1
            yield self.number, self.offset, block[start : end + 1]
            self.offset += end + 1 - start
            start = end + 1
        if start < len(block):
            self.number += 1
            yield self.number, self.offset, block[start:]
            self.offset += len(block) - start
        self._line_start = self.offset


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
            # Only the lines holding an event are found, both ways from it; the
            # rest of the block is never cut into lines (the block path's speed).
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
