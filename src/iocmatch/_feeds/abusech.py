"""Read abuse.ch's exports: Feodo Tracker, URLhaus, ThreatFox and MalwareBazaar
CSV, and ThreatFox's and MalwareBazaar's JSON.

Each CSV is told by its header (``abusech_product``), which abuse.ch writes as a
``#`` comment after its banner (``# id,dateadded,url,...``) or, in copies
whose banner was cut, as a plain first line; ThreatFox and MalwareBazaar put
a space after each comma (``"a", "b"``). Columns are read by name, so a
column added later does not shift the others. A JSON export or API answer
becomes the rows its CSV export would hold (``abusech_json.py``): every form
of a product means the same, down to the indicator ids.

Every data row becomes one STIX 2.1 indicator, or a skipped ``Problem`` with
the reason, so every row is accounted for in the load report:

- Feodo Tracker is an IP blocklist: a row's ``dst_ip`` is the indicator, its
  ``dst_port`` only context in the description. A C2 address is one to find
  whatever port the log shows it with (a firewall line may show the client's
  side, a proxy line none).
- URLhaus rows are URLs; ``threat`` (``malware_download``) is a kind of threat,
  not a malware family, so it is a label and gives no attribution.
- ThreatFox ``domain``, ``url`` and ``*_hash`` rows are domains, URLs and file
  hashes. An ``ip:port`` row is the address AND the port, both on one line
  (``network-traffic:dst_ref.value = ... AND network-traffic:dst_port = ...``):
  the address alone would hit every connection to a shared host.
  ``load(..., ignore_ports=True)`` takes the address alone.
- MalwareBazaar rows are files: one indicator per row, hit by any of its
  SHA-256, MD5 or SHA-1.

The malware family (Feodo ``malware``, ThreatFox ``malware_printable``,
MalwareBazaar ``signature``) becomes a ``malware`` object that the indicator
``indicates``, which is what ``Match.attribution`` reports. Every indicator is
``created_by_ref`` the identity "abuse.ch <product>", which ``Match.sources``
names. First seen is ``created`` and ``valid_from`` (in the past, so live);
last seen, when later, is ``modified``, so a newer snapshot's row wins. Tags
and the threat type are ``labels``; the reporter and the product's link to the
entry are the external reference, the note of source. A value written
defanged (``evil[.]com``) is read refanged, with a warning saying so.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._common.errors import PatternError, SourceError
from .._common.model import DOMAIN, IPV4, IPV6, MD5, SHA1, SHA256, URL, Clause
from .._patterns.canonical import typed_value
from .._patterns.values import atom, refanged_note
from .abusech_json import abusech_json_product, json_rows
from .objects import Collector, SourceObjects
from .rows import damage, decode, not_utf8, physical_lines, repaired
from .stix2_build import (
    ENDPOINT,
    EPOCH,
    OBJECT_PATHS,
    address_and_port,
    any_of,
    comparison,
    identity,
    indicator,
    split_endpoint,
    stable_id,
)

# Undated rows are valid from the Unix epoch, as lists are (lists.py).
# The header comes after abuse.ch's banner of 8 or 9 lines; a file whose first
# lines hold no such header is not an abuse.ch export.
_HEADER_SEARCH = 64
_JSON_HEAD = 65_536  # characters: enough to tell a JSON export or API answer by its first fields
# Cells abuse.ch writes for "nothing here".
_NOTHING = {"", "none", "n/a", "null", "unknown", "unknown malware"}
# Older exports' names for today's columns (Feodo Tracker before 2021).
_ALIASES = {"firstseen": "first_seen_utc", "dstip": "dst_ip", "dstport": "dst_port", "lastonline": "last_online"}
_THREATFOX_KINDS = {
    "domain": DOMAIN,
    "url": URL,
    "md5_hash": MD5,
    "sha1_hash": SHA1,
    "sha256_hash": SHA256,
    "ip:port": ENDPOINT,
}


@dataclass(frozen=True, slots=True)
class _Product:
    name: str  # as abuse.ch names it; the publisher is "abuse.ch <name>"
    required: frozenset[str]  # the columns that tell it apart, and that its rows need
    read_row: Callable[[_Reader, str, dict[str, str]], None]  # (reader, where the row is, row)


@dataclass(frozen=True, slots=True)
class _Header:
    line: int  # 0-based index in the file's lines
    product: _Product
    columns: list[str]


def abusech_product(text: str) -> str | None:
    """The product whose CSV export ``text`` (the start of a file) is, or None."""
    header = _find_header(physical_lines(text.removeprefix("\ufeff"))[:_HEADER_SEARCH])
    return header.product.name if header else None


def read_abusech(data: bytes, label: str) -> SourceObjects:
    """One indicator per row (or JSON record) of an abuse.ch export; rows that cannot be one become problems."""
    text = decode(data)
    if abusech_json_product(text[:_JSON_HEAD]) is not None:
        product_name, json_records = json_rows(text, label)
        reader = _Reader(label, _PRODUCT_NAMED[product_name])
        for at, row in json_records:
            if isinstance(row, str):
                reader.skip(at, row)
            else:
                reader.read(at, row)
        return reader.result()
    lines = physical_lines(text)
    header = _find_header(lines[:_HEADER_SEARCH])
    if header is None:
        raise SourceError(f"{label}: no abuse.ch CSV header (Feodo Tracker, URLhaus, ThreatFox or MalwareBazaar)")
    reader = _Reader(label, header.product)
    width = len(header.columns)
    for index in range(header.line + 1, len(lines)):
        line = lines[index].strip()
        if not line or line.startswith("#"):
            continue  # blank, banner, trailer ("# END 28 entries")
        at = f"{label}:{index + 1}"
        cells, problem = _cells(line)
        while len(cells) > width and not cells[-1]:  # empty cells at the end say nothing
            cells.pop()
        if problem is None and len(cells) > width:
            problem = f"row has {len(cells)} cells, the header {width}: an unquoted ',' in some cell"
        if problem is not None:
            reader.skip(at, problem)
        elif [_column_key(cell) for cell in cells] != header.columns:  # a header repeated: files joined
            reader.read(at, dict(zip(header.columns, cells + [""] * (width - len(cells)), strict=True)))
    return reader.result()


def _find_header(lines: Sequence[str]) -> _Header | None:
    """The header line, commented or not, before the first data line."""
    for index, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        comment = text.startswith("#")
        cells, problem = _cells(text.lstrip("#").strip())
        if problem is None and len(cells) >= 3:
            columns = [_column_key(cell) for cell in cells]
            for product in _PRODUCTS:
                if product.required <= set(columns):
                    return _Header(index, product, columns)
        if not comment:
            return None  # data before any header we know
    return None


def _column_key(name: str) -> str:
    key = name.strip().strip('"').strip().lower()
    return _ALIASES.get(key.replace("_", "").replace(" ", ""), key)


def _cells(text: str) -> tuple[list[str], str | None]:
    """A line's cells (quotes off, a space after a comma allowed), or why it cannot be read."""
    problem = damage([text], "row")
    if problem:
        return [], problem
    try:
        row = next(csv.reader([text], skipinitialspace=True, strict=True), [])
    except csv.Error as exc:  # a quote left open, or a field beyond the csv module's limit
        return [], f"unreadable CSV row ({exc})"
    return [cell.strip() for cell in row], None


