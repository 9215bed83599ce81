"""Following a growing log, as ``tail -F`` does: through rotation (the file
renamed and a new one created) and truncation, until the reader stops."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import IO

from .blocks import LINE_WINDOW, LineNumbers, LineSplitter, NumberedLine

POLL_SECONDS = 0.25
_CHUNK = 1 << 16
# What a stop still reads of a followed file: what a writer adds between two
# polls, not a backlog (a backlog left unread makes the stop an early one).
DRAIN_BYTES = 1 << 20


class Follower:
    """Every line of a log from its start, then each line appended to it.

    ``reads()`` yields the lines each read completes, as one list (so a reader
    that stops between two yields loses none of them), and None whenever it
    has caught up and waits ``poll_seconds`` for more, so the reader can flush
    its output or stop there. A last line without its newline is held back (a
    writer may be halfway through it) until the newline comes or the file is
    rotated or truncated; ``remaining()`` hands over, when following ends,
    what was written before the stop (a bounded amount of it) and then that
    last line, unless more was left unread behind it.

    Rotation: when the path names another file, the old one is read to its end
    and the new one from its start. Truncation: when the file is shorter than
    what was read, it is read again from its start. Either way line numbers and
    offsets start again, so they stay those of the file as it now is.

    A line longer than ``line_window`` comes as its pieces (``LinePiece``), each
    read once: what is held is never copied again on the next read.
    """

    def __init__(
        self, path: str | os.PathLike[str], poll_seconds: float = POLL_SECONDS, line_window: int = LINE_WINDOW
    ) -> None:
        self.path = path
        self.poll_seconds = poll_seconds
        self._file: IO[bytes] = open(path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._splitter = LineSplitter(line_window)
        self._numbers = LineNumbers()

    def reads(self) -> Iterator[list[NumberedLine] | None]:
        while True:
            data = self._file.read(_CHUNK)
            if data:
                yield self._split(data)
                continue
            if self._rotated():
                while data := self._file.read(_CHUNK):
                    yield self._split(data)
                yield self._take_rest()
                self._reopen()
                continue
            if os.fstat(self._file.fileno()).st_size < self._file.tell():
                yield self._take_rest()
                self._file.seek(0)
                self._restart()
                continue
            yield None
            time.sleep(self.poll_seconds)

    def remaining(self, most: int = DRAIN_BYTES) -> tuple[list[NumberedLine], int]:
        """When following ends: the lines written before now and not yet read
        (at most ``most`` bytes of them: a stop ends reading), in the file as
        it is now (across a rotation or a truncation since the last poll),
        then the last line even without its newline; and how many bytes
        written before now were left unread (then the held line is not
        whole, and is dropped)."""
        lines: list[NumberedLine] = []
        budget = most
        while True:
            budget, left = self._read_within(budget, lines)
            if left:
                return lines, left + (self._new_file_size() if self._rotated() else 0)
            if self._rotated():  # the old file is read to its end: on to the new one
                lines += self._take_rest()
                self._reopen()
                continue
            if os.fstat(self._file.fileno()).st_size < self._file.tell():  # truncated: read it again
                lines += self._take_rest()
                self._file.seek(0)
                self._restart()
                continue
            lines += self._take_rest()
            return lines, 0

    def _read_within(self, budget: int, lines: list[NumberedLine]) -> tuple[int, int]:
        """Read the current file towards its end, at most ``budget`` bytes;
        the budget left, and the bytes left unread."""
        size = os.fstat(self._file.fileno()).st_size
        wanted = min(budget, max(0, size - self._file.tell()))
        while wanted > 0 and (data := self._file.read(min(_CHUNK, wanted))):
            wanted -= len(data)
            budget -= len(data)
            lines += self._split(data)
        return budget, max(0, size - self._file.tell())

    def _reopen(self) -> None:
        self._file.close()
        self._file = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._restart()

    def _new_file_size(self) -> int:
        try:
            return os.stat(self.path).st_size
        except OSError:
            return 0

    def close(self) -> None:
        self._file.close()

    def _split(self, data: bytes) -> list[NumberedLine]:
        return [line for block in self._splitter.push(data) for line in self._numbers.lines(block)]

    def _take_rest(self) -> list[NumberedLine]:
        return [line for block in self._splitter.end() for line in self._numbers.lines(block)]

    def _restart(self) -> None:
        self._numbers.restart()

    def _rotated(self) -> bool:
        """The path now names another file (a path briefly missing between
        the rename and the new file is not a rotation yet)."""
        try:
            named = os.stat(self.path)
        except OSError:
            return False
        current = os.fstat(self._file.fileno())
        return (named.st_dev, named.st_ino) != (current.st_dev, current.st_ino)
