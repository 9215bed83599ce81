"""STIX patterns with observation operators, evaluated over a stream of records in one pass.

Each record is read once (``EventMatcher.record``), tested once against every
observation of every pattern (through the same index of property paths and
values ``matcher.py`` uses), and stamped with its time: the time its line
carries (``LogClock``) or the one the caller gives. The expression tree of
each pattern (``expressions.py``) then works on those outcomes only:

- Records are evaluated in time order. Only a record that holds some
  observation can take part in a match, so only those wait. With a
  ``lateness`` of n seconds, a record waits until one n seconds newer has
  been fed and is then put in its place; one behind a record already
  evaluated is dropped and counted in ``late``. With no lateness (None),
  every record waits for ``flush`` (``ordering.TimeOrder``: in memory, then
  in sorted runs on disk), and is evaluated in exact time order whatever
  the order it was fed in. A record without a time holding an observation
  is counted in ``untimed`` and not evaluated.
- At event time (``validity`` given), a record holds the observations of
  an indicator only when the indicator was valid at the record's time
  (``valid_from`` <= t < ``valid_until``): a match is made of records all
  inside its indicator's validity.
- Every node of the tree keeps the partial matches it may still complete,
  each the set of records it binds. A new record yields, at each node, the
  matches that end with it: a leaf's own record, an ``AND`` of a new match
  on one side with kept ones of the other side (no record shared), a
  ``FOLLOWEDBY`` likewise with the left side's records at or before the
  right side's, ``REPEATS n`` a new match with ``n - 1`` kept ones sharing
  no record, ``WITHIN``/``START STOP`` filtering by the records' times.
- Memory: inside ``WITHIN n SECONDS`` a partial match older than ``n``
  seconds can never complete and is dropped; every node keeps at most
  ``max_partials`` (``MAX_PARTIALS``), the oldest dropped first (counted in
  ``dropped``). A new match is joined with at most ``FANOUT`` kept ones, the
  most recent first, which keeps a record's cost independent of the stream's
  length.
- A pattern that holds gives one ``StreamHit`` naming every record of the
  match, and the payload the caller gave with the record that completed it;
  its partial matches are then cleared, so the next hit is made of records
  that come after.
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .._common.errors import PatternError
from .._common.model import IndicatorSet, Problem
from .._common.timestamps import LogClock
from .expressions import Both, Either, Expression, Leaf, PatternTree, Repeats, Within, expression_of
from .mapping import SchemaMapping
from .matcher import EventMatcher, _pairs, _triggers, read_keys, record_triggers
from .objects import Record, provided_paths
from .ordering import TimeOrder
from .predicates import Observation

# Partial matches one node of a pattern keeps at most (the oldest are dropped first).
MAX_PARTIALS = 1_000
# Kept partial matches a new one is joined with at most, the most recent first.
FANOUT = 4
# Matches one node hands up per record at most.
_MAX_NEW = 16
# Records waiting for their place in time order at most; past it the oldest is evaluated early.
MAX_BUFFERED = 100_000
# Records evaluated at the end between two looks at a stop request.
_STOP_CHECKS = 4096
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
_NO_HORIZON = None


@dataclass(frozen=True, slots=True)
class Moment:
    """A record of a match: its index (the line number, unless the caller gave one) and its time."""

    index: int
    time: datetime


@dataclass(frozen=True, slots=True)
class StreamHit:
    """An indicator whose pattern holds, every record of the match in time
    order, and the payload given with the record that completed it."""

    indicator: str
    events: tuple[Moment, ...]
    payload: Any = None


class _Binding:
    """Records bound to a part of a pattern: (microseconds, index, time) each, and their first and last time."""

    __slots__ = ("events", "first", "indices", "last")

    def __init__(self, events: tuple[tuple[int, int, datetime], ...]) -> None:
        self.events = events
        self.first = events[0][0]
        self.last = events[-1][0]
        self.indices = frozenset(event[1] for event in events)

    def joined(self, *others: _Binding) -> _Binding:
        return _Binding(tuple(sorted(event for binding in (self, *others) for event in binding.events)))


_Event = tuple[int, int, datetime]


class _Node:
    """The evaluation state of one node of a pattern's tree."""

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        """The matches of this node that end with ``event`` (which holds the observations ``slots``)."""
        raise NotImplementedError

    def clear(self) -> None:
        """Forget every kept partial match."""

    def dropped(self) -> int:
        return 0


