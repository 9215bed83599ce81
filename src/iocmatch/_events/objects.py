"""The STIX objects a record stands for, read through its schema's mapping.

A record gives one object of each type its rules name (one ``network-traffic``,
one ``process``, ...) and the objects those reference: a path through
``*_ref`` (``network-traffic:dst_ref.value``) reaches an object of its own, an
address (``ipv4-addr``/``ipv6-addr``, or ``domain-name`` when the field holds a
name) told by the value, other references by ``REF_TYPES``. A pattern's
comparison on ``ipv4-addr:value`` is therefore met by a connection's
destination as it would be in an observed-data object, and one on ``process``
by the parent process too. A value a rule cannot read as its type is left out,
never guessed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from .._common.addresses import is_ipv4
from .._common.timestamps import parse_timestamp
from .mapping import FieldRule, SchemaMapping

# The type of object a reference names, where the value does not tell it.
REF_TYPES = {
    "parent_ref": "process",
    "child_refs": "process",
    "image_ref": "file",
    "creator_user_ref": "user-account",
    "parent_directory_ref": "directory",
    "from_ref": "email-addr",
    "sender_ref": "email-addr",
    "to_refs": "email-addr",
    "cc_refs": "email-addr",
    "bcc_refs": "email-addr",
    "opened_connection_refs": "network-traffic",
}
# Hash names as logs write them (Sysmon's Hashes, ECS's hash.*) -> STIX's.
HASH_NAMES = {"MD5": "MD5", "SHA1": "SHA-1", "SHA256": "SHA-256", "SHA512": "SHA-512", "SHA384": "SHA-384"}
# IANA protocol numbers some logs write (CEF's proto=6) -> the names STIX lists in protocols.
_PROTOCOL_NUMBERS = {"1": "icmp", "6": "tcp", "17": "udp", "47": "gre", "50": "esp", "58": "ipv6-icmp", "132": "sctp"}
_QUOTED_OR_PLAIN = re.compile(r"'((?:[^'\\]|\\.)*)'|([^.]+)")
_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_-]{1,63})*\.?", re.ASCII)


@dataclass(eq=False, slots=True)
class StixObject:
    """One object of a record: its properties (nested keys joined with ``.``,
    ``hashes.SHA-256``), the objects it references, and where each came from."""

    type: str
    properties: dict[str, list[Any]] = field(default_factory=dict)
    refs: dict[str, list[StixObject]] = field(default_factory=dict)
    sources: dict[str, list[str]] = field(default_factory=dict)  # property key -> each value's field


@dataclass(slots=True)
class Record:
    """A record's objects, by type; ``schema`` names the mapping that read it."""

    schema: str
    objects: list[StixObject]
    by_type: dict[str, list[StixObject]]


@lru_cache(maxsize=1024)
def split_property(path: str) -> tuple[str, tuple[str, ...]]:
    """``"file:hashes.'SHA-256'"`` -> ``("file", ("hashes", "SHA-256"))``."""
    object_type, _, rest = path.partition(":")
    return object_type, tuple(quoted if plain is None else plain for quoted, plain in _components(rest))


def _components(rest: str) -> list[tuple[str, str | None]]:
    parts: list[tuple[str, str | None]] = []
    for found in _QUOTED_OR_PLAIN.finditer(rest):
        quoted, plain = found.groups()
        parts.append((quoted.replace("\\'", "'").replace("\\\\", "\\"), None) if quoted is not None else ("", plain))
    return parts


def provided_paths(mappings: Iterable[SchemaMapping]) -> frozenset[str]:
    """Every ``type:path`` a record read by ``mappings`` can hold (indices left out), as record_of builds it."""
    return frozenset(path for mapping in mappings for rule in mapping.rules for path in _rule_paths(rule))


@lru_cache(maxsize=4096)
def _rule_paths(rule: FieldRule) -> frozenset[str]:
    """The ``type:path``s one rule gives a record: its own, and the path's
    rest from each object a reference on it reaches (``process:parent_ref.
    image_ref.name`` also gives ``process:image_ref.name`` and ``file:name``)."""
    object_type, path = split_property(rule.property)
    if rule.type == "hash-list":
        path = (*path, "*")  # any hash name
    paths = {f"{object_type}:{'.'.join(path)}"}
    for at, step in enumerate(path[:-1]):
        if not step.endswith(("_ref", "_refs")):
            break
        rest = ".".join(path[at + 1 :])  # the referenced object is one of its type too
        last = at == len(path) - 2
        targets = ("ipv4-addr", "ipv6-addr", "domain-name") if rule.type == "address" and last else ()
        for target in targets or (REF_TYPES.get(step, ""),):
            paths.add(f"{target}:{rest}")
    return frozenset(paths)


def rules_reading(mapping: SchemaMapping, keys: frozenset[str]) -> tuple[FieldRule, ...]:
    """The rules of ``mapping`` giving a path some comparison reads (``keys``:
    ``type:path``, ``type:*`` for any path of a type): a record built of
    these alone decides those comparisons as the whole record does."""
    types = {key[:-2] for key in keys if key.endswith(":*")}
    hashed = {key.split("hashes.", 1)[0] + "hashes.*" for key in keys if "hashes." in key}

    def read(path: str) -> bool:
        return path in keys or path.partition(":")[0] in types or path in hashed

    return tuple(rule for rule in mapping.rules if any(read(path) for path in _rule_paths(rule)))


