"""A scan as the command runs it: logs are read, their lines scanned, and
each line that hits handed to the output format as it comes.

Files and stdin go through the block path (only lines that may hold a hit
are decoded; from a pipe, a block is whatever has arrived, so a hit line is
written and flushed as soon as it is read); followed files and JSON events
are read line by line. Every path cuts lines in ``blocks.LineSplitter``, so
a line longer than the line window is scanned in windows on each of them.

A stop request (``stopped()``) ends reading: a regular file after the line in
progress, a pipe at once, a followed file after what a writer adds between two
polls; what was read is scanned and written. ``cut_short`` says which inputs
a stop left unread in part (the command then exits 2), ``notes`` what else a
user should know (a last line scanned without its newline).

The time a line carries (shown by ECS and sightings, and at event time the
time the line is judged at) is read with each input's own clock: syslog's
missing year comes from the file's modification time (``--log-year``
overrides), a time without a zone is in ``--log-timezone`` (default UTC).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timezone, tzinfo
from typing import IO, TextIO, cast

from .._common.errors import IocmatchError
from .._common.stats import ScanStats
from .._common.timestamps import LogClock
from .._compiling.line_text import Line
from .._matcher.matcher import Matcher
from .._matcher.records import RecordScanner
from .._matcher.watching import WatchedMatcher
from .._outputs.formats import OutputFormat
from .._scanning.blocks import LINE_WINDOW, LineNumbers, LinePiece, NumberedLine, read_blocks
from .._scanning.events import EventScanner
from .._scanning.follow import Follower
from .._scanning.hits import FieldMatch, HitLine
from .._scanning.inputs import MeteredStream, line_text
from .._scanning.lines import LineHits
from .._scanning.logfiles import InputStream, opened_log, read_to_end
from .._scanning.long_lines import LongLine
from .._scanning.parallel import ParallelScan, can_split
from .progress import Progress

STDIN = "-"


class OutputError(IocmatchError):
    """Writing the output failed (a full disk): nothing more can be reported."""


class Scan:
    """One run of ``iocmatch scan`` over its inputs, writing to ``out``.

    ``json_fields``: None scans lines as text; a sequence scans JSON object
    lines by field (empty: every string field). ``records`` scans lines as
    structured records (``--events``) instead.
    """

    def __init__(
        self,
        matcher: Matcher,
        output: OutputFormat,
        out: TextIO,
        *,
        json_fields: Sequence[str] | None = None,
        records: RecordScanner | None = None,
        jobs: int = 1,
        progress: bool = False,
        line_window: int = LINE_WINDOW,
        stopped: Callable[[], bool] | None = None,
        log_year: int | None = None,
        log_zone: tzinfo = timezone.utc,
        watched: WatchedMatcher | None = None,
    ) -> None:
        self._given_matcher = matcher  # each input scans it with a clock of its own (_read_times)
        self.watched = watched  # --reload: the matcher may change between two blocks
        self._clock_of: tuple[str, datetime | None] = ("", None)
        self.matcher = matcher
        self.log_year = log_year
        self.log_zone = log_zone
        self.undated = 0  # at event time: hit lines without a time, judged at the reference time
        self.output = output
        self.out = out
        self.events: EventScanner | RecordScanner | None = records
        if records is not None:
            records.keep_text = output.needs_text
        if records is None and json_fields is not None:
            self.events = EventScanner(matcher, json_fields)
        self.jobs = jobs
        self.progress = progress
        self.line_window = line_window
        self._stop = stopped
        self.stats = ScanStats()
        self.cut_short: list[str] = []  # inputs a stop left unread in part, and how
        self.notes: list[str] = []
        self._bar = Progress(None, "", False)
        self._long_line: LongLine | None = None  # the long line whose pieces are being read

    # -- inputs

    def stopped(self) -> bool:
        return self._stop is not None and self._stop()

    def scan_stdin(self, descriptor: int) -> None:
        """Stdin (plain or gzip, by content)."""
        self._read_times(STDIN, None)
        self._scan_input(STDIN, descriptor, streaming=True)

    def scan_file(self, path: str) -> None:
        """A log file, plain or gzip (by content). Raises OSError, EOFError
        or zlib.error when it cannot be read to its end, after the lines read
        before the fault were scanned and written."""
        self._read_times(path, _modified_at(path))
        if self.jobs > 1 and self.events is None and can_split(path):
            self._scan_in_parallel(path)
            return
        self._scan_input(path, path, streaming=False)

    def follow(self, path: str, poll_seconds: float) -> None:
        """Scan ``path`` and what is appended to it until ``stopped()``; what
        was written by then (up to what a writer adds between two polls), the
        last line even without its newline, is scanned before returning."""
        follower = Follower(path, poll_seconds, self.line_window)
        self._read_times(path, None)  # a log being written: its syslog dates are of the year up to now
        try:
            for lines in follower.reads():
                self._reloaded()  # also while waiting for lines: a change is taken, and told, at once
                if lines:
                    self._scan_lines(path, lines, streaming=True)
                if self.stopped():
                    break
            lines, unread = follower.remaining()
            self._scan_lines(path, lines, streaming=True)
        finally:
            follower.close()
        if unread:
            self.cut_short.append(f"{path} was not read to its end ({unread:,} bytes written before the stop)")
        elif lines and _without_newline(lines[-1][2]):
            self.notes.append(f"{path}: its last line had no newline when following stopped; scanned as it stood")

    def finish(self) -> None:
        """Write what waited for the end: hits of several records, and what the format owes.
        A stop while the records read are evaluated ends it there, and the
        scan is cut short (after a stop that ended reading, what was read is
        evaluated: a second stop ends the command)."""
        if isinstance(self.events, RecordScanner):
            stopped = None if self.stopped() else self.stopped
            for hit in self.events.finish(stopped):
                self._hit(hit, streaming=False)
            if self.events.cut:
                self.cut_short.append("the records waiting for patterns joining observations were not all evaluated")
        self._emit(self.output.end(datetime.now(timezone.utc)), flush=True)

    def _reloaded(self) -> Matcher:
        """With --reload: the newest matcher built, with the input's clock."""
        if self.watched is not None and (newest := self.watched.current()) is not self._given_matcher:
            self._given_matcher = newest
            self._read_times(*self._clock_of)
        return self.matcher

    def _read_times(self, name: str, written_by: datetime | None) -> None:
        """The lines of the input ``name`` are dated with its clock (``written_by``: when it was last written)."""
        self._clock_of = (name, written_by)
        self.matcher = self._given_matcher.with_log_clock(self.log_year, self.log_zone, written_by)
        if self.events is not None:
            self.events.matcher = self.matcher
        if isinstance(self.events, RecordScanner):
            self.events.new_input(name, LogClock(self.log_year, self.log_zone, written_by))

    def _scan_input(self, name: str, source: str | int, streaming: bool) -> None:
        with opened_log(source, self._stop) as (stream, raw):
            metered = MeteredStream(stream, self._start_bar(name, raw))
            try:
                if self.events is not None:
                    numbers = LineNumbers()
                    blocks = read_blocks(cast(IO[bytes], metered), line_window=self.line_window)
                    self._scan_lines(name, self._numbered(blocks, numbers), streaming)
                else:
                    current = self._reloaded if self.watched is not None else None
                    hits = self.matcher.hit_lines(cast(IO[bytes], metered), line_window=self.line_window,
                                                  stats=self.stats, current=current)  # fmt: skip
                    self._write_hit_lines(name, hits, streaming)
            except (EOFError, zlib.error):
                if not self.stopped():
                    raise
                # A compressed stream cut by the stop ends early, as the stop asked.
            finally:
                self._bar.close()
                if self.events is None:  # JSON events are counted line by line
                    self.stats.lines_read += metered.lines
                    self.stats.lines_scanned += metered.lines
            if not read_to_end(stream, raw):
                self._cut_by_stop(name, raw.regular, metered.ends_mid_line)

    def _numbered(self, blocks: Iterable[bytes | LinePiece], numbers: LineNumbers) -> Iterator[NumberedLine]:
        for block in blocks:
            self._reloaded()  # between two blocks (a long line's pieces keep the matcher it began with)
            yield from numbers.lines(block)

    def _cut_by_stop(self, name: str, regular: bool, mid_line: bool) -> None:
        """A stop came before the input's own end: what was not read was not
        searched, whether it was still on disk or still to come down a pipe."""
        where = f"{name} was not read to its end" if regular else f"{name} was still open"
        cut = ": its last line, cut, was scanned as it stood" if mid_line else ""
        self.cut_short.append(where + cut)

    def _scan_in_parallel(self, path: str) -> None:
        """A large plain file on ``jobs`` processes; the hit lines come with
        their text, so the file is read once."""
        scan = ParallelScan(self.matcher, path, self.jobs, self.line_window, self.stopped, self.stats)
        self._write_hit_lines(path, scan, streaming=False)
        if not scan.complete:
            self.cut_short.append(f"{path} was not read to its end")

    # -- scanning

    def _scan_lines(self, name: str, lines: Iterable[NumberedLine], streaming: bool) -> None:
        for number, offset, line in lines:
            if isinstance(line, LinePiece):
                self._long_line = self._scan_piece(name, number, offset, line, self._long_line, streaming)
                continue
            self.stats.lines_read += 1
            streamed: list[HitLine] = []
            if isinstance(self.events, RecordScanner):
                found, scanned = self.events.scan(line, number, offset)
                streamed = self.events.take_streamed()
            elif self.events is not None:
                found, scanned = self.events.scan(line, number)
            else:
                found, scanned = [FieldMatch(match) for match in self.matcher.scan_line(line, number)], True
            self.stats.lines_scanned += scanned
            if found and streamed and (streamed[-1].file, streamed[-1].number) == (name, number):
                found = [*found, *streamed.pop().matches]  # one hit line for the line, as for single records
            if found:
                text = line_text(line) if self.output.needs_text else None
                self._hit(HitLine(name, number, tuple(found), _now(), text, offset, self._logged(line)), streaming)
            for hit in streamed:  # hits of several records this line completed (or let through, when late)
                self._hit(hit, streaming)

    def _scan_piece(
        self, name: str, number: int, offset: int, piece: LinePiece, long_line: LongLine | None, streaming: bool
    ) -> LongLine | None:
        """A piece of a line longer than the window: scanned as text (a JSON
        event that long is not parsed), its hits written as they are found."""
        if long_line is None:
            long_line = self.matcher.long_line(number, self.line_window)
        for matches, continues in long_line.take(piece):
            text = line_text(long_line.head) if self.output.needs_text else None
            found = tuple(FieldMatch(match) for match in matches)
            logged = self._logged(long_line.head, continues)
            self._hit(HitLine(name, number, found, _now(), text, offset, logged, continues), streaming)
        if not piece.last:
            return long_line
        self.stats.lines_read += 1
        self.stats.lines_scanned += 1
        long_line.count_into(self.stats)
        # A long line that is no JSON object is text anyway: only an event loses its fields.
        self.stats.json_as_text += self.events is not None and long_line.head.lstrip()[:1] == b"{"
        return None

    def _write_hit_lines(self, name: str, hits: Iterable[LineHits], streaming: bool) -> None:
        previous = 0
        for number, offset, line, matches in hits:
            found = tuple(FieldMatch(match) for match in matches)
            text = line_text(line) if self.output.needs_text else None
            # A long line hits once per window: the same number again continues it.
            continues = number == previous
            hit = HitLine(name, number, found, _now(), text, offset, self._logged(line, continues), continues)
            self._hit(hit, streaming)
            previous = number

    def _logged(self, line: Line, continues: bool = False) -> datetime | None:
        """The time a hit line carries, when the output shows it or the
        line was judged at it; a hit line without one at event time is counted."""
        if not (self.output.needs_text or self.matcher.at_event_time):
            return None
        stamp = self.matcher.line_time(line)
        self.undated += stamp is None and self.matcher.at_event_time and not continues
        return stamp

    def _hit(self, hit: HitLine, streaming: bool) -> None:
        self.stats.hits += len(hit.matches)
        self.stats.hit_lines += not hit.continues  # a long line's later windows are the same line
        self._emit(self.output.lines(hit), flush=streaming)

    def _emit(self, lines: list[str], flush: bool) -> None:
        if not lines:
            return
        try:
            with self._bar.writing():
                self.out.write("\n".join(lines) + "\n")
                if flush:
                    self.out.flush()
        except BrokenPipeError:
            raise  # the reader went away: the command stops quietly
        except OSError as exc:
            raise OutputError(f"cannot write the output: {exc.strerror or exc}") from None

    # -- progress

    def _start_bar(self, name: str, raw: InputStream) -> Callable[[], None] | None:
        if not self.progress or not raw.regular:
            return None
        size = os.fstat(raw.fileno()).st_size
        self._bar = Progress(size, os.path.basename(name), True)
        return lambda: self._bar.moved_to(raw.tell())


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _without_newline(line: bytes | LinePiece) -> bool:
    data = line.data if isinstance(line, LinePiece) else line
    return not data.endswith(b"\n")


def _modified_at(path: str) -> datetime | None:
    """When a log was last written: its syslog lines are of that year or the one before."""
    try:
        return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc)
    except OSError:
        return None
