"""Read MISP: events (feed files, API and UI exports), attribute CSV, and feed folders.

Every MISP attribute becomes one STIX 2.1 indicator dict, or one problem of
its source, so ``read == compiled + skipped + excluded`` holds per attribute:

* ``to_ids`` false: the publisher says it is no indicator (a reference URL,
  a hash of a benign file). A problem with status ``excluded`` and the reason
  ``to_ids is false``: the loader counts it read and excluded.
* ``deleted`` true: excluded the same way (``attribute is deleted``).
* a type with no pattern (``text``, ``link``, ``yara``, ``http-method``, ...):
  a problem with status ``skipped`` naming the type.

``ip-dst|port``, ``ip-src|port`` and ``hostname|port`` are the address AND
the port, both on one line (``load(..., ignore_ports=True)`` takes the
address alone). A relative ``uri`` is a request's path; ``x509-fingerprint-*``
a certificate's hash.

Each indicator's clauses are built beside its pattern with the compiler's own
atom constructor, as the list readers do, so the loader never parses them.
Ids keep the attribute's UUID (``indicator--<uuid>``), the same in the JSON
and CSV exports of one event. The event's ``info`` names the indicators, its
``Orgc`` is their publisher (an identity, ``created_by_ref``), and its
threat-actor galaxy clusters and ``misp-galaxy:`` tags become intrusion sets
(malware and tools for those galaxies) that the indicators ``indicates``.
``valid_from`` is the attribute's ``first_seen``, else its ``timestamp``
(the CSV's ``date``: ``YYYYMMDD`` or epoch seconds), never later than the
moment of reading.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
    REGISTRY_KEY,
    SHA1,
    SHA256,
    SHA512,
    URL,
    USER_AGENT,
    Clause,
)
from .._common.timestamps import parse_timestamp
from .._patterns.canonical import expand_hive, typed_value
from .._patterns.values import atom, refanged_note
from .objects import Collector, SourceObjects
from .paths import name_in_folder, name_in_folder_clause, refuse_variables, split_path
from .rows import damage, decode, physical_lines, records, repaired
from .stix2_build import (
    EPOCH,
    X509_HASH_PATHS,
    address_and_port,
    any_of,
    comparison,
    identity,
    indicator,
    pattern_for,
    stable_id,
    stix_time,
)

EXCLUDED_NOT_FOR_IDS = "to_ids is false"

# MISP types holding one value of one kind.
_ONE_KIND = {
    "domain": DOMAIN,
    "hostname": DOMAIN,
    "md5": MD5,
    "sha1": SHA1,
    "sha256": SHA256,
    "sha512": SHA512,
    "email": EMAIL,
    "email-src": EMAIL,
    "email-dst": EMAIL,
    "mutex": MUTEX,
    "email-subject": EMAIL_SUBJECT,
    "user-agent": USER_AGENT,
}
# A certificate's fingerprints: compared as any hash of the kind is, written as the certificate's.
_X509_FINGERPRINTS = {"x509-fingerprint-md5": MD5, "x509-fingerprint-sha1": SHA1, "x509-fingerprint-sha256": SHA256}
_ADDRESS_TYPES = {"ip-src", "ip-dst"}
# `address|port`: the address and the port, both on one line; the side each is on.
_ENDPOINT_TYPES = {"ip-dst|port": "dst", "ip-src|port": "src", "hostname|port": "dst"}
# `filename|<hash>`: the hash is the indicator, the name context (malware is renamed).
_FILENAME_HASH = {"filename|md5": MD5, "filename|sha1": SHA1, "filename|sha256": SHA256, "filename|sha512": SHA512}
# Types with a reason they cannot be a pattern (yet).
_SKIPPED_TYPES = {
    "link": "a reference to read, not an indicator",
    "text": "free text, not an indicator value",
    "comment": "free text, not an indicator value",
    "other": "free text, not an indicator value",
    "http-method": "a request method alone is no indicator (every request has one)",
    "ja3-fingerprint-md5": "a JA3 fingerprint has no STIX 2.1 object path (it is no file's or certificate's hash)",
}
# Galaxies whose clusters an indicator is attributed to, and the STIX object each becomes.
_GALAXIES = {
    "threat-actor": "intrusion-set",
    "mitre-intrusion-set": "intrusion-set",
    "mitre-enterprise-attack-intrusion-set": "intrusion-set",
    "mitre-malware": "malware",
    "malpedia": "malware",
    "mitre-tool": "tool",
}
_GALAXY_TAG = re.compile(r'misp-galaxy:(?P<galaxy>[\w-]+)="(?P<value>[^"]+)"')
_CSV_COLUMNS = ("uuid", "event_id", "category", "type", "value", "comment", "to_ids", "date")
_CSV_HEADER = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*\"?uuid\"?,\"?event_id\"?,\"?category\"?,\"?type\"?,\"?value\"?")
_TRUE = {"1", "true", "yes"}


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one attribute compiles to: the pattern shown, its clauses, and context."""

    pattern: str
    clauses: tuple[Clause, ...]
    context: str = ""  # e.g. the file name beside a hash