def record_of(
    fields: Mapping[str, Sequence[Any]], mapping: SchemaMapping, rules: Sequence[FieldRule] | None = None
) -> Record:
    """The objects ``fields`` stands for under ``mapping`` (through ``rules``
    of it only, when given)."""
    builder = _Builder()
    for rule in mapping.rules if rules is None else rules:
        values = fields.get(rule.field)
        if values:
            builder.add(rule, values)
    by_type: dict[str, list[StixObject]] = {}
    for obj in builder.objects:
        by_type.setdefault(obj.type, []).append(obj)
    return Record(mapping.schema, builder.objects, by_type)


class _Builder:
    def __init__(self) -> None:
        self.objects: list[StixObject] = []
        self._roots: dict[str, StixObject] = {}
        self._referenced: dict[tuple[int, str], StixObject] = {}

    def add(self, rule: FieldRule, values: Sequence[Any]) -> None:
        object_type, path = split_property(rule.property)
        if rule.type == "hash-list":
            read: list[Any] = [pair for value in values for pair in hash_list(str(value))]
        else:
            read = [value for value in (_read(rule.type, value) for value in values) if value is not None]
        if not read or not path:
            return
        owner = self._root(object_type)
        while len(path) > 1 and path[0].endswith(("_ref", "_refs")):
            name, path = path[0], path[1:]
            if rule.type == "address" and path == ("value",):
                self._addresses(owner, name, read, rule.field)
                return
            if name not in REF_TYPES:
                return  # a reference whose type nothing tells: left out
            owner = self._ref(owner, name, REF_TYPES[name])
        if rule.type == "hash-list":
            for hash_name, digest in read:
                self._put(owner, ".".join([*path, hash_name]), [digest], rule.field)
            return
        self._put(owner, ".".join(path), read, rule.field)

    def _root(self, object_type: str) -> StixObject:
        if object_type not in self._roots:
            self._roots[object_type] = self._new(object_type)
        return self._roots[object_type]

    def _ref(self, owner: StixObject, name: str, object_type: str) -> StixObject:
        key = (id(owner), name)
        if key not in self._referenced:
            self._referenced[key] = self._new(object_type)
            owner.refs[name] = [self._referenced[key]]
        return self._referenced[key]

    def _addresses(self, owner: StixObject, name: str, values: list[Any], source: str) -> None:
        if name in owner.refs:
            return  # a single reference is given by the first rule that has a value
        chosen = values if name.endswith("_refs") else values[:1]
        targets = [self._new(_address_type(value)) for value in chosen]
        for target, value in zip(targets, chosen, strict=True):
            self._put(target, "value", [value], source)
        owner.refs[name] = targets

    def _new(self, object_type: str) -> StixObject:
        obj = StixObject(object_type)
        self.objects.append(obj)
        return obj

    @staticmethod
    def _put(owner: StixObject, key: str, values: Iterable[Any], source: str) -> None:
        given = list(values)
        owner.properties.setdefault(key, []).extend(given)
        owner.sources.setdefault(key, []).extend([source] * len(given))


def _address_type(value: str) -> str:
    if ":" in value:
        return "ipv6-addr"
    return "ipv4-addr" if value[:1].isdigit() and value.replace(".", "").isdigit() else "domain-name"


def _read(value_type: str, value: Any) -> Any:
    """``value`` as ``value_type``, or None when it is not one."""
    if isinstance(value, bool):
        return None  # a JSON true/false is no string, number or time a rule names
    if value_type == "integer":
        return _integer(value)
    if value_type == "timestamp":
        return _timestamp(value)
    text = str(value)
    if not text:
        return None
    if value_type == "address":
        return _address(text)
    if value_type == "protocol":
        return _PROTOCOL_NUMBERS.get(text, text.lower())
    if value_type == "basename":
        return re.split(r"[\\/]", text)[-1] or None
    if value_type == "fingerprint":
        return _fingerprint(text)
    return text


def _integer(value: Any) -> int | None:
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdecimal() and len(text) < 20 else None


def _timestamp(value: Any) -> datetime | None:
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and re.fullmatch(r"\d{9,11}(\.\d+)?", value)):
            return datetime.fromtimestamp(float(value), timezone.utc)  # Zeek's ts: seconds since the epoch
        return parse_timestamp(str(value))
    except (ValueError, OverflowError, OSError):
        return None


def _address(text: str) -> str | None:
    """An IP address in its canonical form; a host name as written; None for anything else."""
    bare = text.strip().strip("[]")
    if is_ipv4(bare):
        return bare  # already canonical: the common case, without ipaddress's cost
    try:
        return str(ipaddress.ip_address(bare.split("%", 1)[0]))
    except ValueError:
        return bare if _HOST_NAME.fullmatch(bare) and not bare.replace(".", "").isdigit() else None


def hash_list(text: str) -> list[tuple[str, str]]:
    """Sysmon's ``SHA1=..,MD5=..,SHA256=..,IMPHASH=..`` as (STIX hash name,
    digest) pairs; a bare digest (CEF's ``fileHash``, which names no
    algorithm) is named by its length, as MD5, SHA-1 or SHA-256."""
    pairs = []
    for part in text.split(","):
        name, equals, digest = part.partition("=")
        if not equals and _HEX.fullmatch(name.strip()):
            name, digest = _BY_LENGTH.get(len(name.strip()), ""), name
        stix_name = HASH_NAMES.get(name.strip().upper())
        if stix_name and digest.strip():
            pairs.append((stix_name, digest.strip()))
    return pairs


_HEX = re.compile(r"[0-9A-Fa-f]+")
_BY_LENGTH = {32: "MD5", 40: "SHA1", 64: "SHA256"}


def _fingerprint(text: str) -> str | None:
    """A certificate fingerprint as logs write it (``ab:cd:..``, any case) as bare lower-case hex."""
    bare = text.replace(":", "").strip()
    return bare.lower() if bare and _HEX.fullmatch(bare) else None
