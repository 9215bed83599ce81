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
observations, ``WITHIN``, ``REPEATS``, ``START``/``STOP``) is evaluated by one
``EventStream`` over the records of every input, in time order: with no
``lateness`` (None), once every input is read (``finish``), exactly,
whatever the order of the inputs and of their lines; with a lateness of n
seconds, as the records come, each waiting for those up to n seconds behind
it (one later than that is counted late, not evaluated). Its hit is a
``fields`` match, with an empty text and ``events`` naming every record of
the match (file, line, time), handed over (``take_streamed``) as a hit of
the line of the record that completed it.

At event time (``at_event_time``), a record is judged by fields only with
the indicators valid at its time (the time its line carries, else the
reference time), as text lines are; a match of several records is made of
records all inside the indicator's validity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any

from .._common.model import Match, Problem
from .._common.timestamps import LogClock
from .._compiling.line_text import Line
from .._events import EventHit, EventMatcher, EventStream, SchemaMapping, StreamHit
from .._events.matcher import record_triggers
from .._events.objects import provided_paths
from .._events.predicates import Observation
from .._events.records import Fields, RecordReader
from .._scanning.events import LineScanner
from .._scanning.hits import Event, FieldMatch, HitLine
from .._scanning.inputs import line_text

FIELDS = "fields"  # the kind of a match made by a record's fields
AUTO = "auto"
# Seconds a record waits for those written out of order behind it, when records are evaluated as they come.
LIVE_LATENESS = 60.0

_FIRST_TYPE = re.compile(r"\[\s*([a-z0-9-]+):")
_LINE_BITS = 40  # a record's index in the stream: its input's number above these bits, its line below


@dataclass(frozen=True, slots=True)
class PatternIndicator:
    """An indicator as records are matched against it: its pattern, and who stands behind it."""

    id: str
    pattern: str
    attribution: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    for_text: bool = True  # compiled for text too (else records alone judge it)

    def valid_at(self, moment: datetime) -> bool:
        return (self.valid_from is None or self.valid_from <= moment) and (
            self.valid_until is None or moment < self.valid_until
        )


def pattern_type(pattern: str) -> str:
    """The STIX object type a pattern names first (``network-traffic``), or ``""``."""
    found = _FIRST_TYPE.search(pattern)
    return found.group(1) if found else ""


