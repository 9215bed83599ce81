"""EventMatcher: STIX patterns compiled once, then matched record by record.

Each pattern is indexed by what a record must hold for it to hold: for an
``=``/``IN`` comparison the property and its values, for any other the
property (or, through more than one reference, the object type). An AND
needs one of its operands, so it is indexed by the most selective; an OR by
all of its branches. A record then tries only the patterns its own
properties and values name, which keeps a large set fast per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._common.errors import PatternError
from .._common.model import IndicatorSet, Problem
from .mapping import FieldRule, MappingError, SchemaMapping, bundled_mappings, detect, detection
from .objects import Record, StixObject, provided_paths, record_of, rules_reading
from .predicates import Comparison, Node, Observation, folded, form_of, observations_of, stix_timestamp
from .records import Fields, RecordReader

# A trigger: a path ("type:a.b", or "type:*" for the object type alone), and a value or None.
_Trigger = tuple[str, Any]
_ANY_VALUE = None


@dataclass(frozen=True, slots=True)
class EventHit:
    """An indicator whose pattern holds for a record, the schema the record was
    read as, and the record's fields whose values made it hold."""

    indicator: str
    schema: str
    fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Compiled:
    indicator: str
    observations: tuple[Observation, ...]

    def holds(self, by_type: dict[str, list[StixObject]]) -> bool:
        return any(observation.holds(by_type) for observation in self.observations)

    def hit(self, record: Record) -> EventHit:
        fields = [field for observation in self.observations for field in observation.fields(record.by_type)]
        return EventHit(self.indicator, record.schema, tuple(dict.fromkeys(fields)))


class EventMatcher:
    """Patterns (an IndicatorSet, or (id, pattern) pairs, or bare patterns named by themselves)
    matched against structured records with STIX semantics.

    Each record is read by the mapping its fields are detected as, or by the
    one ``schema`` names. Patterns that do not compile are not matched:
    ``problems`` says which and why; a pattern that compiles but reads only
    paths no mapping gives is kept, with a warning.
    """

    def __init__(
        self,
        indicators: IndicatorSet | Iterable[tuple[str, str]] | Iterable[str],
        mappings: Sequence[SchemaMapping] | None = None,
        schema: str | None = None,
    ) -> None:
        self.mappings = tuple(mappings if mappings is not None else bundled_mappings())
        self._detection = detection(self.mappings)
        self._schema = None if schema is None else _named(self.mappings, schema)
        self.problems: list[Problem] = []
        self._by_trigger: dict[_Trigger, list[_Compiled]] = {}
        self._compiled: dict[str, _Compiled] = {}
        self._reader = RecordReader()
        self._rules: dict[str, tuple[FieldRule, ...]] | None = None  # per schema; None: every rule
        self._built_for: frozenset[str] = frozenset()
        provided = provided_paths(self.mappings)
        for indicator, pattern in _pairs(indicators):
            try:
                compiled = _Compiled(indicator, observations_of(pattern))
            except PatternError as exc:
                self.problems.append(Problem(indicator, str(exc)))
                continue
            missing = [observation.expression.missing(provided) for observation in compiled.observations]
            if all(missing):
                paths = ", ".join(dict.fromkeys(path for paths in missing for path in paths))
                reason = f"no mapping gives {paths}: the pattern never holds on a record"
                self.problems.append(Problem(indicator, reason, status="warning"))
            self._compiled[indicator] = compiled
            for trigger in {trigger for observation in compiled.observations for trigger in _triggers(observation)}:
                self._by_trigger.setdefault(trigger, []).append(compiled)
        self.trigger_paths = frozenset(path for path, _ in self._by_trigger)
        self.read_keys = frozenset(key for compiled in self._compiled.values() for key in _read_keys(compiled))

    def build_only(self, keys: frozenset[str]) -> None:
        """Build records of the fields that give these paths alone (``read_keys``
        of every pattern that will judge them): the rest cannot change a verdict,
        and building it is most of a record's cost."""
        self._built_for = keys
        self._rules = {}

    def observations(self, indicator: str) -> tuple[Observation, ...] | None:
        """The compiled observations of an indicator's pattern (None when it did not compile)."""
        compiled = self._compiled.get(indicator)
        return None if compiled is None else compiled.observations

    def record(self, line: str | dict[str, Any]) -> Record | None:
        """The objects of one line (or decoded event), or None when it is no record of a known schema.

        Lines of one log go through here in order: a Zeek TSV header line
        sets how the data lines after it are read.
        """
        fields = self._reader.read(line)
        if not fields:
            return None
        return self.record_of_fields(fields)

    def record_of_fields(self, fields: Fields) -> Record | None:
        mapping = self._schema or detect(fields, self._detection)
        if mapping is None:
            return None
        if self._rules is None:
            return record_of(fields, mapping)
        rules = self._rules.get(mapping.schema)
        if rules is None:
            rules = self._rules[mapping.schema] = rules_reading(mapping, self._built_for)
        return record_of(fields, mapping, rules)

    def match(self, line: str | dict[str, Any]) -> list[EventHit]:
        """The indicators whose patterns hold for one record; never raises on its content."""
        record = self.record(line)
        return self.match_record(record) if record is not None else []

    def match_record(self, record: Record, triggers: set[_Trigger] | None = None) -> list[EventHit]:
        """The indicators whose patterns hold for ``record``; ``triggers``: its
        ``record_triggers`` for at least ``trigger_paths``, when the caller has them."""
        candidates: dict[int, _Compiled] = {}
        for trigger in triggers if triggers is not None else record_triggers(record, self.trigger_paths):
            for compiled in self._by_trigger.get(trigger, ()):
                candidates[id(compiled)] = compiled
        hits = [compiled.hit(record) for compiled in candidates.values() if compiled.holds(record.by_type)]
        return sorted(hits, key=lambda hit: hit.indicator)