@dataclass(frozen=True, slots=True)
class _Attribute:
    where: str  # the problem id when it is no indicator
    ident: str
    type: str
    value: str
    to_ids: bool | None  # None: not given
    deleted: bool
    comment: str
    valid_from: str
    clusters: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (STIX type, name, aliases)


# ------------------------------------------------------------------- detection


def looks_like_misp_event(document: Any) -> bool:
    """``{"Event": {...}}``, ``{"response": [{"Event": ...}, ...]}``, or a list of those."""
    if isinstance(document, list):
        return bool(document) and all(_is_event_document(item) for item in document)
    return _is_event_document(document)


def _is_event_document(document: Any) -> bool:
    if not isinstance(document, dict):
        return False
    if isinstance(document.get("Event"), dict):
        # A STIX bundle or object carrying an "Event" key stays STIX: its objects are what it holds.
        return "type" not in document and "objects" not in document
    response = document.get("response")
    return isinstance(response, list) and bool(response) and all(_is_event_document(item) for item in response)


def _events(document: Any) -> Iterator[dict[str, Any]]:
    if isinstance(document, list):
        for item in document:
            yield from _events(item)
    elif isinstance(document, dict):
        if isinstance(document.get("Event"), dict):
            yield document["Event"]
        elif isinstance(document.get("response"), list):
            yield from _events(document["response"])


def looks_like_misp_csv(head: bytes) -> bool:
    """The header of MISP's attribute CSV export: ``uuid,event_id,category,type,value,...``,
    or any CSV whose header names ``type``, ``value`` and ``to_ids`` columns (MISP's
    export with chosen columns): its ``to_ids`` must be honoured, not read past."""
    if _CSV_HEADER.match(head) is not None:
        return True
    first = head.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", "replace")
    names = {cell.strip().strip('"').strip().lower() for cell in first.split(",")}
    return {"type", "value", "to_ids"} <= names


def is_misp_feed(folder: Path) -> bool:
    """A MISP feed folder: a ``manifest.json`` mapping event UUIDs to their summaries."""
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        return False
    try:
        document = json.loads(manifest.read_bytes())
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and bool(document) and all(_is_uuid(key) for key in document)


def feed_own_files(folder: Path) -> set[str]:
    """The names in a MISP feed folder that ``read_misp_feed`` reads or that
    belong to the feed (its manifest, its hash list): anything else there is
    a feed of its own."""
    try:
        listed = json.loads((folder / "manifest.json").read_bytes())
    except (OSError, ValueError):
        listed = {}
    return {"manifest.json", "hashes.csv", *(f"{uuid}.json" for uuid in listed if isinstance(uuid, str))}


# --------------------------------------------------------------------- reading


def read_misp_feed(folder: Path) -> list[SourceObjects]:
    """One source per event file the manifest lists (``hashes.csv`` is not needed).

    A listed event file that is missing or is no event is an error naming it:
    an event left out unseen would read as an event with nothing in it.
    """
    manifest = folder / "manifest.json"
    try:
        listed = json.loads(manifest.read_bytes())
    except OSError as exc:
        raise SourceError(f"{manifest}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SourceError(f"{manifest}: not valid JSON: {exc}") from None
    if not isinstance(listed, dict):
        raise SourceError(f"{manifest}: not a MISP feed manifest (an object of event UUIDs)")
    sources = []
    for event_uuid in sorted(listed):
        path = folder / f"{event_uuid}.json"
        if not _is_uuid(event_uuid):
            raise SourceError(f"{manifest}: {event_uuid!r} is not an event UUID")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(f"{path}: cannot read the event the manifest lists: {exc.strerror or exc}") from None
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, ValueError) as exc:
            raise SourceError(f"{path}: not valid JSON: {exc}") from None
        if not looks_like_misp_event(document):
            raise SourceError(f'{path}: not a MISP event ({{"Event": ...}})')
        read = read_misp_event(document, str(path))
        sources.append(
            SourceObjects(
                read.label,
                read.objects,
                spec_version=read.spec_version,
                problems=read.problems,
                warnings=read.warnings,
                digest=hashlib.sha256(data).hexdigest(),
                clauses=read.clauses,
            )
        )
    return sources