class _LeafNode(_Node):
    def __init__(self, slot: int) -> None:
        self.slot = slot

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        return [_Binding((event,))] if self.slot in slots else []


class _EitherNode(_Node):
    def __init__(self, operands: list[_Node]) -> None:
        self.operands = operands

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        found = [binding for operand in self.operands for binding in operand.feed(event, slots)]
        return found[:_MAX_NEW]

    def clear(self) -> None:
        for operand in self.operands:
            operand.clear()

    def dropped(self) -> int:
        return sum(operand.dropped() for operand in self.operands)


class _Kept:
    """Partial matches a node keeps: at most ``cap``, none older than ``horizon`` microseconds."""

    def __init__(self, horizon: int | None, cap: int) -> None:
        self.horizon = horizon
        self.items: deque[_Binding] = deque()
        self.cap = cap
        self.dropped = 0

    def cutoff(self, now: int) -> int | None:
        return None if self.horizon is None else now - self.horizon

    def prune(self, now: int) -> None:
        cutoff = self.cutoff(now)
        if cutoff is None:
            return
        while self.items and self.items[0].first < cutoff:
            self.items.popleft()

    def add(self, found: list[_Binding]) -> None:
        for binding in found:
            if len(self.items) >= self.cap:
                self.items.popleft()
                self.dropped += 1
            self.items.append(binding)

    def recent(self, now: int) -> Iterable[_Binding]:
        """Kept matches, the most recent first, without those too old to complete."""
        cutoff = self.cutoff(now)
        for binding in reversed(self.items):
            if cutoff is None or binding.first >= cutoff:
                yield binding


class _BothNode(_Node):
    def __init__(self, left: _Node, right: _Node, ordered: bool, horizon: int | None, cap: int) -> None:
        self.left, self.right, self.ordered = left, right, ordered
        self.kept_left, self.kept_right = _Kept(horizon, cap), _Kept(horizon, cap)

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        new_left, new_right = self.left.feed(event, slots), self.right.feed(event, slots)
        if not new_left and not new_right:
            return []
        now = event[0]
        self.kept_left.prune(now)
        self.kept_right.prune(now)
        found: list[_Binding] = []
        for binding in new_left:
            partners = (kept for kept in self.kept_right.recent(now) if self._fits(binding, kept))
            found.extend(binding.joined(kept) for kept in _first(partners, FANOUT))
        for binding in new_right:
            partners = (kept for kept in self.kept_left.recent(now) if self._fits(kept, binding))
            found.extend(binding.joined(kept) for kept in _first(partners, FANOUT))
        self.kept_left.add(new_left)
        self.kept_right.add(new_right)
        return found[:_MAX_NEW]

    def _fits(self, left: _Binding, right: _Binding) -> bool:
        if self.ordered and left.last > right.first:
            return False
        return left.indices.isdisjoint(right.indices)

    def clear(self) -> None:
        self.left.clear()
        self.right.clear()
        self.kept_left.items.clear()
        self.kept_right.items.clear()

    def dropped(self) -> int:
        return self.kept_left.dropped + self.kept_right.dropped + self.left.dropped() + self.right.dropped()


class _WithinNode(_Node):
    def __init__(self, operand: _Node, span: int) -> None:
        self.operand, self.span = operand, span

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        return [binding for binding in self.operand.feed(event, slots) if binding.last - binding.first <= self.span]

    def clear(self) -> None:
        self.operand.clear()

    def dropped(self) -> int:
        return self.operand.dropped()


