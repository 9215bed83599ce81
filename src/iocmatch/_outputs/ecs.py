"""Elastic Common Schema records: one per log line that hit, with one
``threat.enrichments`` entry per indicator hit on it.

Field choices (ECS 8.x): ``event.kind: enrichment``, ``event.original`` and
``message`` hold the line; ``log.file.path`` the file (``-`` for stdin);
``log.offset`` the line's byte offset and ``event.sequence`` its line number.
Each enrichment's ``indicator`` carries ``type`` (STIX cyber-observable type:
hashes and file names are ``file``), ``provider`` (the publisher), ``reference``
(a URL), ``description``, ``name`` (the indicator's name) and ``id`` (the STIX
id), plus the canonical value under the ECS field of its type
(``url.domain``, ``url.full``, ``ip``, ``file.hash.md5``, ``email.address``,
...); ``matched`` carries ``atomic`` (the text as it stands), ``field`` (the
JSON field path; for a hit judged on a record's fields, those fields, joined
by ``,``; ``message`` for a plain line), ``id`` (the STIX id, as
ECS asks for the id of the indicator document), ``occurred`` and ``type:
indicator_match_rule``. Attribution (campaigns, intrusion sets) goes to
``threat.group.name`` for the whole line: ECS has no group inside an enrichment.

A match of several records (a pattern with observation operators) is one
record, on the line of its last event; its enrichment's ``matched.occurred``
is that event's time, and ``matched.events`` (no ECS field: ECS has none for
it) lists every record of the match as ``{"log": {"file": {"path"}},
"event": {"sequence"}, "@timestamp"}``, in time order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .._common.model import (
    COMMAND_LINE,
    DIRECTORY,
    DOMAIN,
    EMAIL,
    EMAIL_SUBJECT,
    FILE_NAME,
    HTTP_HEADER,
    HTTP_METHOD,
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
)
from .._matcher.records import FIELDS, pattern_type
from .._scanning.hits import HitLine
from .catalog import Catalog

ECS_VERSION = "8.11.0"

# iocmatch kind -> (ECS threat.indicator.type, the field under indicator that holds the value)
_ECS_KINDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    DOMAIN: ("domain-name", ("url", "domain")),
    URL: ("url", ("url", "full")),
    IPV4: ("ipv4-addr", ("ip",)),
    IPV6: ("ipv6-addr", ("ip",)),
    MD5: ("file", ("file", "hash", "md5")),
    SHA1: ("file", ("file", "hash", "sha1")),
    SHA256: ("file", ("file", "hash", "sha256")),
    SHA512: ("file", ("file", "hash", "sha512")),
    FILE_NAME: ("file", ("file", "name")),
    EMAIL: ("email-addr", ("email", "address")),
    REGISTRY_KEY: ("windows-registry-key", ("registry", "path")),
    MUTEX: ("mutex", None),
    DIRECTORY: ("directory", ("file", "directory")),
    PORT: ("port", ("port",)),
    PROCESS_NAME: ("process", None),
    COMMAND_LINE: ("process", None),
    USER_ACCOUNT: ("user-account", None),
    SOFTWARE_NAME: ("software", None),
    X509_SERIAL: ("x509-certificate", ("x509", "serial_number")),
    X509_NAME: ("x509-certificate", None),  # subject or issuer: the kind does not say which
    HTTP_REQUEST: ("url", ("url", "path")),
    # No ECS indicator type fits these: the STIX object's type, as ECS allows.
    EMAIL_SUBJECT: ("email-message", None),
    USER_AGENT: ("network-traffic", None),
    HTTP_HEADER: ("network-traffic", None),
    HTTP_METHOD: ("network-traffic", None),
}


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ecs_record(hit: HitLine, catalog: Catalog, observer: str | None = None) -> dict[str, Any]:
    occurred = timestamp(hit.logged_at or hit.read_at)
    enrichments: list[dict[str, Any]] = []
    groups: dict[str, None] = {}
    for found in hit.matches:
        match = found.match
        groups.update(dict.fromkeys(match.attribution))
        matched: dict[str, Any] = {
            "atomic": match.text,
            "field": found.field or "message",
            "occurred": timestamp(found.events[-1].time) if found.events else occurred,
            "type": "indicator_match_rule",
        }
        if found.events:
            matched["events"] = [
                {
                    "@timestamp": timestamp(event.time),
                    "event": {"sequence": event.line},
                    "log": {"file": {"path": event.file}},
                }
                for event in found.events
            ]
        enrichments.extend(
            {
                "indicator": _indicator(indicator_id, match.kind, match.value, match.sources, catalog),
                "matched": {**matched, "id": indicator_id},
            }
            for indicator_id in match.indicators
        )
    record: dict[str, Any] = {
        "@timestamp": occurred,
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "enrichment",
            "category": ["threat"],
            "type": ["indicator"],
            "created": timestamp(hit.read_at),
            "sequence": hit.number,
        },
        "log": {"file": {"path": hit.file}},
        "threat": {"enrichments": enrichments},
    }
    if hit.text is not None:
        record["event"]["original"] = hit.text
        record["message"] = hit.text
    if hit.offset is not None:
        record["log"]["offset"] = hit.offset
    if groups:
        record["threat"]["group"] = {"name": list(groups)}
    if observer:
        record["observer"] = {"name": observer}
    return record


def _indicator(indicator_id: str, kind: str, value: str, sources: tuple[str, ...], catalog: Catalog) -> dict[str, Any]:
    ecs_type, value_field = _ECS_KINDS.get(kind, (kind, None))
    if kind == FIELDS:  # judged on a record's fields: the value is the pattern; its object type is the type
        ecs_type = pattern_type(value) or kind
    info = catalog.get(indicator_id)
    indicator: dict[str, Any] = {"id": indicator_id, "type": ecs_type}
    # Without the feed (a compiled matcher file), the match's own sources are all we know.
    indicator["provider"] = info.provider if info is not None else "; ".join(sources)
    if info is not None:
        if info.name:
            indicator["name"] = info.name
        if info.description:
            indicator["description"] = info.description
        if info.reference:
            indicator["reference"] = info.reference
    # A network is no ip value, and a LIKE wildcard (%.evil.com, evil%) no domain or URL.
    # A regex (LIKE of other shapes, MATCHES) is shown as /regex/, which no value of these kinds can be.
    is_regex = kind in _NEVER_SLASHED and len(value) > 1 and value.startswith("/") and value.endswith("/")
    is_pattern = "/" in value if kind in (IPV4, IPV6) else value.startswith("%.") or value.endswith("%") or is_regex
    if value_field is not None and not is_pattern:
        _set(indicator, value_field, value)
    return indicator


_NEVER_SLASHED = frozenset((DOMAIN, URL, EMAIL, FILE_NAME, MD5, SHA1, SHA256, SHA512, X509_SERIAL, REGISTRY_KEY))


def _set(record: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        record = record.setdefault(key, {})
    record[path[-1]] = value
