"""The two scanning paths over a compiled set: one line at a time, and a
binary stream in blocks, where only the lines that may hold a hit are
decoded and looked at. Both give the same matches for the same lines."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO

from .._common.model import Match
from .._common.stats import ScanStats
from .._compiling.compiled import WHOLE_LINE, CompiledSet
from .._compiling.line_text import Line, as_text
from .blocks import BLOCK_SIZE, LINE_WINDOW, BlockLines, LinePiece, read_blocks
from .long_lines import LongLine, scan_long_text

LineHits = tuple[int, int, bytes, list[Match]]  # line number, byte offset, the line, its matches


def scan_line(compiled: CompiledSet, line: Line | None, number: int = 1, when: float | None = None) -> list[Match]:
    """Every match in one line, sorted by start then end. None (a missing
    value, as a null column gives) has none; a line longer than the line
    window is scanned in windows, in bounded memory beyond the line itself.
    At event time the line is judged at ``when`` (POSIX seconds), else at
    the time it carries."""
    if line is None:
        return []
    if not isinstance(line, (str, bytes, bytearray, memoryview)):
        # bytes(5) would be five NUL bytes, bytes(10**10) ten gigabytes.
        raise TypeError(f"scan_line takes a str or bytes line, not {type(line).__name__}")
    text = as_text(line)
    if len(text) > LINE_WINDOW:
        return scan_long_text(compiled, text, number, when=when)
    found = compiled.found_in(text)
    return compiled.resolve(text, number, found, when) if found else []


def hit_lines(
    compiled: CompiledSet,
    stream: IO[bytes],
    block_size: int = BLOCK_SIZE,
    line_window: int = LINE_WINDOW,
    stats: ScanStats | None = None,
    current: Callable[[], CompiledSet] | None = None,
) -> Iterator[LineHits]:
    """Every line of a binary stream that holds a hit: (line number, byte
    offset of the line, the line without its newline, its matches). From a
    pipe, lines are handed over as they arrive, not when a block is full.

    A line longer than ``line_window`` is scanned in windows as it is read:
    its matches come window by window, each time with the line's first 64 KiB
    standing for the line (``long_lines.py``).

    ``current``, when given, names the compiled set to scan each block with,
    asked before the block (a long line keeps the one it began with)."""
    lines_before = 0
    offset = 0
    long_line: LongLine | None = None
    line_offset = 0
    for block in read_blocks(stream, block_size, line_window):
        if current is not None and long_line is None:
            compiled = current()
        if isinstance(block, LinePiece):
            if long_line is None:
                long_line, line_offset = LongLine(compiled, lines_before + 1, line_window), offset
            for matches, _ in long_line.take(block):
                yield lines_before + 1, line_offset, long_line.head, matches
            offset += len(block.data)
            if block.last:
                if stats is not None:
                    long_line.count_into(stats)
                lines_before += 1
                long_line = None
            continue
        lines = BlockLines(block)
        for number, line_start, line, matches in _scan_block(compiled, block, lines, lines_before):
            yield number, offset + line_start, line, matches
        lines_before += lines.count()
        offset += len(block)


def _scan_block(compiled: CompiledSet, block: bytes, lines: BlockLines, lines_before: int) -> Iterator[LineHits]:
    candidates, whole_lines = compiled.block_candidates(block)
    events = candidates
    events.extend((offset, offset + 1, WHOLE_LINE) for offset in whole_lines)
    for number, line_start, line, in_line in lines.with_events(events):
        if line.isascii() and all(key != WHOLE_LINE for _, _, key in in_line):
            # ASCII-lowered bytes are the line's own folding: the block's
            # candidates are the line's, at the same offsets.
            text = line.decode("ascii")
            # as_text's line-end rule (the "\n" is already cut off), inline:
            # calling as_text per candidate line made this loop 5-15% slower.
            if text.endswith("\r"):
                text = text[:-1]
            found = compiled.verified(text, line_start, in_line)
            matches = compiled.resolve(text, lines_before + number, found) if found else []
        else:
            matches = scan_line(compiled, line, lines_before + number)
        if matches:
            yield lines_before + number, line_start, line, matches
