"""Build STIX 2.1 objects for indicators read from other formats.

Every reader (STIX 1.x XML, CSV, text lists) turns what it reads into STIX 2.1
indicator dicts with a pattern, so every format has the meaning STIX 2.1 gives
it, and the bundled data can be written as plain STIX 2.1. CSV and text lists
also hand over the clauses their patterns compile to, built from the same
values (tests hold the two together), so the loader does not parse those back.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .._common.errors import PatternError
from .._common.model import (
    COMMAND_LINE,
    DIRECTORY,
    DOMAIN,
    EMAIL,
    EMAIL_SUBJECT,
    FILE_NAME,
    HTTP_REQUEST,
    IPV4,
    IPV6,
    MD5,
    MUTEX,
    PORT,
    PROCESS_NAME,
    REGISTRY_KEY,
    SHA1,
    SHA256,
    SHA512,
    SOFTWARE_NAME,
    URL,
    USER_ACCOUNT,
    USER_AGENT,
    X509_NAME,
    X509_SERIAL,
    Clause,
)
from .._common.timestamps import parse_timestamp
from .._patterns.values import NETWORK_ADDRESS, atom

# A fixed namespace, so ids derived from a source and a value never change.
NAMESPACE = uuid.UUID("6f1c1b34-6b1e-5c6a-9f55-2a0e4d3c7b10")
_NAMESPACE_BYTES = NAMESPACE.bytes

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
    PROCESS_NAME: "process:image_ref.name",
    EMAIL_SUBJECT: "email-message:subject",
    USER_AGENT: "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
    HTTP_REQUEST: "network-traffic:extensions.'http-request-ext'.request_value",
    USER_ACCOUNT: "user-account:account_login",
    COMMAND_LINE: "process:command_line",
    SOFTWARE_NAME: "software:name",
    X509_SERIAL: "x509-certificate:serial_number",
    X509_NAME: "x509-certificate:subject",
}
# Hashes of a certificate (MISP's x509-fingerprint-*): compared as any hash of the kind is.
X509_HASH_PATHS = {
    MD5: "x509-certificate:hashes.MD5",
    SHA1: "x509-certificate:hashes.'SHA-1'",
    SHA256: "x509-certificate:hashes.'SHA-256'",
}


# What readers call a value that is an address and its port ("1.2.3.4:443"): one clause needing both.
ENDPOINT = "ip:port"
# ``[2001:db8::1]:443``, or ``host:443`` whose host holds no ':'.
_BRACKETED_ENDPOINT = re.compile(r"\[(?P<address>[0-9A-Fa-f:.]+)\]:(?P<port>\d+)")
_ENDPOINT = re.compile(r"(?P<address>[^:\s]+):(?P<port>\d+)")


# The time given to objects whose feed gives none: they are valid from the start.
EPOCH = "1970-01-01T00:00:00.000Z"


def stix_time(written: str | datetime | None) -> str | None:
    """A feed's timestamp (text, or an aware datetime) as STIX 2.1 writes it (UTC, milliseconds, ``Z``);
    None if absent or no timestamp."""
    if not written:
        return None
    if isinstance(written, datetime):  # one without a zone is UTC, as feeds write them
        stamp = written.astimezone(timezone.utc) if written.tzinfo else written
    else:
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


def split_endpoint(written: str) -> tuple[str, str]:
    """``1.2.3.4:443`` or ``[2001:db8::1]:443`` as (address, port); PatternError for any other shape."""
    found = _BRACKETED_ENDPOINT.fullmatch(written.strip()) or _ENDPOINT.fullmatch(written.strip())
    if found is None:
        raise PatternError(f"{written!r} is not an address and a port (1.2.3.4:443, [2001:db8::1]:443)")
    return found["address"], found["port"]


def address_and_port(address: str, port: str, side: str = "dst") -> tuple[str, Clause]:
    """``network-traffic:dst_ref.value = '1.2.3.4' AND network-traffic:dst_port = 443`` (``side`` "src" for a
    source), and the clause it compiles to: the address (IPv4, IPv6 or a domain) and the port, both on one
    line. PatternError when either is none."""
    host = atom(NETWORK_ADDRESS, address.strip())
    number = atom(PORT, port.strip())
    text = f"network-traffic:{side}_ref.value = {quote(host.value)} AND network-traffic:{side}_port = {number.value}"
    return text, frozenset((host, number))


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
    """A deterministic STIX id from what identifies the object (source, value, ...):
    ``uuid.uuid5(NAMESPACE, ...)``, computed without a UUID object (a text feed
    of a million lines makes a million ids; this is a third of the time)."""
    name = chr(31).join(parts).encode("utf-8")
    # SHA-1 is what UUID version 5 is made of: a name, not a secret.
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name, usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{object_type}--{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


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