def _given(value: str) -> str:
    """The cell, or "" when it says there is nothing (``None``, ``n/a``)."""
    return "" if value.strip().lower() in _NOTHING else value.strip()


def _stamp(value: str) -> str | None:
    """``2024-04-04 07:03:03`` (UTC; the API writes `` UTC`` after it) or ``2024-04-04`` as a STIX
    timestamp; "" for no value; None when no date."""
    if not _given(value):
        return ""
    for shape in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip().removesuffix(" UTC"), shape).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        except ValueError:
            continue
    return None


class _Reader(Collector):
    """Gathers one export's indicators, the malware they indicate, and its problems."""

    def __init__(self, label: str, product: _Product) -> None:
        super().__init__(label)
        self.product = product
        self.publisher = f"abuse.ch {product.name}"
        self.identity = identity(self.publisher, EPOCH)
        self.objects.append(self.identity)
        self.malware: dict[str, str] = {}  # name -> id

    def read(self, at: str, row: dict[str, str]) -> None:
        self.product.read_row(self, at, row)

    def row(
        self,
        at: str,
        *,
        key: Sequence[str],
        values: Sequence[tuple[str, str, str]],
        name: str,
        seen: tuple[str, str],
        description: str,
        labels: Sequence[str] = (),
        malware: str = "",
        aliases: Sequence[str] = (),
        malware_reference: str = "",
        reporter: str = "",
        link: str = "",
        **extra: Any,
    ) -> None:
        """One indicator hit by any of ``values`` ((kind, value, column); kind ``ENDPOINT`` for an address and
        its port, both needed); a value that is none of its kind is a warning while another is good, and the
        row is skipped when none is."""
        clauses: list[Clause] = []
        comparisons: list[str] = []
        refused: list[str] = []
        refanged: list[str] = []
        for published_kind, value, column in values:
            try:
                if not_utf8(value, column):
                    raise PatternError(str(not_utf8(value, column)))
                text, clause, written = _comparison(published_kind, value)
            except PatternError as exc:
                refused.append(f"{column}: {exc}")
                continue
            if (note := refanged_note((clause,), written)) is not None:
                refanged.append(note)
            comparisons.append(text)
            clauses.append(clause)
        if not clauses:
            self.skip(at, "; ".join(refused) or "row has no value")
            return
        ident = stable_id("indicator", self.publisher, *(repaired(part) for part in key))
        first_seen, last_seen = (self._stamp(at, ident, stamp) for stamp in seen)
        created = first_seen or EPOCH
        obj = indicator(
            ident=ident,
            pattern=any_of(comparisons),
            name=repaired(name),
            created=created,
            valid_from=created,
            source_name=self.publisher,
            description=repaired(description) or None,
            source_url=link or None,
            source_description=f"reported by {repaired(reporter)}" if reporter else None,
            created_by_ref=self.identity["id"],
            **extra,
        )
        if last_seen and last_seen > created:
            obj["modified"] = last_seen
        if labels:
            obj["labels"] = list(dict.fromkeys(repaired(label) for label in labels))
        for reason in refused:
            self.warn(ident, f"{at}: {reason}: left out")
        for note in refanged:
            self.warn(ident, f"{at}: {note}")
        self.add(obj, tuple(dict.fromkeys(clauses)))
        if malware:
            self._indicates(ident, repaired(malware), aliases, malware_reference)

    def _stamp(self, at: str, ident: str, value: str) -> str:
        stamp = _stamp(value)
        if stamp is None:
            reason = f"{at}: {repaired(value)!r} is no date: read as undated"
            self.warn(ident, reason)
            return ""
        return stamp

    def _indicates(self, ident: str, name: str, aliases: Sequence[str], reference: str) -> None:
        malware_id = self.malware.get(name)
        if malware_id is None:
            malware_id = self.malware[name] = stable_id("malware", self.publisher, name)
            family: dict[str, Any] = {
                "type": "malware",
                "spec_version": "2.1",
                "id": malware_id,
                "created": EPOCH,
                "modified": EPOCH,
                "name": name,
                "is_family": True,
                "created_by_ref": self.identity["id"],
            }
            others = [alias for alias in dict.fromkeys(repaired(alias) for alias in aliases) if alias != name]
            if others:
                family["aliases"] = others
            if reference:
                family["external_references"] = [{"source_name": "malpedia", "external_id": repaired(reference)}]
            self.objects.append(family)
        self.objects.append(
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": stable_id("relationship", ident, "indicates", malware_id),
                "created": EPOCH,
                "modified": EPOCH,
                "relationship_type": "indicates",
                "source_ref": ident,
                "target_ref": malware_id,
                "created_by_ref": self.identity["id"],
            }
        )