def read_misp_event(document: Any, label: str) -> SourceObjects:
    """Every attribute of every event in ``document`` (see ``looks_like_misp_event``)."""
    if not looks_like_misp_event(document):
        raise SourceError(f'{label}: not a MISP event ({{"Event": ...}} or {{"response": [...]}})')
    collector = _Collector(label)
    for event in _events(document):
        collector.event(event)
    return collector.result()


def read_misp_csv(data: bytes, label: str) -> SourceObjects:
    """MISP's attribute CSV: one indicator or one problem (``label:line``) per row."""
    lines = physical_lines(decode(data))
    header: list[str] | None = None
    collector = _Collector(label)
    columns: dict[str, int] = {}
    for record in records(lines, ","):
        if header is None:
            header = [cell.strip().lower() for cell in record.cells]
            columns = {name: header.index(name) for name in _CSV_COLUMNS if name in header}
            if not {"type", "value"} <= columns.keys():
                raise SourceError(f"{label}: not a MISP attribute CSV (no type and value columns)")
            continue
        where = f"{label}:{record.line}"
        if record.problem is not None:
            collector.skip(where, record.problem)
            continue
        problem = damage(record.cells, "row")
        if problem:
            collector.skip(where, problem)
            continue
        cells = record.cells
        if len(cells) < len(header):  # a cut row: its to_ids, or its value, is not there to read
            collector.skip(where, f"row has {len(cells)} cells, the header {len(header)}")
            continue

        def cell(name: str, cells: list[str] = cells, columns: dict[str, int] = columns) -> str:
            column = columns.get(name)
            return cells[column] if column is not None and column < len(cells) else ""

        attribute_uuid = cell("uuid").strip()
        collector.attribute(
            _Attribute(
                where=where,
                ident=_indicator_id(attribute_uuid, label, cell("type"), cell("value")),
                type=cell("type").strip().lower(),
                value=cell("value"),
                to_ids=cell("to_ids").strip().lower() in _TRUE if "to_ids" in columns else True,
                deleted=False,
                comment=repaired(cell("comment")),
                valid_from=_csv_date(cell("date")),
            ),
            name="",
            publisher=None,
        )
    if header is None:
        raise SourceError(f"{label}: empty MISP attribute CSV")
    return collector.result()


# ------------------------------------------------------------------ collecting