class RecordScanner:
    """Scans lines as records of known schemas, the rest as text.

    ``schema``: ``auto`` detects each record's schema from its fields; a
    schema's name reads every record as that schema. ``mappings`` are the
    schemas known (default the bundled ones). ``lateness``: how patterns
    with observation operators wait for records out of order (module
    docstring); ``inputs``: the names of the logs to be read, when known
    (records of one time are then taken in the order of their names). Raises
    MappingError for a schema no mapping names.
    """

    fields: tuple[str, ...] = ()  # no field selection: every mapped field counts
    keep_text = True  # whether a hit of several records carries its line's text (the output shows it)

    def __init__(
        self,
        matcher: LineScanner,  # the Matcher; the scan replaces it per input with the input's log clock
        indicators: Iterable[PatternIndicator],
        schema: str = AUTO,
        mappings: Sequence[SchemaMapping] | None = None,
        *,
        lateness: float | None = None,
        at_event_time: bool = False,
        inputs: Sequence[str] = (),
    ) -> None:
        self.matcher = matcher
        self.at_event_time = at_event_time
        self._indicators = {indicator.id: indicator for indicator in indicators}
        pairs = [(indicator.id, indicator.pattern) for indicator in self._indicators.values()]
        self._events = EventMatcher(pairs, mappings=mappings, schema=None if schema == AUTO else schema)
        self._reader = RecordReader()
        failed = {problem.id for problem in self._events.problems if problem.status != "warning"}
        self._observations: dict[str, tuple[Observation, ...]] = {
            ident: observations
            for ident, _ in pairs
            if ident not in failed and (observations := self._events.observations(ident)) is not None
        }
        # Patterns with observation operators: one EventStream evaluates them; one it
        # cannot compile, or that never holds on the records read, is a problem.
        wanted = None if schema == AUTO else schema
        read = [m for m in self._events.mappings if wanted is None or m.schema == wanted]
        operators = [(ident, pattern) for ident, pattern in pairs if ident in failed]
        validity = None
        if at_event_time:
            validity = {ident: (found.valid_from, found.valid_until) for ident, found in self._indicators.items()}
        self._stream = EventStream(operators, read, wanted, lateness=lateness, validity=validity, keep_never=False)
        self._stream_problems = [Problem(problem.id, problem.reason) for problem in self._stream.problems]
        self._stream_pairs = self._stream.indicators
        for ident in self._stream_pairs:
            self._observations[ident] = self._stream.observations(ident)
        self._trigger_paths = self._events.trigger_paths | self._stream.trigger_paths
        self._events.build_only(self._events.read_keys | self._stream.read_keys)
        self._judged: dict[str, frozenset[str]] = {}
        self._clock = LogClock()
        # The logs to be read, by name: records of one time are taken in this order, whatever the order given.
        self._inputs: list[str] = sorted(set(inputs))
        self._unread = set(self._inputs)
        self._input = -1  # the number of the log being read
        self._last_line = 0
        self._streamed: list[HitLine] = []

    def new_input(self, name: str = "-", clock: LogClock | None = None) -> None:
        """The next lines are of the log ``name`` (their times read with
        ``clock``): a Zeek header read before does not hold for them."""
        self._reader = RecordReader()
        self._clock = clock or LogClock()
        self._last_line = 0
        if name in self._unread:
            self._unread.discard(name)
            self._input = self._inputs.index(name)
        else:
            self._inputs.append(name)
            self._input = len(self._inputs) - 1
        if self._input >= 1 << (63 - _LINE_BITS):
            raise ValueError("too many inputs for one scan")  # 2**23: more than a command line holds

    def finish(self, stopped: Callable[[], bool] | None = None) -> Iterator[HitLine]:
        """The hits of several records still to come once every input is read,
        each as soon as it is found; ``stopped`` (asked now and then) ends the
        evaluation early, and ``cut`` then says so."""
        try:
            for hit in self._stream.flushed(stopped):
                self._add_streamed([hit])
                if len(self._streamed) > 1:  # the one before is complete: no later hit joins its line
                    yield self._streamed.pop(0)
            yield from self.take_streamed()
        finally:
            self._stream.close()

    @property
    def cut(self) -> bool:
        """Whether a stop ended the evaluation of the records waiting."""
        return self._stream.cut

    def take_streamed(self) -> list[HitLine]:
        """The hits of several records completed since the last call, a hit line each."""
        taken, self._streamed = self._streamed, []
        return taken

    def stream_counts(self) -> tuple[int, int, int]:
        """Of the records read so far, for patterns with observation operators:
        those holding an observation but late (behind a record already
        evaluated) or without a time, and partial matches dropped for room."""
        if not self._stream_pairs:
            return 0, 0, 0
        return self._stream.late, self._stream.untimed, self._stream.dropped()

    @property
    def compiled_ids(self) -> frozenset[str]:
        """The indicators whose patterns compiled for records and can hold on one."""
        return frozenset(self._observations) - {problem.id for problem in self._never_judged()}

    def _never_judged(self) -> list[Problem]:
        """Indicators only records judge whose patterns no mapped record can make hold: nothing judges them."""
        return [
            Problem(p.id, p.reason)
            for p in self._events.problems
            if p.status == "warning" and not self._indicators[p.id].for_text
        ]

    @property
    def pattern_count(self) -> int:
        """Patterns compiled for records (with or without observation operators) that a record can make hold."""
        return len(self.compiled_ids)

    @property
    def problems(self) -> list[Problem]:
        """Patterns not compiled for records (judged by text on every line,
        when text compiled them), and why; also those only records judge that
        no record of the schemas read can make hold."""
        operators = {problem.id for problem in self._stream_problems} | set(self._stream_pairs)
        found = [p for p in self._events.problems if p.status != "warning" and p.id not in operators]
        return found + self._stream_problems + self._never_judged()

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

    def scan(self, line: Line, number: int, offset: int | None = None) -> tuple[list[FieldMatch], bool]:
        """The line's matches (a record's by fields and by text, as each
        indicator's semantics says; any other line's by text), and True: every
        line is scanned. Hits of several records the line completes wait in
        ``take_streamed``. Never raises on the line's content."""
        if self._input < 0:
            self.new_input()
        elif number <= self._last_line:
            # Line numbers started again (a followed log rotated or was truncated): another log of that name.
            self.new_input(self._inputs[self._input], self._clock)
        self._last_line = number
        text = line_text(line)
        fields = self._reader.read(text)  # every line, in order: a Zeek header sets how the next are read
        record = self._events.record_of_fields(fields) if fields else None
        matches = self.matcher.scan_line(line, number)
        if record is None or fields is None:
            return [FieldMatch(match) for match in matches], True
        judged = self.judged_by_fields(record.schema)
        found = [FieldMatch(kept) for match in matches if (kept := self.text_hit_without(match, judged)) is not None]
        triggers = record_triggers(record, self._trigger_paths)  # one look at the record for both
        hits = self._events.match_record(record, triggers)
        if hits and self.at_event_time:
            when = self.matcher.judged_at(line)
            hits = [hit for hit in hits if when is None or self._indicators[hit.indicator].valid_at(when)]
        found.extend(self._field_match(hit, fields, number) for hit in hits)
        if self._stream_pairs:
            index = self._input << _LINE_BITS | number
            payload = (index, text if self.keep_text else None, offset)
            size = len(text) if self.keep_text else 0
            time = self._clock.time_of(text)
            self._add_streamed(self._stream.feed_record(record, index, time, payload, size, triggers))
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

    def _add_streamed(self, hits: list[StreamHit]) -> None:
        """Each hit as a hit line of the record that completed it (hits of one record share one)."""
        read_at = datetime.now(timezone.utc)
        for hit in hits:
            index, text, offset = hit.payload
            name, number = self._where(index)
            found = self._stream_match(hit, number)
            previous = self._streamed[-1] if self._streamed else None
            if previous is not None and (previous.file, previous.number) == (name, number):
                self._streamed[-1] = replace(previous, matches=(*previous.matches, found))
            else:
                logged = next(moment.time for moment in hit.events if moment.index == index)
                self._streamed.append(HitLine(name, number, (found,), read_at, text, offset, logged))

    def _where(self, index: int) -> tuple[str, int]:
        """The input and line of a record's index in the stream."""
        return self._inputs[index >> _LINE_BITS], index & ((1 << _LINE_BITS) - 1)

    def _stream_match(self, hit: StreamHit, number: int) -> FieldMatch:
        indicator = self._indicators[hit.indicator]
        events = []
        for moment in hit.events:
            name, line = self._where(moment.index)
            events.append(Event(line, moment.time, name))
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
        return FieldMatch(match, None, tuple(events))


def _value_text(values: Sequence[Any]) -> str:
    """A field's value as the record wrote it (a list's elements joined by spaces)."""
    shown = [value.isoformat() if isinstance(value, datetime) else str(value) for value in values]
    return " ".join(shown)
