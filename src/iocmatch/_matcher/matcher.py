"""The Matcher: an IndicatorSet compiled (``_compiling``), with every way to
scan with it (``_scanning``): a line, lines, a stream, a file on one core or
several. What it finds never depends on the path taken.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone, tzinfo
from typing import IO

from .._common.model import IndicatorSet, Match, Origin
from .._common.stats import ScanStats
from .._common.timestamps import LogClock
from .._compiling.compiled import CompiledSet
from .._compiling.engine_choice import ENGINES
from .._compiling.line_text import Line, as_text
from .._scanning import lines as paths
from .._scanning.blocks import BLOCK_SIZE, LINE_WINDOW
from .._scanning.lines import LineHits
from .._scanning.logfiles import open_log
from .._scanning.long_lines import LongLine
from .._scanning.parallel import can_split, scan_file_parallel

__all__ = ["ENGINES", "Matcher", "compile"]


class Matcher:
    """An immutable, picklable compiled form of an IndicatorSet.

    ``scan``, ``scan_line`` and ``scan_file`` never raise on line content.
    One Matcher may be shared by any number of threads scanning at once.
    """

    __slots__ = ("_compiled",)
    _compiled: CompiledSet

    def __init__(
        self,
        indicators: IndicatorSet,
        *,
        subdomains: bool = True,
        registry_aliases: bool = False,
        engine: str = "auto",
        defanged: bool = False,
    ) -> None:
        compiled = CompiledSet(
            indicators, subdomains=subdomains, registry_aliases=registry_aliases, engine=engine, defanged=defanged
        )
        object.__setattr__(self, "_compiled", compiled)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Matcher is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Matcher is immutable")

    def __getstate__(self) -> CompiledSet:
        return self._compiled

    def __setstate__(self, state: CompiledSet) -> None:
        object.__setattr__(self, "_compiled", state)

    @property
    def engine(self) -> str:
        """The engine that finds keys in blocks: hyperscan, aho-corasick or tokens."""
        return self._compiled.engine

    @property
    def subdomains(self) -> bool:
        """Whether a domain hits its subdomains."""
        return self._compiled.subdomains

    @property
    def registry_aliases(self) -> bool:
        """Whether a registry key hits under other spellings of its hive."""
        return self._compiled.registry_aliases

    @property
    def defanged(self) -> bool:
        """Whether defanged text (``hxxp://evil[.]com``) is read as its refanged value."""
        return self._compiled.defanged

    def with_defanged(self, defanged: bool = True) -> Matcher:
        """This matcher, reading defanged text or not (nothing is compiled again)."""
        other = object.__new__(Matcher)
        object.__setattr__(other, "_compiled", self._compiled.reading_defanged(defanged))
        return other

    @property
    def at_event_time(self) -> bool:
        """Whether each line is judged at the time it carries (``load(at_event_time=True)``)."""
        return self._compiled.at_event_time

    def with_log_clock(
        self, year: int | None = None, zone: tzinfo = timezone.utc, written_by: datetime | None = None
    ) -> Matcher:
        """This matcher, reading the times of lines so (nothing is compiled
        again): ``zone`` for times written without one (default UTC), ``year``
        for syslog's dates (default: that of ``written_by``, when the log was
        last written, else now; a date more than a day after it is of the year
        before)."""
        other = object.__new__(Matcher)
        object.__setattr__(other, "_compiled", self._compiled.reading_clock(LogClock(year, zone, written_by)))
        return other

    def line_time(self, line: Line) -> datetime | None:
        """The time ``line`` carries, read as this matcher reads it (None when it has none)."""
        return self._compiled.clock.time_of(as_text(line))

    def judged_at(self, line: Line) -> datetime | None:
        """At event time, when ``line`` is judged: its own time, else the
        reference time (``as_of`` when loading had one, else now); None when
        the matcher judges validity once, at load."""
        if not self._compiled.at_event_time:
            return None
        return datetime.fromtimestamp(self._compiled.moment(as_text(line)), timezone.utc)

    @property
    def longest_key(self) -> int:
        """Characters of the longest text looked for (windows of long lines overlap by more)."""
        return self._compiled.longest_key

    @property
    def origin(self) -> Origin:
        """What it was compiled from, and when (shown by ``check -m``)."""
        return self._compiled.origin

    @property
    def indicator_count(self) -> int:
        """Live indicators compiled into it."""
        return self._compiled.indicator_count

    @property
    def atom_count(self) -> int:
        """Distinct comparisons (kind, value, mode) compiled into it."""
        return self._compiled.atom_count

    def scan_line(self, line: Line | None, number: int = 1, at: datetime | None = None) -> list[Match]:
        """Every match in one line, sorted by start then end. None (a missing
        value, as a null column gives) has none; a line longer than the line
        window is scanned in windows, in bounded memory beyond the line itself.
        At event time the line is judged at ``at`` when given (a time column,
        an event's field), else at the time it carries; otherwise ``at`` is
        not used."""
        when = None
        if at is not None:
            when = (at if at.tzinfo else at.replace(tzinfo=timezone.utc)).timestamp()
        return paths.scan_line(self._compiled, line, number, when)

    def scan(self, lines: Iterable[object], stats: ScanStats | None = None) -> Iterator[Match]:
        """Lazily scan ``lines`` (1-based line numbers). An item that is not
        text (None, a number, ...) is skipped, keeps its number, and is
        counted in ``stats.not_text``: stream content never raises."""
        compiled = self._compiled
        for number, line in enumerate(lines, 1):
            if not isinstance(line, (str, bytes, bytearray, memoryview)):
                if stats is not None:
                    stats.not_text += 1
                continue
            if stats is not None:
                stats.lines_read += 1
                stats.lines_scanned += 1
                stats.long_lines += len(line) > LINE_WINDOW
            matches = paths.scan_line(compiled, line, number)
            if stats is not None and matches:
                stats.hits += len(matches)
                stats.hit_lines += 1
            yield from matches

    def scan_file(self, path: str | os.PathLike[str], workers: int = 1) -> Iterator[Match]:
        """Scan a plain or gzip-compressed file (told apart by its first bytes).

        ``workers > 1`` splits a large plain file across that many processes;
        the matches and their order are the same.
        """
        if workers > 1 and can_split(path):
            yield from scan_file_parallel(self, path, workers)
            return
        with open_log(path) as stream:
            yield from self.scan_stream(stream)

    def scan_stream(
        self, stream: IO[bytes], block_size: int = BLOCK_SIZE, line_window: int = LINE_WINDOW
    ) -> Iterator[Match]:
        """Scan a binary stream block by block: only lines that may hold a hit
        are decoded and looked at. Same matches as ``scan`` over its lines."""
        for _, _, _, matches in self.hit_lines(stream, block_size, line_window):
            yield from matches

    def long_line(self, number: int, line_window: int = LINE_WINDOW) -> LongLine:
        """Line ``number``, too long to hold, scanned piece by piece as it is
        read: ``take`` each piece, then ``count_into`` the scan's stats."""
        return LongLine(self._compiled, number, line_window)

    def hit_lines(
        self,
        stream: IO[bytes],
        block_size: int = BLOCK_SIZE,
        line_window: int = LINE_WINDOW,
        stats: ScanStats | None = None,
        current: Callable[[], Matcher] | None = None,
    ) -> Iterator[LineHits]:
        """Every line of a binary stream that holds a hit, as ``scan_stream``
        finds them: (line number, byte offset of the line, the line without
        its newline, its matches). From a pipe, lines are handed over as they
        arrive, not when a block is full. A line longer than ``line_window``
        is scanned in windows as it is read: its matches come window by
        window, each time with the line's first 64 KiB standing for the line.
        ``current``, when given, names the matcher to scan each next block
        with (a ``WatchedMatcher``'s), this one the first."""
        asked = None if current is None else (lambda: current()._compiled)
        return paths.hit_lines(self._compiled, stream, block_size, line_window, stats, asked)


def compile(  # noqa: A001 - the public name
    indicators: IndicatorSet,
    *,
    subdomains: bool = True,
    registry_aliases: bool = False,
    engine: str = "auto",
    defanged: bool = False,
) -> Matcher:
    """Compile loaded indicators.

    ``subdomains=False`` stops ``evil.com`` hitting ``a.evil.com``.
    ``registry_aliases=True`` lets a registry key hit under other spellings of
    its hive (``HKEY_CURRENT_USER``, and ``HKU\\<SID>`` as Sysmon writes HKCU):
    the same key to an analyst, but not the same string to the STIX reference
    matcher, so it is asked for, not assumed.
    ``engine`` picks the block engine for files: ``hyperscan`` where its wheel
    exists, ``aho-corasick`` always; ``auto`` takes the faster one available.
    Results never depend on it.
    ``defanged=True`` also finds values written defanged, as mail and tickets
    write them (``hxxp://evil[.]com/a``, ``evil[.]com``, ``x[@]evil.com``), at
    their spans as written. Off by default: a log does not defang, and
    ``(.)`` or ``[.]`` in ordinary text would otherwise join names.
    Percent-encoding, Windows DNS debug names and Zeek's host and uri columns
    are always read.
    """
    return Matcher(
        indicators, subdomains=subdomains, registry_aliases=registry_aliases, engine=engine, defanged=defanged
    )
