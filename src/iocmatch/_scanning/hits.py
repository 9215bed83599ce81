"""What the command hands its output formats: the matches of one log line,
with where the line came from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby

from .._common.model import Match


@dataclass(frozen=True, slots=True)
class Event:
    """A record of a match of several records: its line, its time, and its log."""

    line: int
    time: datetime
    file: str


@dataclass(frozen=True, slots=True)
class FieldMatch:
    """A match, and the JSON field it was found in.

    ``field`` is the dotted path of the field (``process.command_line``) and
    the match's span counts characters of that field's value; for a plain line
    ``field`` is None and the span counts characters of the line.
    ``events``: for a pattern with observation operators, every record of
    its match in time order (the hit is handed over on the line of the last).
    """

    match: Match
    field: str | None = None
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class HitLine:
    """The matches of one line of one log.

    ``text`` (the line without its line ending), ``offset`` (the byte offset
    of its start) and ``logged_at`` (the time the line itself carries) are
    given when the output needs them; ``read_at`` is when the line was read.
    A line longer than the line window is handed over once per window that
    hits: ``text`` is then its first 64 KiB, and ``continues`` marks every
    hand-over after its first.
    """

    file: str
    number: int
    matches: tuple[FieldMatch, ...]
    read_at: datetime
    text: str | None = None
    offset: int | None = None
    logged_at: datetime | None = None
    continues: bool = False


def by_line(matches: Iterable[Match]) -> Iterator[tuple[int, list[Match]]]:
    """Consecutive matches grouped by their line number (matches come in line order)."""
    for number, group in groupby(matches, key=lambda match: match.line):
        yield number, list(group)
