"""OpenIOC 1.0 / 1.1 XML (Mandiant's format) -> STIX 2.1 indicator dicts.

Parsed with defusedxml, as STIX 1 is: no DTDs, no entities, no network.
An ``IndicatorItem`` compares one term (its ``Context search``, such as
``Network/DNS`` or ``FileItem/Md5sum``) with its ``Content``. Each item of
the top ``OR`` becomes one indicator (an OR of ORs is flattened); an ``AND``
becomes one observation joining its items with AND, which STIX allows only
within one object type (a file's name AND its hash): an AND across object
types would be an AND between observations, which the compiler does not
support, and is skipped. If any item of an AND cannot be read, the whole AND
is skipped: dropping a part would widen it.

Every ``IndicatorItem`` is accounted for: it is in the ``x_openioc_items`` of
one indicator, or it is one skipped problem whose reason names its term.

Citizen Lab's MISP exports leave ``Content`` empty and write the value in the
item's ``id`` attribute. In a document where no item has a ``Content`` value,
an id that is not a UUID (the ids OpenIOC writes) is read as the value, and
the source gets a warning saying how many values were read that way. A
document with values in ``Content`` uses its ids as ids (``i1``, ``dns-3``):
an empty item of it is skipped, its id never taken for a value.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from .._common.errors import PatternError, SourceError
from .._common.model import (
    DOMAIN,
    EMAIL,
    EMAIL_SUBJECT,
    FILE_NAME,
    HTTP_REQUEST,
    IPV4,
    IPV6,
    MD5,
    MUTEX,
    PROCESS_NAME,
    REGISTRY_KEY,
    SHA1,
    SHA256,
    URL,
    USER_ACCOUNT,
    USER_AGENT,
    Problem,
)
from .._patterns.canonical import HIVES, expand_hive, refang, typed_value
from .._patterns.values import like_atom
from . import stix2_build as build
from .objects import SourceObjects
from .paths import folder_only, name_in_folder, refuse_variables, split_path
from .xml_elements import child, children, local, parse_xml, text

_XML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<", re.DOTALL)
_OPENIOC_ROOT = re.compile(
    rb"<(?:[\w-]+:)?(?:ioc|OpenIOC)\b[^>]*(?:schemas\.mandiant\.com/2010/ioc|openioc\.org/schemas)"
)
_ROOTS = ("ioc", "OpenIOC")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_UNDATED = "1970-01-01T00:00:00.000Z"

# Context search (lower case) -> (kind, STIX object type, object path when not the kind's own).
# An IP term's kind is told by its value (IPv4 or IPv6); its type is set then.
_IP = "ip"
_TERMS: dict[str, tuple[str, str, str | None]] = {
    "fileitem/md5sum": (MD5, "file", None),
    "fileitem/sha1sum": (SHA1, "file", None),
    "fileitem/sha256sum": (SHA256, "file", None),
    "fileitem/filename": (FILE_NAME, "file", None),
    "network/dns": (DOMAIN, "domain-name", None),
    "dnsentryitem/host": (DOMAIN, "domain-name", None),
    "dnsentryitem/recordname": (DOMAIN, "domain-name", None),
    "urlhistoryitem/url": (URL, "url", None),
    "network/uri": (URL, "url", None),
    "network/url": (URL, "url", None),
    "network/useragent": (
        USER_AGENT,
        "network-traffic",
        "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
    ),
    "processitem/name": (PROCESS_NAME, "process", None),
    "email/subject": (EMAIL_SUBJECT, "email-message", None),
    "useritem/username": (USER_ACCOUNT, "user-account", None),
    "portitem/remoteip": (_IP, "", None),
    "processitem/portlist/portitem/remoteip": (_IP, "", None),
    "routeentryitem/destination": (_IP, "", None),
    "network/ip": (_IP, "", None),
    "email/from": (EMAIL, "email-message", "email-message:from_ref.value"),
    "registryitem/path": (REGISTRY_KEY, "windows-registry-key", None),
    "registryitem/keypath": (REGISTRY_KEY, "windows-registry-key", None),
}
# Full paths: a name AND its folder, as the STIX 1 reader reads CybOX File_Path.
_PATH_TERMS = {"fileitem/fullpath", "fileitem/filepath"}
_MUTEX_NAMES = {"mutex", "mutexname", "mutant"}
_HANDLE_NAME = "processitem/handlelist/handle/name"
_HANDLE_TYPE = "processitem/handlelist/handle/type"
_SUPPORTED_CONDITIONS = "'is' and 'starts-with'"


class _Skip(Exception):
    """An item (or an AND) that no supported STIX 2 pattern expresses; ``item`` is the one at fault."""

    def __init__(self, reason: str, item: Element | None = None) -> None:
        super().__init__(reason)
        self.item = item


def looks_like_openioc(head: bytes) -> bool:
    """The first bytes of a file are XML whose root is an OpenIOC 1.0 ``ioc`` or 1.1 ``OpenIOC``."""
    return _XML_START.match(head) is not None and _OPENIOC_ROOT.search(head[:65_536]) is not None


def read_openioc(data: bytes, label: str) -> SourceObjects:
    root = parse_xml(data, label)
    if local(root.tag) not in _ROOTS:
        raise SourceError(f"{label}: not an OpenIOC document (root element {local(root.tag)})")
    return _Ioc(root, label).read()


@dataclass
class _Expression:
    """A comparison expression of one observation, the object types it compares, its items."""

    text: str
    types: set[str]
    items: list[str] = field(default_factory=list)
    grouped: bool = False  # joins parts with OR: needs parentheses inside an AND


class _Ioc:
    def __init__(self, root: Element, label: str) -> None:
        self.root = root
        self.label = label
        self.base = label.replace("\\", "/").rsplit("/", 1)[-1]
        metadata = child(root, "metadata")  # OpenIOC 1.1 keeps these there
        about = metadata if metadata is not None else root
        self.ioc_id = root.get("id", "")
        self.short = text(child(about, "short_description"))
        self.description = text(child(about, "description"))
        self.author = text(child(about, "authored_by"))
        self.created = (
            build.stix_time(text(child(about, "authored_date")))
            or build.stix_time(root.get("last-modified", ""))
            or _UNDATED
        )
        self.problems: list[Problem] = []
        # Values are in the ids only where no item has its value in Content.
        self.ids_are_values = not any(
            text(child(item, "Content")) for item in root.iter() if local(item.tag) == "IndicatorItem"
        )
        self.from_ids = 0
        self.position = 0

    def read(self) -> SourceObjects:
        definition = child(self.root, "definition")
        if definition is None:
            definition = child(self.root, "criteria")
        objects: list[dict[str, Any]] = []
        publisher = build.identity(self.author, self.created) if self.author else None
        campaign = self._campaign()
        tops = list(children(definition, "Indicator")) if definition is not None else []
        units = [unit for top in tops for unit in _units(top)]
        for unit in units:
            obj = self._unit(unit)
            if obj is None:
                continue
            if publisher is not None:
                obj["created_by_ref"] = publisher["id"]
            objects.append(obj)
        context: list[dict[str, Any]] = [publisher] if publisher is not None and objects else []
        if campaign is not None and objects:
            context.append(campaign)
            context.extend(self._indicates(obj["id"], campaign["id"]) for obj in objects)
        warnings = []
        if self.from_ids:
            warnings.append(
                Problem(
                    self.ioc_id or self.base,
                    f"{self.from_ids:,} IndicatorItem values read from their id attribute: their Content is empty"
                    " (as Citizen Lab's MISP exports write them)",
                    "warning",
                    self.label,
                )
            )
        return SourceObjects(self.label, [*objects, *context], "2.1", tuple(self.problems), tuple(warnings))

    def _campaign(self) -> dict[str, Any] | None:
        """The report the ioc was written for, named by its description, as what its indicators indicate."""
        if not self.description:
            return None
        return {
            "type": "campaign",
            "spec_version": "2.1",
            "id": build.stable_id("campaign", self.description),
            "created": self.created,
            "modified": self.created,
            "name": self.description,
        }

    def _indicates(self, source: str, target: str) -> dict[str, Any]:
        return {
            "type": "relationship",
            "spec_version": "2.1",
            "id": build.stable_id("relationship", source, "indicates", target),
            "created": self.created,
            "modified": self.created,
            "relationship_type": "indicates",
            "source_ref": source,
            "target_ref": target,
        }

    def _unit(self, unit: Element) -> dict[str, Any] | None:
        """One indicator from an item or an AND, or None with every item in it reported skipped."""
        self.position += 1
        ident = self._ident(unit)
        items = list(unit.iter()) if local(unit.tag) == "Indicator" else [unit]
        items = [item for item in items if local(item.tag) == "IndicatorItem"]
        try:
            expression = self._expression(unit)
        except _Skip as exc:
            self._skip_all(items, str(exc), exc.item)
            return None
        except RecursionError:
            self._skip_all(items, "indicators nested too deeply")
            return None
        if len(expression.types) > 1:
            reason = (
                f"Indicator operator AND across object types ({', '.join(sorted(expression.types))})"
                " would be an AND between observations, which is not supported"
            )
            self._skip_all(items, reason)
            return None
        if not expression.text:
            self._skip_all(items, "AND holds nothing a log line can show")
            return None
        source_name = self.short or self.base
        obj = build.indicator(
            ident=ident,
            pattern=f"[{expression.text}]",
            name=" - ".join(filter(None, (self.short, self.description))) or ident,
            created=self.created,
            source_name=source_name,
            description=self.description or None,
            x_openioc_items=expression.items,
        )
        if self.ioc_id:
            obj["external_references"][0]["external_id"] = self.ioc_id
        return obj

    def _ident(self, unit: Element) -> str:
        written = unit.get("id", "")
        found = _UUID.fullmatch(written)
        if found:
            return f"indicator--{uuid.UUID(found.group())}"
        return build.stable_id("indicator", self.ioc_id or self.base, str(self.position), written)

    def _skip_all(self, items: list[Element], reason: str, culprit: Element | None = None) -> None:
        """Each item skipped: the one at fault with its reason (which names its term), the others naming it."""
        for item in items:
            if item is culprit or len(items) == 1:
                shown = reason
            else:
                shown = f"{_search(item) or '(no Context search)'}: part of an Indicator that is skipped: {reason}"
            self.problems.append(Problem(item.get("id") or f"#{self.position}", shown, "skipped", self.label))

    def _expression(self, node: Element) -> _Expression:
        if local(node.tag) == "IndicatorItem":
            return self._item(node)
        operator = (node.get("operator") or "OR").upper()
        if operator not in ("AND", "OR"):
            raise _Skip(f"Indicator operator {operator!r} is not supported")
        parts = list(node)
        parts = [part for part in parts if local(part.tag) in ("Indicator", "IndicatorItem")]
        if not parts:
            raise _Skip("empty Indicator")
        if operator == "AND":
            parts = self._mutexes(parts)
        expressions = [self._expression(part) for part in parts if part is not None]
        expressions = [expression for expression in expressions if expression.text or expression.items]
        joiner = f" {operator} "
        shown = [
            f"({e.text})" if e.grouped and operator == "AND" and len(expressions) > 1 else e.text
            for e in expressions
            if e.text
        ]
        return _Expression(
            joiner.join(shown),
            {t for e in expressions for t in e.types},
            [i for e in expressions for i in e.items],
            grouped=operator == "OR" and len(shown) > 1,
        )

    def _mutexes(self, parts: list[Element]) -> list[Element]:
        """In an AND, ``Handle/Type is Mutant`` makes its ``Handle/Name`` siblings mutex names."""
        types = [p for p in parts if local(p.tag) == "IndicatorItem" and _search(p).lower() == _HANDLE_TYPE]
        names = [p for p in parts if local(p.tag) == "IndicatorItem" and _search(p).lower() == _HANDLE_NAME]
        for handle_type in types:
            value = self._value(handle_type)
            if value.lower() != "mutant" or (handle_type.get("condition") or "is").lower() != "is":
                raise _Skip(f"{_HANDLE_TYPE} {value!r}: only 'is Mutant' handles (mutexes) are read", handle_type)
        if types and names:
            for name in names:
                name.set("{iocmatch}mutex", "1")
            for handle_type in types:
                handle_type.set("{iocmatch}consumed", "1")
        return parts

    def _item(self, item: Element) -> _Expression:
        try:
            return self._read_item(item)
        except _Skip as exc:
            raise _Skip(str(exc), item) from None

    def _read_item(self, item: Element) -> _Expression:
        term = _search(item)
        ident = item.get("id") or f"#{self.position}"
        if item.get("{iocmatch}consumed"):
            return _Expression("", set(), [ident])
        if item.get("negate", "").lower() == "true":
            raise _Skip(f'{term}: negated items (negate="true") are not supported')
        condition = (item.get("condition") or "is").lower()
        if condition == "contains":
            raise _Skip(
                f"{term}: condition 'contains' would be LIKE '%x%', which the pattern compiler does not support"
            )
        if condition not in ("is", "starts-with"):
            raise _Skip(f"{term}: condition {condition!r} is not supported (only {_SUPPORTED_CONDITIONS})")
        value = self._value(item)
        if not value:
            raise _Skip(f"{term}: empty Content")
        try:
            kind, object_type, object_path = self._term(item, term, value)
            text = self._comparison(term, kind, object_path, value, condition)
        except PatternError as exc:
            raise _Skip(f"{term}: {exc}") from None
        return _Expression(text, {object_type}, [ident], grouped=" OR " in text)

    def _term(self, item: Element, term: str, value: str) -> tuple[str, str, str | None]:
        key = term.lower()
        if item.get("{iocmatch}mutex") or key.rsplit("/", 1)[-1] in _MUTEX_NAMES:
            return MUTEX, "mutex", None
        if key == _HANDLE_NAME:
            raise _Skip(f"{term}: a handle name without 'Handle/Type is Mutant' in its AND may name any handle")
        if key == _HANDLE_TYPE:
            raise _Skip(f"{term}: a handle type without a Handle/Name in its AND names nothing to look for")
        if key in _PATH_TERMS:
            return FILE_NAME, "file", None
        if key not in _TERMS:
            raise _Skip(f"{term or '(no Context search)'}: term is not supported")
        kind, object_type, object_path = _TERMS[key]
        if key == "network/uri" and "://" not in value:  # a request's path: what a web log shows
            return HTTP_REQUEST, "network-traffic", None
        if kind == _IP:
            kind = IPV6 if ":" in value else IPV4
            object_type = kind
        return kind, object_type, object_path

    def _comparison(self, term: str, kind: str, object_path: str | None, value: str, condition: str) -> str:
        if term.lower() in _PATH_TERMS:
            if condition != "is":
                raise _Skip(f"{term}: condition {condition!r} on a path is not supported (only 'is')")
            return _path(value)
        if kind == REGISTRY_KEY:
            hive = value.split("\\", 1)[0].upper()
            if hive not in HIVES and hive not in HIVES.values():
                raise _Skip(f"{term}: registry key '{value}' has no hive (HKLM, HKEY_CURRENT_USER, ...)")
            value = expand_hive(value)
        if condition == "starts-with":
            like_atom(kind, value + "%")  # PatternError when the compiler cannot read it
            return f"{object_path or build.OBJECT_PATHS[kind]} LIKE {build.quote(value + '%')}"
        typed_kind, canonical = typed_value(kind, value)
        # Written defanged, the value stays so in the pattern: compiling refangs it and warns, as for any feed.
        return build.comparison(typed_kind, value if refang(kind, value) != value else canonical, object_path)

    def _value(self, item: Element) -> str:
        value = text(child(item, "Content"))
        if value:
            return value
        written = (item.get("id") or "").strip()
        if written and self.ids_are_values and not _UUID.fullmatch(written):
            if not item.get("{iocmatch}counted"):
                item.set("{iocmatch}counted", "1")
                self.from_ids += 1
            return written
        return ""


def _units(indicator: Element) -> Iterator[Element]:
    """What becomes one indicator each: the items and ANDs under ORs, however nested."""
    if (indicator.get("operator") or "OR").upper() != "OR":
        yield indicator
        return
    for part in indicator:
        name = local(part.tag)
        if name == "IndicatorItem":
            yield part
        elif name == "Indicator":
            yield from _units(part)


def _search(item: Element) -> str:
    context = child(item, "Context")
    return (context.get("search") or "").strip() if context is not None else ""


def _path(path: str) -> str:
    """A full path as ``file:name AND file:parent_directory_ref.path`` (a folder alone when it ends in a separator)."""
    refuse_variables(path)
    folder, separator, name = split_path(path)
    if not name:
        return folder_only(path)[1:-1].replace("directory:path", "file:parent_directory_ref.path", 1)
    if not separator:
        return build.comparison(FILE_NAME, name)
    return "(" + name_in_folder(name, folder)[1:-1] + ")"
