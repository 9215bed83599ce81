"""A scan as the command runs it: logs are read, their lines scanned, and
each line that hits handed to the output format as it comes.

Files and stdin go through the block path (only lines that may hold a hit
are decoded; from a pipe, a block is whatever has arrived, so a hit line is
written and flushed as soon as it is read); followed files and JSON events
are read line by line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, TextIO, cast

from .blocks import count_newlines
from .events import EventScanner
from .follow import Follower
from .hits import FieldMatch, HitLine, by_line
from .inputs import LineFinder, MeteredStream, chunks, line_text, numbered_lines, open_metered, split_lines
from .logfiles import open_log
from .matcher import LineHits, Matcher
from .model import Match
from .output import OutputFormat
from .parallel import can_split
from .progress import Progress
from .timestamps import log_timestamp


@dataclass(slots=True)
class ScanStats:
    """``lines_scanned`` counts lines the matcher looked at: all lines read,
    except JSON objects holding none of the selected fields."""

    lines_read: int = 0
    lines_scanned: int = 0
    hits: int = 0
    hit_lines: int = 0

    def summary(self, seconds: float) -> str:
        return (
            f"iocmatch: {self.lines_read} lines read, {self.lines_scanned} scanned, "
            f"{self.hits} hits on {self.hit_lines} lines, {seconds:.2f} s"
        )


class Scan:
    """One run of ``iocmatch scan`` over its inputs, writing to ``out``.

    ``json_fields``: None scans lines as text; a sequence scans JSON object
    lines by field (empty: every string field).
    """

    def __init__(
        self,
        matcher: Matcher,
        output: OutputFormat,
        out: TextIO,
        *,
        json_fields: Sequence[str] | None = None,
        jobs: int = 1,
        progress: bool = False,
    ) -> None:
        self.matcher = matcher
        self.output = output
        self.out = out
        self.events = EventScanner(matcher, json_fields) if json_fields is not None else None
        self.jobs = jobs
        self.progress = progress
        self.stats = ScanStats()
        self._bar = Progress(None, "", False)

    # -- inputs

    def scan_stdin(self, stream: IO[bytes]) -> None:
        if self.events is not None:
            self._scan_lines("-", numbered_lines(stream), year=None, streaming=True)
            return
        metered = MeteredStream(stream)
        self._write_hit_lines("-", self.matcher.hit_lines(cast(IO[bytes], metered)), year=None, streaming=True)
        self.stats.lines_read += metered.lines
        self.stats.lines_scanned += metered.lines

    def scan_file(self, path: str) -> None:
        year = _modified_year(path)
        if self.events is not None:
            with open_metered(path, self._start_bar(path)) as (stream, _):
                self._scan_lines(path, split_lines(chunks(stream)), year, streaming=False)
            self._stop_bar()
            return
        if self.jobs > 1 and can_split(path):
            self._write_matches(path, self.matcher.scan_file(path, workers=self.jobs), year)
            lines = _count_lines(path)
            self.stats.lines_read += lines
            self.stats.lines_scanned += lines
            return
        with open_metered(path, self._start_bar(path)) as (stream, _):
            self._write_hit_lines(path, self.matcher.hit_lines(cast(IO[bytes], stream)), year, streaming=False)
            self.stats.lines_read += stream.lines
            self.stats.lines_scanned += stream.lines
        self._stop_bar()

    def follow(self, path: str, stopped: Callable[[], bool], poll_seconds: float) -> None:
        """Scan ``path`` and what is appended to it until ``stopped()``; what
        was written by then, the last line even without its newline, is
        scanned before returning."""
        follower = Follower(path, poll_seconds)
        try:
            for item in follower.lines():
                if item is not None:
                    self._scan_lines(path, [item], year=None, streaming=True)
                if stopped():
                    break
            self._scan_lines(path, follower.remaining(), year=None, streaming=True)
        finally:
            follower.close()

    def finish(self) -> None:
        self._emit(self.output.end(datetime.now(timezone.utc)), flush=True)

    # -- scanning

    def _scan_lines(
        self, name: str, lines: Iterable[tuple[int, int, bytes]], year: int | None, streaming: bool
    ) -> None:
        for number, offset, line in lines:
            self.stats.lines_read += 1
            if self.events is not None:
                found, scanned = self.events.scan(line, number)
            else:
                found, scanned = [FieldMatch(match) for match in self.matcher.scan_line(line, number)], True
            self.stats.lines_scanned += scanned
            if found:
                text = line_text(line) if self.output.needs_text else None
                self._hit(HitLine(name, number, tuple(found), _now(), text, offset, _logged(text, year)), streaming)

    def _write_hit_lines(self, name: str, hits: Iterable[LineHits], year: int | None, streaming: bool) -> None:
        for number, offset, line, matches in hits:
            found = tuple(FieldMatch(match) for match in matches)
            text = line_text(line) if self.output.needs_text else None
            self._hit(HitLine(name, number, found, _now(), text, offset, _logged(text, year)), streaming)

    def _write_matches(self, name: str, matches: Iterable[Match], year: int | None) -> None:
        """Matches of a parallel scan, which come without their lines: read again when needed."""
        with ExitStack() as stack:
            finder = LineFinder(stack.enter_context(open_log(name))) if self.output.needs_text else None
            for number, line_matches in by_line(matches):
                found = tuple(FieldMatch(match) for match in line_matches)
                text = offset = None
                located = finder.line(number) if finder is not None else None
                if located is not None:
                    text, offset = line_text(located[0]), located[1]
                self._hit(HitLine(name, number, found, _now(), text, offset, _logged(text, year)), streaming=False)

    def _hit(self, hit: HitLine, streaming: bool) -> None:
        self.stats.hits += len(hit.matches)
        self.stats.hit_lines += 1
        self._emit(self.output.lines(hit), flush=streaming)

    def _emit(self, lines: list[str], flush: bool) -> None:
        if not lines:
            return
        with self._bar.writing():
            self.out.write("\n".join(lines) + "\n")
            if flush:
                self.out.flush()

    # -- progress

    def _start_bar(self, path: str) -> Callable[[int], None] | None:
        if not self.progress:
            return None
        self._bar = Progress(_regular_size(path), os.path.basename(path), True)
        return self._bar.moved_to

    def _stop_bar(self) -> None:
        self._bar.close()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _logged(text: str | None, year: int | None) -> datetime | None:
    return log_timestamp(text, year) if text is not None else None


def _modified_year(path: str) -> int | None:
    """The year syslog lines of a file were written in: its modification year."""
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc).year
    except OSError:
        return None


def _regular_size(path: str) -> int | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _count_lines(path: str) -> int:
    with open(path, "rb") as stream:
        newlines = 0
        last = b"\n"
        while block := stream.read(1 << 20):
            newlines += count_newlines(block)
            last = block[-1:]
        return newlines + (last != b"\n")