def _comparison(kind: str, value: str) -> tuple[str, Clause, str]:
    """The comparison a value of ``kind`` becomes, its clause, and the part of ``value`` read as an address
    or value (to tell whether it was written defanged)."""
    if kind == ENDPOINT:
        address, port = split_endpoint(value)
        text, clause = address_and_port(address, port)
        if all(found.kind not in (IPV4, IPV6) for found in clause):
            # ThreatFox's ip:port names an address; a host name there is a mistake, not a host.
            raise PatternError(f"{address!r} of ip:port {value!r} is not an IP address")
        return text, clause, address
    kind, canonical = typed_value(kind, value)  # an IPv4-mapped IPv6 address is IPv4
    return comparison(kind, canonical, OBJECT_PATHS[kind]), frozenset((atom(kind, canonical),)), value


def _split(cell: str) -> list[str]:
    """A comma list inside one cell (tags, aliases)."""
    return [part.strip() for part in cell.split(",") if _given(part)]


def _note(*parts: tuple[str, str]) -> str:
    """``what value`` for each part whose value is given, joined."""
    return "; ".join(f"{what} {_given(value)}".strip() for what, value in parts if _given(value))


# ------------------------------------------------------------------ products


def _feodo(reader: _Reader, at: str, row: dict[str, str]) -> None:
    address, port, malware = row["dst_ip"], _given(row.get("dst_port", "")), _given(row.get("malware", ""))
    if not address:
        reader.skip(at, "row has no dst_ip")
        return
    reader.row(
        at,
        key=(address, port),
        values=[(IPV6 if ":" in address else IPV4, address, "dst_ip")],
        name=address,
        seen=(row["first_seen_utc"], row.get("last_online", "")),
        description=_note(
            (f"{malware or 'botnet'} C2 on port", port or "unknown"),
            ("status", row.get("c2_status", "")),
            ("last online", row.get("last_online", "")),
        ),
        labels=["botnet_cc"],
        malware=malware,
    )


