"""Records put back in time order, in bounded memory.

A scan of several logs reads them one after another, and a log is not
always written in time order (a Zeek conn record is stamped with the start
of a connection and written at its end). ``TimeOrder`` takes items
``(microseconds, index, ...)`` in any order and gives them back sorted by
time, then index. Up to ``in_memory`` items (or ``in_memory_bytes`` of the
text they carry) are kept in a heap; past that, the heap is appended to one
unnamed temporary file as a sorted run and emptied, and ``drain`` merges the
runs (each read through a small buffer of its own, at its own offset, so
one file descriptor serves them all) with what is still in memory. Memory
holds one heap, and a buffer and an item per run, whatever the number of
items.
"""

from __future__ import annotations

import heapq
import io
import os
import pickle
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from .._common.errors import IocmatchError

# Items kept in memory at most before a sorted run is written to disk.
IN_MEMORY = 100_000
# Bytes of item text kept in memory at most (lines of up to the line window each).
IN_MEMORY_BYTES = 64 << 20
# The read buffer of each run while they are merged.
_RUN_BUFFER = 16 << 10

Item = tuple[Any, ...]  # (microseconds, index, ...): index unique, so the rest is never compared


class TimeOrder:
    """Items given back in time order once all are in (``drain``)."""

    def __init__(self, in_memory: int = IN_MEMORY, in_memory_bytes: int = IN_MEMORY_BYTES) -> None:
        self._heap: list[Item] = []
        self._bytes = 0
        self._in_memory, self._in_memory_bytes = in_memory, in_memory_bytes
        self._file: IO[bytes] | None = None  # the runs, one after another
        self._runs: list[tuple[int, int]] = []  # each run's start and end in the file
        self.spilled = 0  # items written to disk

    def push(self, item: Item, size: int = 0) -> None:
        """Add ``item``; ``size``: the bytes of text it carries."""
        heapq.heappush(self._heap, item)
        self._bytes += size
        if len(self._heap) >= self._in_memory or self._bytes >= self._in_memory_bytes:
            self._spill()

    def __len__(self) -> int:
        return len(self._heap) + self.spilled

    def drain(self) -> Iterator[Item]:
        """Every item, in time order; afterwards the order is empty."""
        heap, self._heap, self._bytes = self._heap, [], 0
        runs, self._runs, self.spilled = self._runs, [], 0
        file, self._file = self._file, None
        try:
            readers = [] if file is None else [_read_run(file.fileno(), start, end) for start, end in runs]
            yield from heapq.merge(*readers, _popped(heap))
        finally:
            if file is not None:
                file.close()

    def close(self) -> None:
        """Forget every item and delete the runs on disk."""
        if self._file is not None:
            self._file.close()
        self._file, self._runs, self._heap, self._bytes, self.spilled = None, [], [], 0, 0

    def _spill(self) -> None:
        try:
            self._write_run()
        except OSError as exc:  # a full disk is the temporary folder's, not the log being read
            where, reason = tempfile.gettempdir(), exc.strerror or exc
            raise IocmatchError(f"cannot keep records in time order in {where} (TMPDIR): {reason}") from None

    def _write_run(self) -> None:
        if self._file is None:
            # Open until drained or closed: the runs outlive this call.
            self._file = tempfile.TemporaryFile(prefix="iocmatch-order-")  # noqa: SIM115
        start = self._file.seek(0, os.SEEK_END)
        pickler = pickle.Pickler(self._file, protocol=pickle.HIGHEST_PROTOCOL)
        for item in _popped(self._heap):
            pickler.dump(item)
            pickler.clear_memo()  # items are independent: the memo would only grow
            self.spilled += 1
        self._file.flush()
        self._runs.append((start, self._file.tell()))
        self._heap, self._bytes = [], 0


def _popped(heap: list[Item]) -> Iterator[Item]:
    while heap:
        yield heapq.heappop(heap)


class _Slice(io.RawIOBase):
    """Bytes ``start``..``end`` of a file, read at their offset (the descriptor's own offset is left alone)."""

    def __init__(self, descriptor: int, start: int, end: int) -> None:
        self._descriptor, self._at, self._end = descriptor, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._end - self._at)
        if size <= 0:
            return 0
        data = os.pread(self._descriptor, size, self._at)
        buffer[: len(data)] = data
        self._at += len(data)
        return len(data)


def _read_run(descriptor: int, start: int, end: int) -> Iterator[Item]:
    """A run's items, read one at a time."""
    # The run is in an unnamed temporary file this process wrote: no one else's data is unpickled.
    unpickler = pickle.Unpickler(io.BufferedReader(_Slice(descriptor, start, end), _RUN_BUFFER))  # noqa: S301
    while True:
        try:
            yield unpickler.load()
        except EOFError:
            return
