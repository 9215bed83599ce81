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
import signal
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol, cast

from .blocks import BLOCK_SIZE, LINE_WINDOW, next_line_start
from .inputs import MeteredStream
from .lines import LineHits
from .logfiles import is_gzip_file

if TYPE_CHECKING:
    from .._common.model import Match
    from .._common.stats import ScanStats


class StreamScanner(Protocol):
    """What scans a piece: a Matcher."""

    def hit_lines(
        self, stream: IO[bytes], block_size: int = ..., line_window: int = ..., stats: ScanStats | None = ...
    ) -> Iterator[LineHits]: ...


_POLL_SECONDS = 0.2
# Below this, starting processes costs more than it saves.
MIN_PARALLEL_BYTES = 8 << 20
PIECES_PER_WORKER = 4

_worker_matcher: StreamScanner | None = None
_worker_line_window = LINE_WINDOW


def can_split(path: str | os.PathLike[str]) -> bool:
    """Plain (not compressed) regular files, large enough to be worth it, on a
    platform that forks."""
    import multiprocessing  # slow to import: only when workers are asked for

    if "fork" not in multiprocessing.get_all_start_methods() or not os.path.isfile(path):
        return False
    return not is_gzip_file(path) and os.path.getsize(path) >= MIN_PARALLEL_BYTES


class ParallelScan:
    """Every hit line of a file scanned by ``workers`` processes, as
    ``Matcher.hit_lines`` gives them, in order (iterate it). Once
    ``stopped()``, the pieces not yet scanned are dropped and the workers
    ended at once; ``complete`` then says whether every piece was scanned.
    The lines of the pieces scanned are added to ``stats``."""

    def __init__(
        self,
        matcher: StreamScanner,
        path: str | os.PathLike[str],
        workers: int,
        line_window: int = LINE_WINDOW,
        stopped: Callable[[], bool] = lambda: False,
        stats: ScanStats | None = None,
    ) -> None:
        self._matcher, self._path, self._workers = matcher, os.fspath(path), workers
        self._line_window, self._stopped, self._stats = line_window, stopped, stats
        self.complete = False

    def __iter__(self) -> Iterator[LineHits]:
        import multiprocessing

        import numpy  # noqa: F401 - imported once here, not once in every worker (blocks.count_newlines)

        pieces = _pieces(self._path, self._workers * PIECES_PER_WORKER)
        context = multiprocessing.get_context("fork")
        pool = context.Pool(self._workers, initializer=_adopt, initargs=(self._matcher, self._line_window))
        try:
            lines_before = 0
            done = 0
            results = pool.imap(_scan_piece, [(self._path, start, end) for start, end in pieces])
            for hits, piece_stats in _until_stopped(results, len(pieces), self._stopped):
                for number, offset, line, matches in hits:
                    if self._stopped():  # a piece dense with hits takes long to write
                        return
                    yield number + lines_before, offset, line, _renumbered(matches, lines_before)
                lines_before += piece_stats.lines_read
                self._count(piece_stats)
                done += 1
                if self._stopped():
                    return
            self.complete = done == len(pieces)
        finally:
            # Workers still scanning a piece no one will read are ended, not waited for.
            pool.terminate()
            pool.join()

    def _count(self, piece: ScanStats) -> None:
        if self._stats is not None:
            self._stats.lines_read += piece.lines_read
            self._stats.lines_scanned += piece.lines_scanned
            self._stats.long_lines += piece.long_lines
            self._stats.unresolved += piece.unresolved


def _until_stopped(results: Any, count: int, stopped: Callable[[], bool]) -> Iterator[Any]:
    """The ``count`` results of an ``imap``, waited for in short slices so a
    stop does not wait for a piece still being scanned."""
    import multiprocessing

    for _ in range(count):
        while True:
            if stopped():
                return
            try:
                yield results.next(timeout=_POLL_SECONDS)
                break
            except multiprocessing.TimeoutError:
                continue


def scan_file_parallel(matcher: StreamScanner, path: str | os.PathLike[str], workers: int) -> Iterator[Match]:
    for _, _, _, matches in ParallelScan(matcher, path, workers):
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
        cut = next_line_start(block)
        if cut >= 0:
            return position + cut
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


def _adopt(matcher: StreamScanner, line_window: int) -> None:
    global _worker_matcher, _worker_line_window  # noqa: PLW0603 - how a pool initializer gives a worker its matcher
    _worker_matcher = matcher
    _worker_line_window = line_window
    # A stop is the parent's to decide: Ctrl-C reaches the whole process
    # group, and the handler forked with us only records it. SIGTERM keeps
    # its default, so that ending the pool ends the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _scan_piece(piece: tuple[str, int, int]) -> tuple[list[LineHits], ScanStats]:
    """The hit lines of one piece (offsets in the file, numbers in the piece)
    and what its scan counted."""
    from .._common.stats import ScanStats

    path, start, end = piece
    assert _worker_matcher is not None  # noqa: S101 - narrows the type: _adopt sets it in every worker
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
