"""STIX 1.x / CybOX 2.x XML -> STIX 2.1 indicator dicts.

Parsed with defusedxml: no DTDs, no entities, no network, so a hostile
package cannot expand or fetch anything. Each CybOX object becomes one STIX 2
observation; compositions keep their AND/OR. A File's exact hashes are joined
by OR: they name the same content, and no log line writes them all. What a
log cannot show (a size, a fuzzy hash, a file name beside hashes that already
identify the file) is reported as a warning on the indicator, never matched.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import Element

from .._common.errors import PatternError, SourceError
from .._common.model import DOMAIN, EMAIL, FILE_NAME, IPV4, IPV6, MUTEX, REGISTRY_KEY, URL, Problem
from .._patterns.canonical import canonical_value, expand_hive, hash_kind, refang, typed_value
from .._patterns.values import refanged_warning
from . import stix2_build as build
from .objects import SourceObjects
from .paths import folder_only, name_in_folder, refuse_variables, split_path
from .xml_elements import child, children, local, parse_xml, text

_XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"')\]]+")
_LIST_DELIMITER = "##comma##"  # CybOX's delimiter for apply_condition lists
_UNDATED = "1970-01-01T00:00:00.000Z"


class _Unsupported(Exception):
    """An observable that no supported STIX 2 pattern can express."""


@dataclass
class _Notes:
    """What one indicator's conversion had to leave out, for the report."""

    warnings: list[str] = field(default_factory=list)


def read_stix1(data: bytes, label: str) -> SourceObjects:
    root = parse_xml(data, label)
    if local(root.tag) != "STIX_Package":
        raise SourceError(f"{label}: not a STIX 1.x package (root element {local(root.tag)})")
    return _Package(root, label).read()


def _descendants(element: Element, name: str) -> Iterator[Element]:
    return (node for node in element.iter() if local(node.tag) == name)


class _Package:
    def __init__(self, root: Element, label: str) -> None:
        self.root = root
        self.label = label
        self.base = label.replace("\\", "/").rsplit("/", 1)[-1]
        self.package_id = root.get("id", "")
        header = child(root, "STIX_Header")
        self.title = text(child(header, "Title")) if header is not None else ""
        self.produced = build.stix_time(root.get("timestamp")) or _UNDATED
        self.observables = {o.get("id"): o for o in _descendants(root, "Observable") if o.get("id")}
        self.kill_chains = {
            chain.get("id"): chain.get("name", "") for chain in _descendants(root, "Kill_Chain") if chain.get("id")
        }
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def read(self) -> SourceObjects:
        objects: list[dict[str, Any]] = []
        # Indicators inside a composite are its parts: alone they would weaken its AND.
        parts = {
            id(part)
            for composite in _descendants(self.root, "Composite_Indicator_Expression")
            for part in _descendants(composite, "Indicator")
        }
        for position, element in enumerate(_descendants(self.root, "Indicator"), 1):
            if element.get("idref") and not element.get("id"):
                continue  # a reference to an indicator defined elsewhere in the package
            if id(element) in parts:
                ident = _stix2_id(element.get("id"), self.base, str(position))
                reason = "part of a composite indicator expression, which is not supported"
                self.problems.append(Problem(ident, reason, "skipped", self.label))
                continue
            converted = self._indicator(element, position)
            if converted is not None:
                objects.append(converted)
        return SourceObjects(self.label, objects, "2.1", tuple(self.problems), tuple(self.warnings))

    def _indicator(self, element: Element, position: int) -> dict[str, Any] | None:
        ident = _stix2_id(element.get("id"), self.base, str(position))
        notes = _Notes()
        try:
            pattern = self._indicator_pattern(element, notes)
        except (_Unsupported, PatternError) as exc:
            self.problems.append(Problem(ident, str(exc), "skipped", self.label))
            return None
        except RecursionError:
            self.problems.append(Problem(ident, "observables nested too deeply", "skipped", self.label))
            return None
        self.warnings.extend(Problem(ident, warning, "warning", self.label) for warning in notes.warnings)
        created = build.stix_time(element.get("timestamp")) or self.produced
        description = text(child(element, "Description"))
        references = [{"source_name": self.title or self.base, "external_id": self.package_id}]
        references += [{"source_name": "description link", "url": url} for url in _URL_IN_TEXT.findall(description)]
        extra: dict[str, Any] = {}
        phases = self._kill_chain_phases(element)
        if phases:
            extra["kill_chain_phases"] = phases
        sighted = sorted(filter(None, (build.stix_time(s.get("timestamp")) for s in _descendants(element, "Sighting"))))
        if sighted:
            extra["x_sightings"] = sighted
        obj = build.indicator(
            ident=ident,
            pattern=pattern,
            name=text(child(element, "Title")) or ident,
            created=created,
            source_name=self.title or self.base,
            description=description or None,
            **extra,
        )
        obj["external_references"] = references
        return obj

    def _indicator_pattern(self, element: Element, notes: _Notes) -> str:
        composite = child(element, "Composite_Indicator_Expression")
        if composite is not None:
            raise _Unsupported("composite indicator expressions are not supported")
        observable = child(element, "Observable")
        if observable is None:
            raise _Unsupported("indicator has no observable")
        return " OR ".join(self._observable(observable, notes, ()))

    def _observable(self, observable: Element, notes: _Notes, seen: tuple[str, ...]) -> list[str]:
        """An observable as STIX 2 observations ``[...]``, any of which satisfies it."""
        ref = observable.get("idref")
        if ref and len(observable) == 0:
            if ref not in self.observables:
                raise _Unsupported(f"observable {ref} is referenced but not in the package")
            if ref in seen:
                raise _Unsupported(f"observable {ref} refers to itself")
            seen = (*seen, ref)
            observable = self.observables[ref]
        composition = child(observable, "Observable_Composition")
        if composition is not None:
            operator = composition.get("operator", "AND").upper()
            parts = [self._observable(inner, notes, seen) for inner in children(composition, "Observable")]
            if operator == "OR":
                return [observation for part in parts for observation in part]
            if len(parts) == 1:
                return parts[0]
            raise _Unsupported("AND of several observables (AND between observations) is not supported")
        obj = child(observable, "Object")
        properties = child(obj, "Properties") if obj is not None else None
        if properties is None:
            raise _Unsupported("observable has no object properties (an event or pattern only)")
        return [_properties(properties, notes)]

    def _kill_chain_phases(self, element: Element) -> list[dict[str, str]]:
        phases = []
        for phase in _descendants(element, "Kill_Chain_Phase"):
            chain = self.kill_chains.get(phase.get("kill_chain_id"), "") or phase.get("kill_chain_name", "")
            name = phase.get("name", "")
            if name:
                phases.append({"kill_chain_name": _slug(chain or "kill-chain"), "phase_name": _slug(name)})
        return phases