def _urlhaus(reader: _Reader, at: str, row: dict[str, str]) -> None:
    url = row["url"]
    if not url:
        reader.skip(at, "row has no url")
        return
    threat = _given(row["threat"])
    reader.row(
        at,
        key=(row["id"] or url,),
        values=[(URL, url, "url")],
        name=url,
        seen=(row["dateadded"], row.get("last_online", "")),
        description=_note(
            ("URLhaus", threat), ("status", row["url_status"]), ("last online", row.get("last_online", ""))
        ),
        labels=[threat, *_split(row["tags"])] if threat else _split(row["tags"]),
        reporter=_given(row["reporter"]),
        link=_given(row["urlhaus_link"]),
    )


def _threatfox(reader: _Reader, at: str, row: dict[str, str]) -> None:
    value, ioc_type = row["ioc_value"], row["ioc_type"].strip().lower()
    if not value:
        reader.skip(at, "row has no ioc_value")
        return
    kind = _THREATFOX_KINDS.get(ioc_type)
    if kind is None:
        reader.skip(at, f"unknown ThreatFox ioc_type {row['ioc_type']!r} for {value!r}")
        return
    threat = _given(row.get("threat_type", ""))
    malware = _given(row.get("malware_printable", ""))
    confidence = row.get("confidence_level", "").strip()
    reference = _given(row.get("reference", ""))
    extra: dict[str, Any] = {}
    if confidence.isdigit() and int(confidence) <= 100:
        extra["confidence"] = int(confidence)
    reader.row(
        at,
        key=(row["ioc_id"] or value,),
        values=[(kind, value, "ioc_value")],
        name=value,
        seen=(row["first_seen_utc"], row.get("last_seen_utc", "")),
        description=_note(("ThreatFox", threat), ("malware", malware), ("last seen", row.get("last_seen_utc", ""))),
        labels=[threat, *_split(row.get("tags", ""))] if threat else _split(row.get("tags", "")),
        malware=malware,
        aliases=_split(row.get("malware_alias", "")),
        malware_reference=_given(row.get("fk_malware", "")),
        reporter=_given(row.get("reporter", "")),
        link=reference if reference.lower().startswith(("http://", "https://")) else "",
        **extra,
    )


def _malwarebazaar(reader: _Reader, at: str, row: dict[str, str]) -> None:
    hashes = [
        (kind, _given(row[column]), column)
        for kind, column in ((SHA256, "sha256_hash"), (MD5, "md5_hash"), (SHA1, "sha1_hash"))
        if _given(row[column])
    ]
    if not hashes:
        reader.skip(at, "row has no sha256_hash, md5_hash or sha1_hash")
        return
    file_name = _given(row.get("file_name", ""))
    reader.row(
        at,
        key=(hashes[0][1].lower(),),
        values=hashes,
        name=file_name or hashes[0][1],
        seen=(row["first_seen_utc"], ""),
        description=_note(
            ("MalwareBazaar sample", file_name),
            ("type", row.get("file_type_guess", "")),
            ("MIME type", row.get("mime_type", "")),
            ("ClamAV", row.get("clamav", "")),
        ),
        labels=[_given(row["file_type_guess"])] if _given(row.get("file_type_guess", "")) else [],
        malware=_given(row.get("signature", "")),
        reporter=_given(row.get("reporter", "")),
    )


_PRODUCTS = (
    _Product("Feodo Tracker", frozenset({"first_seen_utc", "dst_ip", "dst_port", "malware"}), _feodo),
    _Product(
        "URLhaus",
        frozenset({"id", "dateadded", "url", "url_status", "threat", "tags", "urlhaus_link", "reporter"}),
        _urlhaus,
    ),
    _Product("ThreatFox", frozenset({"first_seen_utc", "ioc_id", "ioc_value", "ioc_type"}), _threatfox),
    _Product("MalwareBazaar", frozenset({"first_seen_utc", "sha256_hash", "md5_hash", "sha1_hash"}), _malwarebazaar),
)
_PRODUCT_NAMED = {product.name: product for product in _PRODUCTS}
