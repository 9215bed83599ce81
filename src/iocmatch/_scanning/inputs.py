"""Reading logs for the command: streams that count the lines that pass,
and a line's text as the matcher sees it."""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from .._compiling.line_text import as_text
from .blocks import count_newlines

# A hit line as the outputs show it: the matcher's own text of it, so a match's
# offsets are offsets in it.
line_text = as_text


class MeteredStream:
    """Hands a log's data through, counting its lines, and after each read
    tells ``on_progress`` that more was read.

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

    @property
    def ends_mid_line(self) -> bool:
        """What was read so far ends without a newline."""
        return self._partial