class _RepeatsNode(_Node):
    def __init__(self, operand: _Node, times: int, horizon: int | None, cap: int) -> None:
        self.operand, self.times = operand, times
        self.kept = _Kept(horizon, max(cap, times - 1))  # room for the repetitions a match needs

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        new = self.operand.feed(event, slots)
        if not new or self.times == 1:
            return new
        now = event[0]
        self.kept.prune(now)
        found: list[_Binding] = []
        for binding in new:
            candidates = _first((kept for kept in self.kept.recent(now) if kept.indices.isdisjoint(binding.indices)),
                                self.times - 1 + FANOUT)  # fmt: skip
            # The most recent repetitions sharing no record (the tightest set, which WITHIN needs), and
            # the sets leaving out one of the most recent (a record the rest of the pattern may need).
            seen: set[frozenset[int]] = set()
            for left_out in (None, *range(min(FANOUT, len(candidates)))):
                chosen = self._disjoint([kept for at, kept in enumerate(candidates) if at != left_out], binding)
                if chosen is not None:
                    joined = binding.joined(*chosen)
                    if joined.indices not in seen:
                        seen.add(joined.indices)
                        found.append(joined)
        self.kept.add(new)
        return found[:_MAX_NEW]

    def _disjoint(self, candidates: list[_Binding], binding: _Binding) -> list[_Binding] | None:
        chosen: list[_Binding] = []
        taken = set(binding.indices)
        for kept in candidates:
            if taken.isdisjoint(kept.indices):
                chosen.append(kept)
                taken |= kept.indices
                if len(chosen) == self.times - 1:
                    return chosen
        return None

    def clear(self) -> None:
        self.operand.clear()
        self.kept.items.clear()

    def dropped(self) -> int:
        return self.kept.dropped + self.operand.dropped()


class _DuringNode(_Node):
    def __init__(self, operand: _Node, start: int, stop: int) -> None:
        self.operand, self.start, self.stop = operand, start, stop

    def feed(self, event: _Event, slots: frozenset[int]) -> list[_Binding]:
        found = self.operand.feed(event, slots)
        return [binding for binding in found if self.start <= binding.first and binding.last < self.stop]

    def clear(self) -> None:
        self.operand.clear()

    def dropped(self) -> int:
        return self.operand.dropped()


def _first(items: Iterable[_Binding], count: int) -> list[_Binding]:
    taken = []
    for item in items:
        taken.append(item)
        if len(taken) == count:
            break
    return taken


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def build(expression: Expression, cap: int = MAX_PARTIALS, horizon: int | None = _NO_HORIZON) -> _Node:
    """The evaluation state of ``expression``; ``horizon`` is the tightest WITHIN around it, in microseconds."""
    if isinstance(expression, Leaf):
        return _LeafNode(expression.slot)
    if isinstance(expression, Either):
        return _EitherNode([build(operand, cap, horizon) for operand in expression.operands])
    if isinstance(expression, Both):
        left, right = build(expression.left, cap, horizon), build(expression.right, cap, horizon)
        return _BothNode(left, right, expression.ordered, horizon, cap)
    if isinstance(expression, Within):
        span = round(expression.seconds * 1_000_000)
        tighter = span if horizon is None else min(span, horizon)
        return _WithinNode(build(expression.operand, cap, tighter), span)
    if isinstance(expression, Repeats):
        return _RepeatsNode(build(expression.operand, cap, horizon), expression.times, horizon, cap)
    return _DuringNode(
        build(expression.operand, cap, horizon), _microseconds(expression.start), _microseconds(expression.stop)
    )


@dataclass(slots=True)
class _Pattern:
    indicator: str
    tree: PatternTree
    root: _Node


Validity = Mapping[str, tuple[datetime | None, datetime | None]]


