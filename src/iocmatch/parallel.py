"""Scanning one large file on several cores.

The file is cut at line boundaries into pieces; worker processes (forked, so
the compiled matcher is shared, not copied through pickle) scan pieces with
the block path; results come back in input order with file-wide line numbers.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .blocks import line_count

if TYPE_CHECKING:
    from .matcher import Matcher
    from .model import Match

# Below this, starting processes costs more than it saves.
MIN_PARALLEL_BYTES = 8 << 20
PIECES_PER_WORKER = 4

_worker_matcher: Matcher | None = None


def can_split(path: str | os.PathLike[str]) -> bool:
    """Plain (not compressed) regular files, large enough to be worth it, on a
    platform that forks."""
    import multiprocessing  # slow to import: only when workers are asked for

    if "fork" not in multiprocessing.get_all_start_methods() or not os.path.isfile(path):
        return False
    with open(path, "rb") as stream:
        if stream.read(2) == b"\x1f\x8b":
            return False
    return os.path.getsize(path) >= MIN_PARALLEL_BYTES


def scan_file_parallel(matcher: Matcher, path: str | os.PathLike[str], workers: int) -> Iterator[Match]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import numpy  # noqa: F401 - imported once here, not once in every worker (blocks.count_newlines)

    pieces = _pieces(path, workers * PIECES_PER_WORKER)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_adopt, initargs=(matcher,)) as pool:
        lines_before = 0
        for matches, lines in pool.map(_scan_piece, [(os.fspath(path), start, end) for start, end in pieces]):
            for match in matches:
                yield dataclasses.replace(match, line=match.line + lines_before)
            lines_before += lines


def _pieces(path: str | os.PathLike[str], wanted: int) -> list[tuple[int, int]]:
    """Byte ranges that start at a line start and end after a newline (or at EOF)."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as stream:
        for piece in range(1, wanted):
            stream.seek(max(cuts[-1], size * piece // wanted))
            stream.readline()  # finish the line the cut fell in
            position = stream.tell()
            if position >= size:
                break
            if position > cuts[-1]:
                cuts.append(position)
    cuts.append(size)
    return list(itertools.pairwise(cuts))


def _adopt(matcher: Matcher) -> None:
    global _worker_matcher
    _worker_matcher = matcher


def _scan_piece(piece: tuple[str, int, int]) -> tuple[list[Match], int]:
    path, start, end = piece
    assert _worker_matcher is not None  # set by _adopt in every worker
    with open(path, "rb") as stream:
        stream.seek(start)
        data = stream.read(end - start)
    return list(_worker_matcher.scan_stream(io.BytesIO(data))), line_count(data) if data else 0
