"""Build STIX 2.1 objects for indicators read from other formats.

Every reader (STIX 1.x XML, CSV, text lists) turns what it reads into STIX 2.1
indicator dicts with a pattern, so every format has the meaning STIX 2.1 gives
it, and the bundled data can be written as plain STIX 2.1. CSV and text lists
also hand over the clauses their patterns compile to, built from the same
values (tests hold the two together), so the loader does not parse those back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from .._common.model import (
    DIRECTORY,
    DOMAIN,
    EMAIL,
    FILE_NAME,
    IPV4,
    IPV6,
    MD5,
    MUTEX,
    REGISTRY_KEY,
    SHA1,
    SHA256,
    SHA512,
    URL,
)
from .._common.timestamps import parse_timestamp

# A fixed namespace, so ids derived from a source and a value never change.
NAMESPACE = uuid.UUID("6f1c1b34-6b1e-5c6a-9f55-2a0e4d3c7b10")

OBJECT_PATHS = {
    DOMAIN: "domain-name:value",
    URL: "url:value",
    IPV4: "ipv4-addr:value",
    IPV6: "ipv6-addr:value",
    MD5: "file:hashes.MD5",
    SHA1: "file:hashes.'SHA-1'",
    SHA256: "file:hashes.'SHA-256'",
    SHA512: "file:hashes.'SHA-512'",
    EMAIL: "email-addr:value",
    FILE_NAME: "file:name",
    MUTEX: "mutex:name",
    REGISTRY_KEY: "windows-registry-key:key",
    DIRECTORY: "directory:path",
}


# The time given to objects whose feed gives none: they are valid from the start.
EPOCH = "1970-01-01T00:00:00.000Z"


def stix_time(written: str | None) -> str | None:
    """A feed's timestamp as STIX 2.1 writes it (UTC, milliseconds, ``Z``); None if absent or no timestamp."""
    if not written:
        return None
    try:
        stamp = parse_timestamp(written)
    except ValueError:
        return None
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"

def quote(value: str) -> str:
    """A STIX pattern string literal: ``\\`` and ``'`` escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def comparison(kind: str, value: str, object_path: str | None = None) -> str:
    return f"{object_path or OBJECT_PATHS[kind]} = {quote(value)}"


def pattern_for(kind: str, value: str) -> str:
    """``[kind's object path = 'value']``."""
    return f"[{comparison(kind, value)}]"


def any_of(comparisons: Sequence[str]) -> str:
    """One observation satisfied by any of ``comparisons``."""
    return "[" + " OR ".join(comparisons) + "]"


def all_of(comparisons: Sequence[str]) -> str:
    """One observation that needs every one of ``comparisons`` (on one line)."""
    return "[" + " AND ".join(comparisons) + "]"


def stable_id(object_type: str, *parts: str) -> str:
    """A deterministic STIX id from what identifies the object (source, value, ...)."""
    return f"{object_type}--{uuid.uuid5(NAMESPACE, chr(31).join(parts))}"


def indicator(
    *,
    ident: str,
    pattern: str,
    name: str,
    created: str,
    source_name: str,
    valid_from: str | None = None,
    description: str | None = None,
    source_url: str | None = None,
    source_description: str | None = None,
    created_by_ref: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A STIX 2.1 indicator dict carrying its provenance in ``external_references``."""
    reference: dict[str, str] = {"source_name": source_name}
    if source_url:
        reference["url"] = source_url
    if source_description:
        reference["description"] = source_description
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": ident,
        "created": created,
        "modified": created,
        "name": name,
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": valid_from or created,
        "indicator_types": ["malicious-activity"],
        "external_references": [reference],
    }
    if description:
        obj["description"] = description
    if created_by_ref:
        obj["created_by_ref"] = created_by_ref
    obj.update(extra)
    return obj


def identity(name: str, created: str, identity_class: str = "organization") -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": stable_id("identity", name),
        "created": created,
        "modified": created,
        "name": name,
        "identity_class": identity_class,
    }