def _stix2_id(stix1_id: str | None, base: str, position: str) -> str:
    """``prefix:indicator-<uuid>`` keeps its UUID; any other id gets a stable one."""
    if stix1_id:
        found = re.search(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", stix1_id)
        if found:
            return f"indicator--{uuid.UUID(found.group())}"
        return build.stable_id("indicator", base, stix1_id)
    return build.stable_id("indicator", base, "#" + position)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _properties(properties: Element, notes: _Notes) -> str:
    """One CybOX object's properties as one STIX 2 observation ``[...]``."""
    object_type = local(properties.get(_XSI_TYPE, "").split(":")[-1])
    reader = _OBJECT_READERS.get(object_type)
    if reader is None:
        raise _Unsupported(f"CybOX object type {object_type or '(none)'} is not supported")
    return reader(properties, notes)


def _values(element: Element) -> list[str]:
    """A property's values: CybOX writes lists as ``a##comma##b``; only Equals compiles."""
    condition = element.get("condition", "Equals")
    if condition != "Equals":
        raise _Unsupported(f"CybOX condition {condition!r} is not supported")
    values = [value.strip() for value in text(element).split(_LIST_DELIMITER) if value.strip()]
    if not values:
        raise _Unsupported(f"empty {local(element.tag)}")
    return values


def _comparisons(kind: str, element: Element, notes: _Notes, object_path: str | None = None) -> list[str]:
    comparisons = []
    for value in _values(element):
        typed_kind, canonical = typed_value(kind, value)
        if refang(kind, value) != value:  # the pattern holds the value refanged: say so here
            notes.warnings.append(refanged_warning(value, canonical))
        comparisons.append(build.comparison(typed_kind, canonical, object_path))
    return comparisons


def _single(kind: str, element: Element | None, notes: _Notes) -> str:
    if element is None:
        raise _Unsupported(f"{kind} object has no value")
    return build.any_of(_comparisons(kind, element, notes))


def _domain(properties: Element, notes: _Notes) -> str:
    return _single(DOMAIN, child(properties, "Value"), notes)


def _uri(properties: Element, notes: _Notes) -> str:
    value = child(properties, "Value")
    kind = DOMAIN if properties.get("type") == "Domain Name" else URL
    return _single(kind, value, notes)


def _address(properties: Element, notes: _Notes) -> str:
    category = properties.get("category", "ipv4-addr")
    kind = {"ipv4-addr": IPV4, "ipv4-net": IPV4, "ipv6-addr": IPV6, "ipv6-net": IPV6, "e-mail": EMAIL}.get(category)
    if kind is None:
        raise _Unsupported(f"Address category {category!r} is not supported")
    return _single(kind, child(properties, "Address_Value"), notes)


def _email_message(properties: Element, notes: _Notes) -> str:
    senders = list(_descendants(properties, "From"))
    addresses = [child(sender, "Address_Value") for sender in senders]
    found = [address for address in addresses if address is not None]
    if not found:
        raise _Unsupported("EmailMessage without a From address is not supported")
    comparisons = [c for address in found for c in _comparisons(EMAIL, address, notes, "email-message:from_ref.value")]
    return build.any_of(comparisons)


def _mutex(properties: Element, notes: _Notes) -> str:
    return _single(MUTEX, child(properties, "Name"), notes)


def _registry_key(properties: Element, _notes: _Notes) -> str:
    key, hive = child(properties, "Key"), child(properties, "Hive")
    if key is None:
        raise _Unsupported("WinRegistryKey without a Key")
    prefix = text(hive) + "\\" if hive is not None and text(hive) else ""
    return build.any_of([build.comparison(REGISTRY_KEY, expand_hive(prefix + value)) for value in _values(key)])


def _file(properties: Element, notes: _Notes) -> str:
    hashes: list[str] = []
    fuzzy_only: list[str] = []
    for entry in _descendants(properties, "Hash"):
        algorithm, exact, fuzzy = (
            child(entry, "Type"),
            child(entry, "Simple_Hash_Value"),
            child(entry, "Fuzzy_Hash_Value"),
        )
        algorithm_name = text(algorithm) or "(unnamed)"
        if exact is None:
            if fuzzy is not None:
                fuzzy_only.append(algorithm_name)
                notes.warnings.append(f"{algorithm_name} fuzzy hash left out: a log line cannot show it")
            continue
        try:
            kind = hash_kind(algorithm_name)
        except PatternError:
            notes.warnings.append(f"{algorithm_name} hash left out: algorithm not supported")
            continue
        hashes.extend(_comparisons(kind, exact, notes))
    for unobservable in ("Size_In_Bytes", "File_Format", "Magic_Number", "Created_Time", "Modified_Time"):
        if child(properties, unobservable) is not None:
            notes.warnings.append(f"{unobservable} left out: a log line cannot show it")
    name, path = child(properties, "File_Name"), child(properties, "File_Path")
    if hashes:
        if name is not None:
            notes.warnings.append(f"file name {text(name)!r} kept as context: the file's hashes identify it")
        return build.any_of(hashes)
    if path is not None:
        folder_given = path.get("fully_qualified", "").lower() == "false"
        file_name = text(name) if name is not None else ""
        return " OR ".join(_file_path(value, file_name, folder_given) for value in _values(path))
    if name is not None:
        return build.any_of(_comparisons(FILE_NAME, name, notes))
    if fuzzy_only:
        raise _Unsupported(
            f"File object with only a fuzzy hash ({', '.join(fuzzy_only)}), which a log line cannot show"
        )
    raise _Unsupported("File object with no hash, name or path")


def _file_path(path: str, name: str, folder_given: bool) -> str:
    """A File_Path as one observation. CybOX lets it hold the whole path or,
    beside a File_Name (or with ``fully_qualified="false"``), just the folder."""
    refuse_variables(path)
    folder, sep, last = split_path(path)
    if name and not (sep and last.lower() == name.lower()):
        return name_in_folder(name, path.rstrip("\\/") or path)  # the path is the folder
    if folder_given or not last:
        return folder_only(path)
    if not sep:
        return build.pattern_for(FILE_NAME, canonical_value(FILE_NAME, last))
    return name_in_folder(last, folder)


_OBJECT_READERS = {
    "DomainNameObjectType": _domain,
    "URIObjectType": _uri,
    "AddressObjectType": _address,
    "EmailMessageObjectType": _email_message,
    "MutexObjectType": _mutex,
    "WindowsRegistryKeyObjectType": _registry_key,
    "FileObjectType": _file,
    "WindowsFileObjectType": _file,
}
