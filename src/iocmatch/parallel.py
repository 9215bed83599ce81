"""Scanning one large file on several cores.

The file is cut at line boundaries into pieces; worker processes (forked, so
the compiled matcher is shared, not copied through pickle) scan pieces with
the block path, reading each in blocks (a piece is never held whole); hit
lines come back in input order with file-wide line numbers and offsets.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, cast

from .blocks import BLOCK_SIZE, LINE_WINDOW
from .inputs import MeteredStream
from .logfiles import is_gzip

if TYPE_CHECKING:
    from .matcher import LineHits, Matcher
    from .model import Match
    from .stats import ScanStats

# Below this, starting processes costs more than it saves.
MIN_PARALLEL_BYTES = 8 << 20
PIECES_PER_WORKER = 4

_worker_matcher: Matcher | None = None
_worker_line_window = LINE_WINDOW


def can_split(path: str | os.PathLike[str]) -> bool:
    """Plain (not compressed) regular files, large enough to be worth it, on a
    platform that forks."""
    import multiprocessing  # slow to import: only when workers are asked for

    if "fork" not in multiprocessing.get_all_start_methods() or not os.path.isfile(path):
        return False
    with open(path, "rb") as stream:
        if is_gzip(stream.read(2)):
            return False
    return os.path.getsize(path) >= MIN_PARALLEL_BYTES


def hit_lines_parallel(
    matcher: Matcher,
    path: str | os.PathLike[str],
    workers: int,
    line_window: int = LINE_WINDOW,
    stopped: Callable[[], bool] = lambda: False,
    stats: ScanStats | None = None,
) -> Iterator[LineHits]:
    """Every hit line of the file, as ``Matcher.hit_lines`` gives them, in
    order; the pieces not yet scanned are dropped once ``stopped()``. The
    lines of the pieces scanned are added to ``stats``."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import numpy  # noqa: F401 - imported once here, not once in every worker (blocks.count_newlines)

    pieces = _pieces(path, workers * PIECES_PER_WORKER)
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_adopt, initargs=(matcher, line_window))
    try:
        lines_before = 0
        for hits, piece_stats in pool.map(_scan_piece, [(os.fspath(path), start, end) for start, end in pieces]):
            for number, offset, line, matches in hits:
                yield number + lines_before, offset, line, _renumbered(matches, lines_before)
            lines_before += piece_stats.lines_read
            if stats is not None:
                stats.lines_read += piece_stats.lines_read
                stats.lines_scanned += piece_stats.lines_scanned
                stats.long_lines += piece_stats.long_lines
                stats.unresolved += piece_stats.unresolved
            if stopped():
                break
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def scan_file_parallel(matcher: Matcher, path: str | os.PathLike[str], workers: int) -> Iterator[Match]:
    for _, _, _, matches in hit_lines_parallel(matcher, path, workers):
        yield from matches


def _renumbered(matches: list[Match], lines_before: int) -> list[Match]:
    return [dataclasses.replace(match, line=match.line + lines_before) for match in matches]


def _pieces(path: str | os.PathLike[str], wanted: int) -> list[tuple[int, int]]:
    """Byte ranges that start at a line start and end after a newline (or at EOF)."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as stream:
        for piece in range(1, wanted):
            position = _next_line_start(stream, max(cuts[-1], size * piece // wanted))
            if position >= size:
                break
            if position > cuts[-1]:
                cuts.append(position)
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def _next_line_start(stream: IO[bytes], position: int) -> int:
    """Where the line after the one holding ``position`` starts, found block
    by block (a line of gigabytes is not read into memory)."""
    stream.seek(position)
    while block := stream.read(BLOCK_SIZE):
        cut = block.find(b"\n")
        if cut >= 0:
            return position + cut + 1
        position += len(block)
    return position


class _Piece:
    """Bytes ``start`` to ``end`` of a file, read a block at a time."""

    def __init__(self, path: str, start: int, end: int) -> None:
        self._stream = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._stream.seek(start)
        self._left = end - start

    def read(self, size: int = -1) -> bytes:
        wanted = self._left if size < 0 else min(size, self._left)
        data = self._stream.read(wanted) if wanted > 0 else b""
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._stream.close()


def _adopt(matcher: Matcher, line_window: int) -> None:
    global _worker_matcher, _worker_line_window
    _worker_matcher = matcher
    _worker_line_window = line_window


def _scan_piece(piece: tuple[str, int, int]) -> tuple[list[LineHits], ScanStats]:
    """The hit lines of one piece (offsets in the file, numbers in the piece)
    and what its scan counted."""
    from .stats import ScanStats

    path, start, end = piece
    assert _worker_matcher is not None  # set by _adopt in every worker
    stream = _Piece(path, start, end)
    counted = MeteredStream(cast(IO[bytes], stream))
    stats = ScanStats()
    try:
        found = _worker_matcher.hit_lines(cast(IO[bytes], counted), line_window=_worker_line_window, stats=stats)
        hits = [(number, start + offset, line, matches) for number, offset, line, matches in found]
    finally:
        stream.close()
    stats.lines_read = stats.lines_scanned = counted.lines
    return hits, stats