class EventStream:
    """Patterns, with observation operators, evaluated over records in time order.

    ``feed`` takes each line (or decoded event) in the order it is read and
    returns the hits its record completes (with ``lateness`` None: none until
    ``flush``); ``flush`` at the end returns those of the records still
    waiting. ``validity``: at event time, each indicator's ``valid_from`` and
    ``valid_until`` (either None when open). ``problems`` says which patterns
    were not compiled and why; ``late``, ``untimed`` and ``dropped()`` count
    what was left out.
    """

    def __init__(
        self,
        indicators: IndicatorSet | Iterable[tuple[str, str]] | Iterable[str],
        mappings: Sequence[SchemaMapping] | None = None,
        schema: str | None = None,
        clock: LogClock | None = None,
        lateness: float | None = 0.0,
        max_partials: int = MAX_PARTIALS,
        validity: Validity | None = None,
        keep_never: bool = True,
    ) -> None:
        self._reader = EventMatcher((), mappings=mappings, schema=schema)
        self._clock = clock or LogClock()
        self._lateness = None if lateness is None else round(lateness * 1_000_000)
        self.problems: list[Problem] = []
        self._patterns: list[_Pattern] = []
        self._valid: list[tuple[int | None, int | None] | None] = []
        self._by_trigger: dict[tuple[str, Any], list[tuple[int, int]]] = {}
        provided = provided_paths(self._reader.mappings)
        for indicator, pattern in _pairs(indicators):
            try:
                tree = expression_of(pattern)
            except PatternError as exc:
                self.problems.append(Problem(indicator, str(exc)))
                continue
            if _never(tree.root, provided):
                reason = "no mapping gives the paths its observations need: the pattern never holds on records"
                self.problems.append(Problem(indicator, reason, status="warning" if keep_never else "skipped"))
                if not keep_never:
                    continue
            number = len(self._patterns)
            self._patterns.append(_Pattern(indicator, tree, build(tree.root, max_partials)))
            self._valid.append(_window(validity.get(indicator, (None, None))) if validity is not None else None)
            for slot, observation in enumerate(tree.observations):
                for trigger in set(_triggers(observation)):
                    self._by_trigger.setdefault(trigger, []).append((number, slot))
        self.trigger_paths = frozenset(path for path, _ in self._by_trigger)
        self.read_keys = frozenset(
            key
            for pattern in self._patterns
            for observation in pattern.tree.observations
            for key in read_keys(observation)
        )
        self._reader.build_only(self.read_keys)
        self._waiting: list[_Waiting] = []
        self._held = TimeOrder()  # lateness None: every record holding an observation, until flush
        self._newest: int | None = None
        self._released: int | None = None
        self._count = 0  # lines fed (the index of a record when the caller gives none)
        self._sequence = 0  # records fed: orders two records of one time and index
        self.late = 0
        self.untimed = 0
        self.cut = False  # a stop ended the evaluation of the records waiting

    @property
    def indicators(self) -> list[str]:
        """The indicators whose patterns it evaluates."""
        return [pattern.indicator for pattern in self._patterns]

    def observations(self, indicator: str) -> tuple[Observation, ...]:
        """The observations of an indicator's pattern it evaluates (none for another)."""
        return next((p.tree.observations for p in self._patterns if p.indicator == indicator), ())

    def set_clock(self, clock: LogClock) -> None:
        """Read the times of the lines fed next with ``clock`` (another log's)."""
        self._clock = clock

    def feed(
        self, line: str | dict[str, Any], index: int | None = None, time: datetime | None = None
    ) -> list[StreamHit]:
        """The hits the next line's record completes (with records that waited for it).

        ``index`` names the record in hits (the count of lines fed, from 1,
        unless given); ``time`` is when it happened (else the time the line
        carries). Never raises on the line's content.
        """
        self._count += 1
        record = self._reader.record(line)
        if record is None:
            return []
        if time is None:
            time = self._clock.time_of(line if isinstance(line, str) else json.dumps(line))
        return self.feed_record(record, self._count if index is None else index, time)

    def feed_record(
        self,
        record: Record,
        index: int,
        time: datetime | None,
        payload: Any = None,
        size: int = 0,
        triggers: set[tuple[str, Any]] | None = None,
    ) -> list[StreamHit]:
        """The hits a record completes, given its index (unique among the
        records fed) and time; ``payload`` comes back with a hit this record
        completes (``size``: the bytes of text it holds); ``triggers``: the
        record's ``record_triggers`` for at least ``trigger_paths``, when the
        caller has them."""
        self._sequence += 1
        if time is not None and time.tzinfo is None:
            time = time.replace(tzinfo=timezone.utc)
        at = None if time is None else _microseconds(time)
        held = self._observations_of(record, at, triggers)
        if time is None or at is None:
            self.untimed += bool(held)
            return []
        self._newest = at if self._newest is None else max(self._newest, at)
        if held:
            if self._lateness is None:
                self._held.push((at, index, self._sequence, time, held, payload), size)
                return []
            if self._released is not None and at < self._released:
                self.late += 1
            else:
                heapq.heappush(self._waiting, (at, index, self._sequence, time, held, payload))
        if self._lateness is None:
            return []
        return self._release(self._newest - self._lateness)

    def flush(self) -> list[StreamHit]:
        """The hits of the records still waiting: call at the end of the records."""
        return list(self.flushed())

    def flushed(self, stopped: Callable[[], bool] | None = None) -> Iterator[StreamHit]:
        """``flush``, each hit as soon as its record is evaluated (memory stays
        bounded however many hits the records waiting make). ``stopped`` is
        asked every few thousand records; once it says so, evaluation ends
        and ``cut`` is True."""
        records: Iterable[_Waiting] = self._held.drain() if self._lateness is None else self._due(None)
        if stopped is not None:
            records = self._until_stopped(records, stopped)
        yield from self._each_hit(records)

    def _until_stopped(self, records: Iterable[_Waiting], stopped: Callable[[], bool]) -> Iterator[_Waiting]:
        for count, record in enumerate(records):
            if count % _STOP_CHECKS == 0 and stopped():
                self.cut = True
                return
            yield record

    def close(self) -> None:
        """Forget the records waiting (and the disk they took)."""
        self._held.close()
        self._waiting.clear()

    def dropped(self) -> int:
        """Partial matches dropped because a node held ``max_partials``."""
        return sum(pattern.root.dropped() for pattern in self._patterns)

    def _observations_of(
        self, record: Record, at: int | None, triggers: set[tuple[str, Any]] | None
    ) -> dict[int, frozenset[int]]:
        """The observations ``record`` holds: pattern number -> slots (at event
        time, of the patterns valid at ``at`` only)."""
        if not self._by_trigger:
            return {}
        if triggers is None:
            triggers = record_triggers(record, self.trigger_paths)
        candidates = {entry for trigger in triggers for entry in self._by_trigger.get(trigger, ())}
        held: dict[int, set[int]] = {}
        for number, slot in candidates:
            window = self._valid[number]
            if window is not None and at is not None and not _inside(window, at):
                continue
            if self._patterns[number].tree.observations[slot].holds(record.by_type):
                held.setdefault(number, set()).add(slot)
        return {number: frozenset(slots) for number, slots in held.items()}

    def _release(self, until: int | None) -> list[StreamHit]:
        """With a lateness: evaluate the records waiting up to ``until`` (all when None)."""
        return self._evaluate(self._due(until))

    def _due(self, until: int | None) -> Iterator[_Waiting]:
        while self._waiting and (until is None or self._waiting[0][0] <= until or len(self._waiting) > MAX_BUFFERED):
            yield heapq.heappop(self._waiting)

    def _evaluate(self, records: Iterable[_Waiting]) -> list[StreamHit]:
        return list(self._each_hit(records))

    def _each_hit(self, records: Iterable[_Waiting]) -> Iterator[StreamHit]:
        """The hits of records evaluated in the order given, a record's in order of their last event."""
        for at, index, _, time, held, payload in records:
            hits: list[StreamHit] = []
            self._released = at
            event = (at, index, time)
            for number, slots in held.items():
                pattern = self._patterns[number]
                found = pattern.root.feed(event, slots)
                if found:
                    best = max(found, key=lambda binding: binding.first)  # the tightest match
                    moments = tuple(Moment(i, t) for _, i, t in best.events)
                    hits.append(StreamHit(pattern.indicator, moments, payload))
                    pattern.root.clear()
            yield from sorted(hits, key=lambda hit: (hit.events[-1].time, hit.events[-1].index, hit.indicator))


# (microseconds, index, sequence, time, observations held, payload): the sequence orders ties, never the rest.
_Waiting = tuple[int, int, int, datetime, dict[int, frozenset[int]], Any]


def _window(validity: tuple[datetime | None, datetime | None]) -> tuple[int | None, int | None]:
    start, stop = validity
    return (None if start is None else _microseconds(start), None if stop is None else _microseconds(stop))


def _inside(window: tuple[int | None, int | None], at: int) -> bool:
    start, stop = window
    return (start is None or start <= at) and (stop is None or at < stop)


def _never(expression: Expression, provided: frozenset[str]) -> bool:
    """True when no record a mapping reads can ever make ``expression`` hold."""
    if isinstance(expression, Leaf):
        return bool(expression.observation.expression.missing(provided))
    if isinstance(expression, Either):
        return all(_never(operand, provided) for operand in expression.operands)
    if isinstance(expression, Both):
        return _never(expression.left, provided) or _never(expression.right, provided)
    return _never(expression.operand, provided)