class _Collector(Collector):
    def __init__(self, label: str) -> None:
        super().__init__(label)
        self.now = datetime.now(timezone.utc)
        self.context_ids: set[str] = set()

    def context(self, obj: dict[str, Any]) -> None:
        if obj["id"] not in self.context_ids:
            self.context_ids.add(obj["id"])
            self.objects.append(obj)

    def _entries(self, value: Any, name: str) -> list[Any]:
        """An event's list of attributes or objects. One written alone (not in a
        list) is read too; anything else is a problem, never nothing."""
        if value is None or isinstance(value, list):
            return value or []
        if isinstance(value, dict):
            return [value]
        self.skip(f"{self.label}#{name}", f"'{name}' is not a list of JSON objects (a {type(value).__name__})")
        return []

    def event(self, event: dict[str, Any]) -> None:
        info = event["info"] if isinstance(event.get("info"), str) else ""
        event_time = self._time(event.get("timestamp")) or self._time(event.get("date")) or EPOCH
        publisher = None
        org = event.get("Orgc")
        if isinstance(org, dict) and isinstance(org.get("name"), str) and org["name"].strip():
            publisher = identity(org["name"].strip(), event_time)
            self.context(publisher)
        clusters = _clusters(event)
        attributes = self._entries(event.get("Attribute"), "Attribute")
        for obj in self._entries(event.get("Object"), "Object"):
            if isinstance(obj, dict):
                attributes.extend(self._entries(obj.get("Attribute"), "Object Attribute"))
        for position, item in enumerate(attributes):
            if not isinstance(item, dict):
                self.skip(f"{self.label}#{position}", f"attribute is not a JSON object (a {type(item).__name__})")
                continue
            type_name = str(item.get("type", "")).strip().lower()
            value = item.get("value")
            value = value if isinstance(value, str) else "" if value is None else str(value)
            attribute_uuid = str(item.get("uuid", "")).strip()
            ident = _indicator_id(attribute_uuid, self.label, type_name, value)
            valid_from = self._time(item.get("first_seen")) or self._time(item.get("timestamp")) or event_time
            self.attribute(
                _Attribute(
                    where=ident,
                    ident=ident,
                    type=type_name,
                    value=value,
                    to_ids=_truthy(item["to_ids"]) if "to_ids" in item else None,
                    deleted=_truthy(item.get("deleted")),
                    comment=str(item.get("comment") or ""),
                    valid_from=valid_from,
                    clusters=_dedupe((*clusters, *_clusters(item))),
                ),
                name=info,
                publisher=publisher,
            )

    def attribute(self, attribute: _Attribute, name: str, publisher: dict[str, Any] | None) -> None:
        if attribute.deleted:
            self.exclude(attribute.where, "attribute is deleted")
            return
        if not attribute.to_ids:
            self.exclude(attribute.where, EXCLUDED_NOT_FOR_IDS if attribute.to_ids is False else "to_ids is not given")
            return
        if not attribute.value.strip():
            self.skip(attribute.where, f"MISP {attribute.type or 'attribute'} has no value")
            return
        try:
            entry = misp_entry(attribute.type, attribute.value.strip())
        except PatternError as exc:
            self.skip(attribute.where, str(exc))
            return
        description = "; ".join(part for part in (attribute.comment.strip(), entry.context) if part) or None
        created = attribute.valid_from
        if (note := refanged_note(entry.clauses, attribute.value.strip())) is not None:
            self.warn(attribute.ident, note)
        self.add(
            indicator(
                ident=attribute.ident,
                pattern=entry.pattern,
                name=name or attribute.value.strip(),
                created=created,
                valid_from=created,
                source_name=self.label,
                description=description,
                created_by_ref=publisher["id"] if publisher else None,
            ),
            entry.clauses,
        )
        for kind, cluster_name, aliases in attribute.clusters:
            target = _cluster_object(kind, cluster_name, aliases)
            self.context(target)
            self.context(
                {
                    "type": "relationship",
                    "spec_version": "2.1",
                    "id": stable_id("relationship", attribute.ident, "indicates", target["id"]),
                    "created": created,
                    "modified": created,
                    "relationship_type": "indicates",
                    "source_ref": attribute.ident,
                    "target_ref": target["id"],
                }
            )

    def _time(self, value: Any) -> str | None:
        """A STIX timestamp from MISP's epoch seconds or ISO text, never after now; None if none."""
        if value is None or value == "":
            return None
        try:
            if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
                stamp = datetime.fromtimestamp(int(value), timezone.utc)
            elif isinstance(value, str):
                stamp = parse_timestamp(value)
            else:
                return None
        except (ValueError, OverflowError, OSError):
            return None
        return stix_time(min(stamp, self.now))


# ------------------------------------------------------------------ the types


def misp_entry(type_name: str, value: str) -> _Entry:
    """The pattern and clauses of one MISP attribute; PatternError naming the type when it has none."""
    if type_name in _SKIPPED_TYPES:
        raise PatternError(f"MISP type {type_name!r}: {_SKIPPED_TYPES[type_name]}")
    if type_name in _ADDRESS_TYPES:
        return _one(_address_kind(value), value)
    if type_name in _ENDPOINT_TYPES:
        address, _, port = value.rpartition("|")
        if not address or not port:
            raise PatternError(f"MISP type {type_name!r}: {value!r} is not 'address|port'")
        try:
            text, clause = address_and_port(address, port, _ENDPOINT_TYPES[type_name])
        except PatternError as exc:
            raise PatternError(f"MISP type {type_name!r}: {exc}") from None
        return _Entry(f"[{text}]", (clause,))
    if type_name == "domain|ip":
        domain, _, address = value.partition("|")
        if not domain or not address:
            raise PatternError(f"MISP type 'domain|ip': {value!r} is not 'domain|address'")
        first, second = _one(DOMAIN, domain), _one(_address_kind(address), address)
        pattern = any_of([first.pattern[1:-1], second.pattern[1:-1]])
        return _Entry(pattern, (*first.clauses, *second.clauses))
    if type_name == "url":
        return _one(URL, value)
    if type_name == "uri":  # absolute, a URL; else the path of a request, as a web log shows it
        return _one(URL if "://" in value else HTTP_REQUEST, value)
    if type_name in _X509_FINGERPRINTS:
        hashed, digest = typed_value(_X509_FINGERPRINTS[type_name], value.strip())
        return _Entry(f"[{comparison(hashed, digest, X509_HASH_PATHS[hashed])}]", (frozenset((atom(hashed, digest),)),))
    if type_name in _FILENAME_HASH:
        name, _, digest = value.rpartition("|")
        entry = _one(_FILENAME_HASH[type_name], digest)
        return _Entry(entry.pattern, entry.clauses, f"file name '{name}'" if name else "")
    if type_name == "filename":
        return _file_name(value)
    if type_name in ("regkey", "regkey|value"):
        key = value.partition("|")[0] if type_name == "regkey|value" else value
        return _one(REGISTRY_KEY, expand_hive(key))
    kind = _ONE_KIND.get(type_name)
    if kind is None:
        raise PatternError(f"MISP type {type_name!r}: no STIX 2.1 pattern for it")
    return _one(kind, value)