def _named(mappings: Sequence[SchemaMapping], schema: str) -> SchemaMapping:
    for mapping in mappings:
        if mapping.schema == schema:
            return mapping
    raise MappingError(f"no mapping is named {schema!r} (known: {', '.join(m.schema for m in mappings)})")


def _pairs(indicators: IndicatorSet | Iterable[tuple[str, str]] | Iterable[str]) -> Iterable[tuple[str, str]]:
    if isinstance(indicators, IndicatorSet):
        return [(indicator.id, indicator.pattern) for indicator in indicators.indicators]
    return [(item, item) if isinstance(item, str) else item for item in indicators]


def _read_keys(compiled: _Compiled) -> set[str]:
    return {key for observation in compiled.observations for key in read_keys(observation)}


def read_keys(observation: Observation) -> set[str]:
    """The paths (``type:path``, or ``type:*``) the observation's comparisons read."""
    keys: set[str] = set()
    pending: list[Node] = [observation.expression]
    while pending:
        node = pending.pop()
        if isinstance(node, Comparison):
            keys.add(node.key)
        else:
            pending.extend(node.operands)
    return keys


def _triggers(observation: Observation) -> list[_Trigger]:
    return _node_triggers(observation.expression)


def _node_triggers(node: Node) -> list[_Trigger]:
    if isinstance(node, Comparison):
        if node.key.endswith(":*"):
            return [(node.key, _ANY_VALUE)]
        if node.equal_to:
            return [(node.key, value) for value in node.equal_to]
        return [(node.key, _ANY_VALUE)]
    branches = [_node_triggers(operand) for operand in node.operands]
    if not node.every:
        return [trigger for branch in branches for trigger in branch]
    # One operand's triggers suffice for an AND: the one keyed by values, fewest first.
    return min(branches, key=lambda branch: (any(value is _ANY_VALUE for _, value in branch), len(branch)))


def record_triggers(record: Record, paths: frozenset[str]) -> set[_Trigger]:
    """What ``record`` holds, as the index looks it up: its object types, and
    each property and value, for the ``paths`` an index knows (no other is
    ever looked up)."""
    triggers: set[_Trigger] = set()
    for obj in record.objects:
        triggers.add((f"{obj.type}:*", _ANY_VALUE))
        _add(triggers, obj, obj.type, "", paths)
        for name, targets in obj.refs.items():
            for target in targets:
                _add(triggers, target, obj.type, name + ".", paths)
    return triggers


def _add(triggers: set[_Trigger], obj: StixObject, owner_type: str, prefix: str, paths: frozenset[str]) -> None:
    for key, values in obj.properties.items():
        path = f"{owner_type}:{prefix}{key}"
        if path not in paths:
            continue
        triggers.add((path, _ANY_VALUE))
        form = form_of(owner_type, prefix + key)
        for value in values:
            if isinstance(value, datetime):
                triggers.add((path, stix_timestamp(value)))  # a string literal may name the time
            try:
                triggers.add((path, folded(value, form)))
            except TypeError:
                continue  # an unhashable value: reached through the path's trigger alone
