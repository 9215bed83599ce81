"""Lines read as structured records (``iocmatch scan --events``): an
indicator the record's schema can decide is judged on its fields with STIX
semantics (``_events``), every other indicator, and every line that is no
record of a known schema, as text (the Matcher).

Which applies is decided per indicator and per schema, never per value: an
indicator whose pattern ``_events`` compiles, and one of whose observations
reads only paths the schema's mapping gives, is judged by fields on every
record of that schema and never by text there; so one indicator is reported
at most once for a line, by one semantics.

A field hit is a ``Match`` of kind ``fields``: its ``value`` is the pattern,
its ``text`` the values of the record's fields that made it hold (joined by
``,`` when several), its span ``0``..``len(text)`` of that text, and its
field the record's field names joined the same way (``id.resp_h,id.resp_p``);
fields holding one same value (Sysmon's ``CommandLine`` and ECS's
``process.command_line``) are shown once, by the first.

A pattern with observation operators (``AND``/``OR``/``FOLLOWEDBY`` between
observations, ``WITHIN``, ``REPEATS``, ``START``/``STOP``) is evaluated by an
``EventStream`` over the records of one input in the order they are read
(a record behind the newest time seen is counted late, not evaluated). Its
hit is a ``fields`` match on the line of the match's last record, with an
empty text, and ``events`` naming every record of the match.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from .._common.errors import PatternError
from .._common.model import Match, Problem
from .._common.timestamps import LogClock
from .._compiling.line_text import Line
from .._events import EventHit, EventMatcher, EventStream, SchemaMapping, StreamHit
from .._events.expressions import expression_of
from .._events.objects import provided_paths
from .._events.predicates import Observation, observations_of
from .._events.records import Fields, RecordReader
from .._scanning.events import LineScanner
from .._scanning.hits import Event, FieldMatch
from .._scanning.inputs import line_text

FIELDS = "fields"  # the kind of a match made by a record's fields
AUTO = "auto"

_FIRST_TYPE = re.compile(r"\[\s*([a-z0-9-]+):")


@dataclass(frozen=True, slots=True)
class PatternIndicator:
    """An indicator as records are matched against it: its pattern, and who stands behind it."""

    id: str
    pattern: str
    attribution: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


def pattern_type(pattern: str) -> str:
    """The STIX object type a pattern names first (``network-traffic``), or ``""``."""
    found = _FIRST_TYPE.search(pattern)
    return found.group(1) if found else ""


class RecordScanner:
    """Scans lines as records of known schemas, the rest as text.

    ``schema``: ``auto`` detects each record's schema from its fields; a
    schema's name reads every record as that schema. ``mappings`` are the
    schemas known (default the bundled ones). Raises MappingError for a
    schema no mapping names.
    """

    fields: tuple[str, ...] = ()  # no field selection: every mapped field counts

    def __init__(
        self,
        matcher: LineScanner,  # the Matcher; the scan replaces it per input with the input's log clock
        indicators: Iterable[PatternIndicator],
        schema: str = AUTO,
        mappings: Sequence[SchemaMapping] | None = None,
    ) -> None:
        self.matcher = matcher
        self._indicators = {indicator.id: indicator for indicator in indicators}
        pairs = [(indicator.id, indicator.pattern) for indicator in self._indicators.values()]
        self._events = EventMatcher(pairs, mappings=mappings, schema=None if schema == AUTO else schema)
        self._reader = RecordReader()
        failed = {problem.id for problem in self._events.problems if problem.status != "warning"}
        self._observations: dict[str, tuple[Observation, ...]] = {}
        for ident, pattern in pairs:
            if ident in failed:
                continue
            try:
                self._observations[ident] = observations_of(pattern)
            except PatternError:
                continue  # reported by the EventMatcher already
        # Patterns with observation operators: one EventStream per input evaluates
        # them; one it cannot compile, or that never holds on the records read, is a problem.
        wanted = None if schema == AUTO else schema
        read = [m for m in self._events.mappings if wanted is None or m.schema == wanted]
        self._stream_settings = (read, wanted)
        operators = [(ident, pattern) for ident, pattern in pairs if ident in failed]
        probe = EventStream(operators, mappings=read, schema=wanted)
        self._stream_problems = [Problem(problem.id, problem.reason) for problem in probe.problems]
        refused = {problem.id for problem in probe.problems}
        self._stream_pairs = [(ident, pattern) for ident, pattern in operators if ident not in refused]
        self._stream = self._new_stream(LogClock())
        for ident, pattern in self._stream_pairs:
            self._observations[ident] = expression_of(pattern).observations
        self._judged: dict[str, frozenset[str]] = {}
        self._clock = LogClock()
        self._counted = (0, 0, 0)  # late, untimed, dropped of the inputs read before

    def new_input(self, clock: LogClock | None = None) -> None:
        """The next lines are of another log (their times read with ``clock``):
        a Zeek header read before does not hold for them, and a match of
        several records is made of records of that log only."""
        self._reader = RecordReader()
        self._counted = self.stream_counts()
        self._clock = clock or LogClock()
        self._stream = self._new_stream(self._clock)

    def _new_stream(self, clock: LogClock) -> EventStream:
        mappings, schema = self._stream_settings
        return EventStream(self._stream_pairs, mappings=mappings, schema=schema, clock=clock)

    def stream_counts(self) -> tuple[int, int, int]:
        """Of the records read so far, for patterns with observation operators:
        those late (behind the newest time seen), those without a time, and
        partial matches dropped for room."""
        late, untimed, dropped = self._counted
        if not self._stream_pairs:
            return late, untimed, dropped
        return late + self._stream.late, untimed + self._stream.untimed, dropped + self._stream.dropped()

    @property
    def pattern_count(self) -> int:
        """Patterns compiled for records (with or without observation operators)."""
        return len(self._observations)

    @property
    def problems(self) -> list[Problem]:
        """Patterns not compiled for records (judged by text on every line), and why."""
        operators = {problem.id for problem in self._stream_problems} | {ident for ident, _ in self._stream_pairs}
        found = [p for p in self._events.problems if p.status != "warning" and p.id not in operators]
        return found + self._stream_problems

    def judged_by_fields(self, schema: str) -> frozenset[str]:
        """The indicators judged by fields on a record of ``schema``."""
        judged = self._judged.get(schema)
        if judged is None:
            mapping = next(m for m in self._events.mappings if m.schema == schema)
            provided = provided_paths([mapping])
            judged = frozenset(
                ident
                for ident, observations in self._observations.items()
                if any(not observation.expression.missing(provided) for observation in observations)
            )
            self._judged[schema] = judged
        return judged

    def scan(self, line: Line, number: int) -> tuple[list[FieldMatch], bool]:
        """The line's matches (a record's by fields and by text, as each
        indicator's semantics says; any other line's by text), and True: every
        line is scanned. Never raises on the line's content."""
        text = line_text(line)
        fields = self._reader.read(text)  # every line, in order: a Zeek header sets how the next are read
        record = self._events.record_of_fields(fields) if fields else None
        matches = self.matcher.scan_line(line, number)
        if record is None or fields is None:
            return [FieldMatch(match) for match in matches], True
        judged = self.judged_by_fields(record.schema)
        found = [FieldMatch(kept) for match in matches if (kept := self.text_hit_without(match, judged)) is not None]
        found.extend(self._field_match(hit, fields, number) for hit in self._events.match_record(record))
        if self._stream_pairs:
            streamed = self._stream.feed_record(record, number, self._clock.time_of(text))
            found.extend(self._stream_match(hit, number) for hit in streamed)
        return found, True

    def text_hit_without(self, match: Match, judged: frozenset[str]) -> Match | None:
        """The text match without the indicators judged by fields (None when none
        is left); its attribution and sources are those of the indicators kept."""
        if not judged.intersection(match.indicators):
            return match
        kept = [ident for ident in match.indicators if ident not in judged]
        if not kept:
            return None
        behind = [self._indicators[ident] for ident in kept if ident in self._indicators]
        return replace(
            match,
            indicators=tuple(kept),
            attribution=tuple(dict.fromkeys(name for indicator in behind for name in indicator.attribution)),
            sources=tuple(dict.fromkeys(source for indicator in behind for source in indicator.sources)),
        )

    def _field_match(self, hit: EventHit, fields: Fields, number: int) -> FieldMatch:
        indicator = self._indicators[hit.indicator]
        # Two fields giving one property with one value (Sysmon's CommandLine and ECS's
        # process.command_line) are one value: the first field names it.
        shown_by_value: dict[str, str] = {}
        for name in hit.fields:
            shown_by_value.setdefault(_value_text(fields.get(name, ())), name)
        shown = ",".join(shown_by_value)
        match = Match(
            line=number,
            start=0,
            end=len(shown),
            text=shown,
            kind=FIELDS,
            value=indicator.pattern,
            indicators=(indicator.id,),
            attribution=indicator.attribution,
            sources=indicator.sources,
        )
        return FieldMatch(match, ",".join(shown_by_value.values()) or None)

    def _stream_match(self, hit: StreamHit, number: int) -> FieldMatch:
        indicator = self._indicators[hit.indicator]
        match = Match(
            line=number,
            start=0,
            end=0,
            text="",
            kind=FIELDS,
            value=indicator.pattern,
            indicators=(indicator.id,),
            attribution=indicator.attribution,
            sources=indicator.sources,
        )
        return FieldMatch(match, None, tuple(Event(moment.index, moment.time) for moment in hit.events))


def _value_text(values: Sequence[Any]) -> str:
    """A field's value as the record wrote it (a list's elements joined by spaces)."""
    shown = [value.isoformat() if isinstance(value, datetime) else str(value) for value in values]
    return " ".join(shown)
