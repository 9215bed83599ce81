"""Mapping files: which field of a log schema holds which STIX property, as
what type of value, and how a record of that schema is recognised.

A mapping is a JSON file (the bundled ones are in ``mappings/``)::

    {
      "schema": "zeek-conn",
      "extends": "ecs",                      # optional: its rules come after these
      "detect": [{"equals": {"_path": ["conn"]}, "all": ["ts"]},
                 {"all": ["id.orig_h", "id.resp_h", "conn_state"]}],
      "fields": [
        {"field": "id.resp_h", "property": "network-traffic:dst_ref.value", "type": "address"},
        ...
      ]
    }

Each ``detect`` alternative (one object, or a list of them) names fields a
record must have (``all``) and values some of its fields must hold
(``equals``); a record goes to the mapping whose alternative it meets has the
most conditions (the more specific schema wins: Sysmon over ECS), ties by
schema name. A mapping without ``detect`` is used only when named.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .._common.errors import IocmatchError

# The types a field's value is read as (``objects.py`` says how each is read).


class MappingError(IocmatchError):
    """A mapping file that cannot be used (names the schema or the rule)."""


VALUE_TYPES = ("string", "protocol", "integer", "timestamp", "address", "hash-list", "basename", "fingerprint")


@dataclass(frozen=True, slots=True)
class FieldRule:
    """One field of a record, the STIX property it gives, and its type."""

    field: str
    property: str  # "object-type:path", as a pattern writes it
    type: str = "string"


@dataclass(frozen=True, slots=True)
class SchemaMapping:
    """The rules of one log schema, with its detection conditions."""

    schema: str
    rules: tuple[FieldRule, ...]
    conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class Condition:
    """One way to recognise a schema: fields present, and values some fields hold."""

    required: tuple[str, ...] = ()
    equals: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def specificity(self) -> int:
        return len(self.required) + len(self.equals)

    def holds(self, fields: Mapping[str, Sequence[Any]]) -> bool:
        if any(name not in fields for name in self.required):
            return False
        return all(any(str(value) in wanted for value in fields.get(name, ())) for name, wanted in self.equals)


def bundled_mappings() -> tuple[SchemaMapping, ...]:
    """The mappings shipped with iocmatch, by schema name."""
    folder = resources.files(__package__).joinpath("mappings")
    documents = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            document = json.loads(entry.read_text(encoding="utf-8"))
            documents[document["schema"]] = document
    return tuple(mapping_of(documents[schema], documents) for schema in sorted(documents))


def read_mapping(path: str, known: Iterable[SchemaMapping] = ()) -> SchemaMapping:
    """A user's mapping file; ``extends`` may name a bundled schema or one of ``known``."""
    with open(path, encoding="utf-8") as stream:
        document = json.load(stream)
    bases = {mapping.schema: mapping for mapping in (*bundled_mappings(), *known)}
    return mapping_of(document, {}, bases)


Detection = tuple[tuple[Condition, SchemaMapping], ...]


def detection(mappings: Iterable[SchemaMapping]) -> Detection:
    """Every condition of ``mappings`` with its mapping, in the order detection tries them."""
    pairs = [(condition, mapping) for mapping in mappings for condition in mapping.conditions]
    return tuple(sorted(pairs, key=lambda pair: (-pair[0].specificity, pair[1].schema)))


def detect(fields: Mapping[str, Sequence[Any]], order: Detection) -> SchemaMapping | None:
    """The mapping of the first condition (in detection order) that the record meets."""
    for condition, mapping in order:
        if condition.holds(fields):
            return mapping
    return None


def mapping_of(
    document: Any,
    documents: Mapping[str, Any],
    bases: Mapping[str, SchemaMapping] | None = None,
) -> SchemaMapping:
    """A mapping document checked and read; MappingError says what is wrong with it."""
    if not isinstance(document, dict) or not isinstance(document.get("schema"), str):
        raise MappingError("a mapping is a JSON object with a 'schema' name")
    schema = document["schema"]
    rules = [_rule(schema, entry) for entry in document.get("fields", ())]
    base = document.get("extends")
    if base is not None:
        if base in documents and base != schema:
            rules += mapping_of(documents[base], documents, bases).rules
        elif bases is not None and base in bases:
            rules += bases[base].rules
        else:
            raise MappingError(f"mapping {schema!r} extends unknown schema {base!r}")
    alternatives = document.get("detect", [])
    alternatives = [alternatives] if isinstance(alternatives, dict) else alternatives
    conditions = tuple(_condition(schema, alternative) for alternative in alternatives)
    return SchemaMapping(schema, tuple(rules), conditions)


def _condition(schema: str, alternative: Any) -> Condition:
    if not isinstance(alternative, dict) or not (alternative.get("all") or alternative.get("equals")):
        raise MappingError(f"mapping {schema!r}: a detect condition needs 'all' or 'equals': {alternative!r}")
    equals = alternative.get("equals", {})
    return Condition(
        tuple(alternative.get("all", ())),
        tuple((name, frozenset(map(str, values))) for name, values in equals.items()),
    )


def _rule(schema: str, entry: Any) -> FieldRule:
    if not isinstance(entry, dict) or not isinstance(entry.get("field"), str) or ":" not in entry.get("property", ""):
        raise MappingError(f"mapping {schema!r}: a rule needs 'field' and 'property' (type:path): {entry!r}")
    value_type = entry.get("type", "string")
    if value_type not in VALUE_TYPES:
        raise MappingError(f"mapping {schema!r}: unknown type {value_type!r} (one of {', '.join(VALUE_TYPES)})")
    return FieldRule(entry["field"], entry["property"], value_type)
