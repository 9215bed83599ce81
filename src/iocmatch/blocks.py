"""Scanning a file in large blocks: find the few lines that may hold a hit
without any Python work on the lines that hold nothing.

A block engine reports where any key ends in a whole block of ASCII-lowered
bytes; only the lines around those offsets are decoded and scanned, by the
same per-line code as everything else, so the block path can select too many
lines but never decide a hit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from typing import IO

BLOCK_SIZE = 1 << 20


def read_blocks(stream: IO[bytes], size: int = BLOCK_SIZE) -> Iterator[bytes]:
    """Blocks of whole lines (the last may lack its newline); a line longer
    than ``size`` makes a longer block, so memory follows the longest line."""
    # read1 hands over what it has: a damaged gzip member loses only its tail.
    read = getattr(stream, "read1", stream.read)
    carry = b""
    try:
        while chunk := read(size):
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            yield data[: cut + 1]
            carry = data[cut + 1 :]
    except (EOFError, zlib.error):
        if carry:
            yield carry  # the lines read so far are scanned before the error is raised
        raise
    if carry:
        yield carry


def line_count(block: bytes) -> int:
    return block.count(b"\n") + (0 if block.endswith(b"\n") else 1)


def lines_at(block: bytes, offsets: Iterable[int]) -> Iterator[tuple[int, bytes]]:
    """The lines of ``block`` holding any of ``offsets`` (byte indices), once
    each, in order, with their 1-based number within the block."""
    number = 0
    counted = 0
    line_end = -1
    for offset in sorted(offsets):
        if offset <= line_end:
            continue  # this line is already out
        start = block.rfind(b"\n", 0, offset) + 1
        line_end = block.find(b"\n", offset)
        if line_end < 0:
            line_end = len(block)
        number += block.count(b"\n", counted, start)
        counted = start
        yield number + 1, block[start:line_end]
