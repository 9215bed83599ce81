"""Reading logs for the command: lines with their byte offsets as soon as they
arrive, file streams that count what passes, and finding a line again."""

from __future__ import annotations

import gzip
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from .blocks import count_newlines

_GZIP_MAGIC = b"\x1f\x8b"


def numbered_lines(stream: IO[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(number, byte offset, line) of every line, each as soon as it is read
    (a pipe's ``readline`` returns at the newline, not when a buffer fills).
    The last line may lack its newline."""
    offset = 0
    for number, line in enumerate(iter(stream.readline, b""), 1):
        yield number, offset, line
        offset += len(line)


def line_text(line: bytes) -> str:
    """A line without its line ending, decoded as the matcher decodes it."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line.decode("utf-8", "surrogateescape")


class MeteredStream:
    """Hands a log's data through, counting its lines, and after each read
    tells ``on_progress`` how many bytes of the file beneath were read.

    Counting is per block read, so it costs nothing per line.
    """

    def __init__(self, stream: IO[bytes], on_progress: Callable[[], None] | None = None) -> None:
        self._read = getattr(stream, "read1", stream.read)
        self._on_progress = on_progress
        self._newlines = 0
        self._partial = False

    def read1(self, size: int = -1) -> bytes:
        data: bytes = self._read(size)
        if data:
            self._newlines += count_newlines(data)
            self._partial = not data.endswith(b"\n")
            if self._on_progress is not None:
                self._on_progress()
        return data

    read = read1

    @property
    def lines(self) -> int:
        """Lines read so far (a last line without newline counts)."""
        return self._newlines + self._partial


@contextmanager
def open_metered(
    path: str | os.PathLike[str], on_progress: Callable[[int], None] | None = None
) -> Iterator[tuple[MeteredStream, int | None]]:
    """A log (plain or gzip, by content) as a MeteredStream, and the file's size
    when it is a regular file. ``on_progress`` gets the bytes of the file read so far."""
    with open(path, "rb") as raw:
        info = os.fstat(raw.fileno())
        size = info.st_size if stat.S_ISREG(info.st_mode) else None
        report = (lambda: on_progress(raw.tell())) if on_progress is not None and size is not None else None
        if raw.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield MeteredStream(unzipped, report), size  # type: ignore[arg-type]  # GzipFile is a binary IO
        else:
            yield MeteredStream(raw, report), size


class LineFinder:
    """Finds lines by number, going forward, in a second reading of a log: the
    block scan reports line numbers, and some outputs need the line itself."""

    def __init__(self, stream: IO[bytes], chunk_size: int = 1 << 20) -> None:
        self._stream = stream
        self._chunk_size = chunk_size
        self._buffer = b""
        self._position = 0  # where line ``_number`` starts in ``_buffer``
        self._number = 1
        self._offset = 0  # where line ``_number`` starts in the file

    def line(self, number: int) -> tuple[bytes, int] | None:
        """Line ``number`` (with its newline) and its byte offset; None past the end."""
        while self._number < number:
            wanted = number - self._number
            newlines = self._buffer.count(b"\n", self._position)
            if newlines < wanted:
                if newlines:
                    self._skip_to(self._buffer.rfind(b"\n") + 1, newlines)
                if not self._more():
                    return None
                continue
            for _ in range(wanted):
                self._skip_to(self._buffer.index(b"\n", self._position) + 1, 1)
        while True:
            end = self._buffer.find(b"\n", self._position)
            if end >= 0:
                return self._buffer[self._position : end + 1], self._offset
            if not self._more():
                rest = self._buffer[self._position :]
                return (rest, self._offset) if rest else None

    def _skip_to(self, position: int, lines: int) -> None:
        self._offset += position - self._position
        self._position = position
        self._number += lines

    def _more(self) -> bool:
        try:
            data = self._stream.read(self._chunk_size)
        except (EOFError, zlib.error):  # a damaged gzip: the scan itself reports it
            return False
        if not data:
            return False
        self._buffer = self._buffer[self._position :] + data
        self._position = 0
        return True


def split_lines(chunks: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """(number, byte offset, line) of the lines in a stream of chunks."""
    held = b""
    number = offset = 0
    for chunk in chunks:
        data = held + chunk
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            number += 1
            yield number, offset, data[start : end + 1]
            offset += end + 1 - start
            start = end + 1
        held = data[start:]
    if held:
        yield number + 1, offset, held


def chunks(stream: MeteredStream, size: int = 1 << 20) -> Iterator[bytes]:
    while data := stream.read1(size):
        yield data
