"""Opening logs: files and stdin, plain or gzip (told apart by their first
bytes, wherever they come from), and reads a stop request can end.

A stop (SIGINT, SIGTERM) must end a scan between two reads with what was read
so far scanned, so every read here can be ended:

* a pipe, a terminal or a FIFO is waited on in short slices (``select``), so
  a read that would block returns end-of-input once ``stopped()`` says so
  (and opening a FIFO, which waits for a writer, can be interrupted);
* a regular file never blocks: once stopped, its reader hands over the rest
  of the line in progress and then ends, so a stop never cuts a line in two
  (which could make a false hit of the half before the cut).
"""

from __future__ import annotations

import errno
import gzip
import os
import select
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import IO, cast

from .blocks import next_line_start
from .stopping import interruptible

GZIP_MAGIC = b"\x1f\x8b"
# After a stop, how far a regular file is still read to finish the line in progress.
LINE_END_BUDGET = 1 << 20
_POLL_SECONDS = 0.2

Stopped = Callable[[], bool]


def is_gzip(head: bytes) -> bool:
    return head[: len(GZIP_MAGIC)] == GZIP_MAGIC


def is_gzip_file(path: str | os.PathLike[str]) -> bool:
    """Whether a regular file is gzip, told by content as ``opened_log`` tells
    it (a pipe or FIFO is peeked at there instead: it cannot be read twice).
    Raises OSError when it cannot be read."""
    with open(path, "rb") as stream:
        return is_gzip(stream.read(len(GZIP_MAGIC)))


class InputStream:
    """The bytes of one file descriptor, with ``read``/``read1`` that return
    whatever is there (one system call each) and end early on a stop.

    ``tell()`` is how many bytes were read; ``regular`` says whether it is a
    regular file (which has a size and an end of its own)."""

    def __init__(self, fd: int, stopped: Stopped | None = None) -> None:
        self._fd = fd
        self._stopped = stopped
        self._prefix = b""  # bytes peeked at, handed over first
        self._read = 0
        mode = os.fstat(fd).st_mode
        self.regular = stat.S_ISREG(mode)
        self.ended = False  # the input's own end was reached (not a stop)
        self._waits = not self.regular

    def read1(self, size: int = -1) -> bytes:
        if self._prefix:
            data, self._prefix = self._prefix, b""
            return data
        size = size if size > 0 else 1 << 20
        if self._waits and not self._wait_for_data():
            return b""
        data = os.read(self._fd, size)
        self._read += len(data)
        self.ended = not data
        return data

    def peek(self, count: int) -> bytes:
        """The first ``count`` bytes still to be read (fewer at the end of
        input, or when stopped), handed over again by the next read."""
        while len(self._prefix) < count:
            held, self._prefix = self._prefix, b""
            data = self.read1(count - len(held))
            self._prefix = held + data
            if not data:
                break
        return self._prefix[:count]

    def read(self, size: int = -1) -> bytes:
        if size >= 0:
            return self.read1(size)
        pieces = []
        while piece := self.read1(1 << 20):
            pieces.append(piece)
        return b"".join(pieces)

    def tell(self) -> int:
        return self._read

    def fileno(self) -> int:
        return self._fd

    def _wait_for_data(self) -> bool:
        """Until the descriptor has data (or its end) to read: False once stopped."""
        if self._stopped is None:
            return True
        while not self._stopped():
            try:
                ready, _, _ = select.select([self._fd], [], [], _POLL_SECONDS)
            except (OSError, ValueError):  # select cannot wait on it (a platform's pipes): plain reads
                self._waits = False
                return True
            if ready:
                return True
        return False


def read_to_end(stream: IO[bytes], raw: InputStream) -> bool:
    """Whether a log opened by ``opened_log`` was read to its own end, not cut by a stop."""
    return bool(getattr(stream, "ended", raw.ended))


class _LineEndOnStop:
    """A regular file's decoded bytes; once stopped, the line in progress is
    finished (within ``LINE_END_BUDGET`` bytes) and then the stream ends.
    ``ended``: the file's own end was reached (a stop that came with nothing
    left cuts nothing)."""

    def __init__(self, stream: IO[bytes], stopped: Stopped) -> None:
        self._read = getattr(stream, "read1", stream.read)
        self._stopped = stopped
        self._at_line_start = True
        self._done = False
        self._after_stop = 0
        self.ended = False

    def read1(self, size: int = -1) -> bytes:
        if self._done:
            return b""
        data: bytes = self._read(size)
        if not data:
            self._done = self.ended = True
            return data
        if self._stopped():
            cut = 0 if self._at_line_start else next_line_start(data)
            # A line of gigabytes is not read to its end after a stop: cut
            # (and said so), since a stop ends reading.
            self._after_stop += len(data)
            if cut >= 0 or self._after_stop > LINE_END_BUDGET:
                self._done = True  # what follows is left unread
                return data[:cut] if cut >= 0 else data
        self._at_line_start = data.endswith(b"\n")
        return data

    read = read1


@contextmanager
def open_log(path: str | os.PathLike[str], stopped: Stopped | None = None) -> Iterator[IO[bytes]]:
    """A binary stream of a log file's lines, decompressed when it is gzip.
    Raises OSError naming the file when it cannot be opened."""
    with opened_log(path, stopped) as (stream, _):
        yield stream


@contextmanager
def opened_log(
    source: str | os.PathLike[str] | int, stopped: Stopped | None = None
) -> Iterator[tuple[IO[bytes], InputStream]]:
    """A log's lines (a path, or an open descriptor such as stdin's), gzip
    told by content, and the stream beneath (how much of it was read, and
    whether it is a regular file). With ``stopped``, reads end once it says
    so (and ``stopping.Interrupted`` ends the wait to open a FIFO)."""
    if isinstance(source, int):
        descriptor, own = source, False
    else:
        with interruptible(stopped) if stopped is not None else nullcontext():
            descriptor, own = os.open(source, os.O_RDONLY | getattr(os, "O_BINARY", 0)), True
    try:
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", str(source))
        raw = InputStream(descriptor, stopped)
        decoded = cast(IO[bytes], raw)  # reads as a binary stream
        if is_gzip(raw.peek(len(GZIP_MAGIC))):
            # A gzip stream cut by a stop ends with EOFError: the caller knows it stopped.
            decoded = cast(IO[bytes], gzip.GzipFile(fileobj=cast(IO[bytes], raw), mode="rb"))
        if raw.regular and stopped is not None:
            decoded = cast(IO[bytes], _LineEndOnStop(decoded, stopped))
        yield decoded, raw
    finally:
        if own:
            os.close(descriptor)