def _one(kind: str, value: str) -> _Entry:
    kind, canonical = typed_value(kind, value.strip())
    # atom() as compiling the pattern calls it, so the clause is exactly what the pattern means.
    return _Entry(pattern_for(kind, canonical), (frozenset((atom(kind, canonical),)),))


def _address_kind(value: str) -> str:
    return IPV6 if value.count(":") >= 2 else IPV4


def _file_name(value: str) -> _Entry:
    """A bare name, or a path: the name AND its folder, as the CSV reader does."""
    refuse_variables(value)
    folder, sep, name = split_path(value)
    if not sep:
        return _one(FILE_NAME, value)
    if not name:
        raise PatternError(f"MISP type 'filename': {value!r} names a folder, not a file")
    return _Entry(name_in_folder(name, folder), (name_in_folder_clause(name, folder),))


# ---------------------------------------------------------------- attribution


def _clusters(holder: dict[str, Any]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(STIX type, name, aliases) of the galaxy clusters and galaxy tags on an event or attribute."""
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for galaxy in _list(holder.get("Galaxy")):
        if not isinstance(galaxy, dict):
            continue
        kind = _GALAXIES.get(str(galaxy.get("type", "")))
        if kind is None:
            continue
        for cluster in _list(galaxy.get("GalaxyCluster")):
            if isinstance(cluster, dict) and isinstance(cluster.get("value"), str) and cluster["value"].strip():
                meta = cluster["meta"] if isinstance(cluster.get("meta"), dict) else {}
                synonyms = tuple(s.strip() for s in _list(meta.get("synonyms")) if isinstance(s, str) and s.strip())
                found.append((kind, cluster["value"].strip(), synonyms))
    for tag in _list(holder.get("Tag")):
        name = tag.get("name") if isinstance(tag, dict) else None
        shape = _GALAXY_TAG.fullmatch(name.strip()) if isinstance(name, str) else None
        if shape and shape["galaxy"] in _GALAXIES and shape["value"].strip():
            found.append((_GALAXIES[shape["galaxy"]], shape["value"].strip(), ()))
    return _dedupe(found)


def _dedupe(clusters: Any) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """One entry per (type, name), with every alias any of them gave."""
    merged: dict[tuple[str, str], dict[str, None]] = {}
    for kind, name, aliases in clusters:
        merged.setdefault((kind, name), {}).update(dict.fromkeys(aliases))
    return tuple((kind, name, tuple(aliases)) for (kind, name), aliases in merged.items())


def _cluster_object(kind: str, name: str, aliases: tuple[str, ...]) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": kind,
        "spec_version": "2.1",
        "id": stable_id(kind, "misp-galaxy", name),
        "created": EPOCH,
        "modified": EPOCH,
        "name": name,
    }
    if kind == "malware":
        obj["is_family"] = True
    if aliases:
        obj["aliases"] = list(aliases)
    return obj


# -------------------------------------------------------------------- helpers


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in _TRUE
    return value is True or value == 1


def _is_uuid(text: Any) -> bool:
    try:
        uuid.UUID(str(text))
    except ValueError:
        return False
    return True


def _indicator_id(attribute_uuid: str, label: str, type_name: str, value: str) -> str:
    if _is_uuid(attribute_uuid):
        return f"indicator--{uuid.UUID(attribute_uuid)}"
    base = re.split(r"[\\/]", label.rstrip("\\/"))[-1] or label
    return stable_id("indicator", base, type_name, value)


def _csv_date(text: str) -> str:
    """MISP's CSV ``date`` as a STIX timestamp, never after now; the epoch if none. MISP writes
    ``20170525``; other exports give epoch seconds (``1495670400``) or ISO text."""
    text = text.strip()
    try:
        if text.isdigit() and len(text) == len("YYYYMMDD"):
            stamp = datetime.strptime(text, "%Y%m%d").replace(tzinfo=timezone.utc)
        elif text.isdigit():
            stamp = datetime.fromtimestamp(int(text), timezone.utc)
        else:
            stamp = parse_timestamp(text)
    except (ValueError, OverflowError, OSError):
        return EPOCH
    return stix_time(min(stamp, datetime.now(timezone.utc))) or EPOCH
