"""abuse.ch's JSON as the CSV rows it stands for: ThreatFox's export and API
answers, MalwareBazaar's API answers.

ThreatFox's JSON export (``/export/json/recent/``, ``full``) maps each IOC id
to a list holding its record, whose fields are the CSV export's columns but
one (``malware``, the CSV's ``fk_malware``). An API answer
(``{"query_status": "ok", "data": [...]}``) names more of them otherwise:
``id``, ``ioc``, ``first_seen`` (``2021-03-21 19:59:35 UTC``), and gives the
tags as a list. MalwareBazaar's API answers have the hashes of its CSV export,
``first_seen``, ``file_type`` and ``file_type_mime``. Each record becomes the
row the CSV export would hold, so every form of a product means the same
(``abusech.py`` reads the rows).
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._common.errors import SourceError

THREATFOX = "ThreatFox"
MALWAREBAZAAR = "MalwareBazaar"

_EXPORT_START = re.compile(r'\A\s*\{\s*"\d+"\s*:\s*\[')
_EXPORT_FIELD = re.compile(r'"ioc_value"\s*:')
_API_START = re.compile(r"\A\s*\{")
_API_STATUS = re.compile(r'"query_status"\s*:')
_MALWAREBAZAAR_FIELD = re.compile(r'"sha256_hash"\s*:')
# An answer that found nothing: it holds no indicator, and is no error.
_NOTHING_FOUND = {"no_result", "no_results", "hash_not_found", "tag_not_found", "signature_not_found"}

# For each CSV column, the JSON fields that hold it (the export's name first).
_THREATFOX_FIELDS: dict[str, tuple[str, ...]] = {
    "ioc_id": ("id",),
    "ioc_value": ("ioc_value", "ioc"),
    "ioc_type": ("ioc_type",),
    "threat_type": ("threat_type",),
    "fk_malware": ("malware",),
    "malware_alias": ("malware_alias",),
    "malware_printable": ("malware_printable",),
    "first_seen_utc": ("first_seen_utc", "first_seen"),
    "last_seen_utc": ("last_seen_utc", "last_seen"),
    "confidence_level": ("confidence_level",),
    "reference": ("reference",),
    "tags": ("tags",),
    "reporter": ("reporter",),
}
_MALWAREBAZAAR_FIELDS: dict[str, tuple[str, ...]] = {
    "first_seen_utc": ("first_seen",),
    "sha256_hash": ("sha256_hash",),
    "md5_hash": ("md5_hash",),
    "sha1_hash": ("sha1_hash",),
    "file_name": ("file_name",),
    "file_type_guess": ("file_type",),
    "mime_type": ("file_type_mime",),
    "signature": ("signature",),
    "reporter": ("reporter",),
}

# A row as the CSV would hold it, or why the record cannot be one.
Row = dict[str, str] | str


def abusech_json_product(text: str) -> str | None:
    """The product whose JSON ``text`` (the start of a file) is, or None."""
    if _EXPORT_START.match(text) and _EXPORT_FIELD.search(text):
        return THREATFOX
    if _API_START.match(text) and _API_STATUS.search(text):
        return MALWAREBAZAAR if _MALWAREBAZAAR_FIELD.search(text) else THREATFOX
    return None


def json_rows(text: str, label: str) -> tuple[str, list[tuple[str, Row]]]:
    """The product, and each record as (where it is, its row or why there is none)."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{label}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SourceError(f"{label}: not an abuse.ch JSON export or API answer (a JSON {type(document).__name__})")
    if "query_status" in document:
        return _api_rows(document, label)
    rows: list[tuple[str, Row]] = []
    for ioc_id, records in document.items():
        listed = records if isinstance(records, list) else [records]
        for position, record in enumerate(listed):
            at = f"{label}#{ioc_id}" if len(listed) == 1 else f"{label}#{ioc_id}.{position + 1}"
            row = _row(record, _THREATFOX_FIELDS, THREATFOX)
            if isinstance(row, dict):
                row["ioc_id"] = str(ioc_id)
            rows.append((at, row))
    return THREATFOX, rows


def _api_rows(document: dict[str, Any], label: str) -> tuple[str, list[tuple[str, Row]]]:
    status, data = document.get("query_status"), document.get("data")
    if status != "ok":
        if status in _NOTHING_FOUND:
            return THREATFOX, []
        raise SourceError(f"{label}: the abuse.ch API answered {status!r}: it holds no indicators")
    if not isinstance(data, list):
        raise SourceError(
            f"{label}: abuse.ch API answer without a 'data' list: ThreatFox and MalwareBazaar answers are read"
        )
    first = next((record for record in data if isinstance(record, dict)), {})
    product, fields = (
        (MALWAREBAZAAR, _MALWAREBAZAAR_FIELDS) if "sha256_hash" in first else (THREATFOX, _THREATFOX_FIELDS)
    )
    rows: list[tuple[str, Row]] = []
    for position, record in enumerate(data):
        given = record.get("id") if isinstance(record, dict) else None
        rows.append((f"{label}#{given if given not in (None, '') else position}", _row(record, fields, product)))
    return product, rows


def _row(record: Any, fields: dict[str, tuple[str, ...]], product: str) -> Row:
    if not isinstance(record, dict):
        return f"{product} entry is not a JSON object (a {type(record).__name__})"
    return {
        column: _cell(next((record[name] for name in names if name in record), None))
        for column, names in fields.items()
    }


def _cell(value: Any) -> str:
    """A JSON value as a CSV cell: a list as its comma list, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(_cell(part) for part in value if part is not None)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)
