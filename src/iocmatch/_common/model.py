"""Plain frozen data passed between the stages: load -> compile -> scan."""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

# Kind names, as they appear in matches, reports and the CLI's JSON.
DOMAIN = "domain-name"
URL = "url"
IPV4 = "ipv4-addr"
IPV6 = "ipv6-addr"
MD5 = "md5"
SHA1 = "sha1"
SHA256 = "sha256"
SHA512 = "sha512"
EMAIL = "email-addr"
FILE_NAME = "file-name"
MUTEX = "mutex"
REGISTRY_KEY = "windows-registry-key"
DIRECTORY = "directory"
# Literal properties a log line shows as text (process:command_line, ...).
PROCESS_NAME = "process-name"
COMMAND_LINE = "command-line"
EMAIL_SUBJECT = "email-subject"
USER_ACCOUNT = "user-account"
SOFTWARE_NAME = "software-name"
X509_SERIAL = "x509-serial"
X509_NAME = "x509-name"  # a certificate's subject or issuer
USER_AGENT = "user-agent"
HTTP_REQUEST = "http-request"  # an HTTP request line's value (method, path)
HTTP_HEADER = "http-header"  # another request header's value
PORT = "port"  # a TCP/UDP port, only ever beside an address in one clause
HTTP_METHOD = "http-method"  # GET, POST: only ever beside another part of the request in one clause

HASH_KINDS = (MD5, SHA1, SHA256, SHA512)
LITERAL_KINDS = (
    PROCESS_NAME,
    COMMAND_LINE,
    EMAIL_SUBJECT,
    USER_ACCOUNT,
    SOFTWARE_NAME,
    X509_SERIAL,
    X509_NAME,
    USER_AGENT,
    HTTP_REQUEST,
    HTTP_HEADER,
)
# Kinds that name nothing alone: a clause needs another kind beside them.
WEAK_KINDS = (PORT, HTTP_METHOD)
KINDS = (
    *(DOMAIN, URL, IPV4, IPV6, *HASH_KINDS, EMAIL, FILE_NAME, MUTEX, REGISTRY_KEY, DIRECTORY),
    *LITERAL_KINDS,
    *WEAK_KINDS,
)

# How an atom's value is compared with the text of a line.
EQUALS = "equals"  # the value itself (a domain also hits its subdomains)
SUBDOMAINS_ONLY = "subdomains-only"  # LIKE '%.evil.com'
PREFIX = "prefix"  # LIKE 'evil%'
MATCHES = "matches"  # MATCHES, and LIKE of other shapes: a regular expression (RE2)


@dataclass(frozen=True, slots=True)
class Atom:
    """One comparison a line can satisfy: a kind, a canonical value and a mode."""

    kind: str
    value: str
    mode: str = EQUALS

    @property
    def display(self) -> str:
        """The value as reported in a match: LIKE atoms keep their wildcard."""
        if self.mode == SUBDOMAINS_ONLY:
            return "%." + self.value
        if self.mode == PREFIX:
            return self.value + "%"
        if self.mode == MATCHES:
            return f"/{self.value}/"
        return self.value


# A clause is a set of atoms that must all occur on one line (AND); an
# indicator fires on a line when any of its clauses does (OR).
Clause = frozenset[Atom]


@dataclass(frozen=True, slots=True)
class Indicator:
    """A live indicator, compiled to clauses, with what the feed says about it."""

    id: str
    name: str
    pattern: str
    clauses: tuple[Clause, ...]
    attribution: tuple[str, ...] = ()
    source: str = ""  # the source it was loaded from (a path, "<dict>", ...)
    also_in: tuple[str, ...] = ()  # other sources that carry this very version
    publisher: str = ""  # the name of its created_by_ref identity, when the feed gives one
    valid_until: datetime | None = None
    valid_from: datetime | None = None

    @property
    def provenance(self) -> tuple[str, ...]:
        """Who stands behind it: its publisher, else the sources it came from."""
        return (self.publisher,) if self.publisher else (self.source, *self.also_in)


MAX_REASON = 300  # characters of a problem's id or reason that a report shows


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an object was not compiled (or was compiled only in part)."""

    id: str
    reason: str
    status: str = "skipped"  # skipped | excluded | warning
    source: str = ""

    def __post_init__(self) -> None:
        # A reason may quote a value or a pattern of any length a feed holds.
        for name in ("id", "reason"):
            text = getattr(self, name)
            if len(text) > MAX_REASON:
                object.__setattr__(self, name, f"{text[:MAX_REASON]}... ({len(text):,} characters)")

    def to_dict(self) -> dict[str, str]:
        out = {"id": self.id, "reason": self.reason, "status": self.status}
        if self.source:
            out["source"] = self.source
        return out


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What loading did with every indicator object it read.

    ``read == compiled + skipped + excluded`` always holds. ``problems`` lists
    every object that was skipped or excluded, with the reason; ``warnings``
    lists compiled indicators that needed a caveat. ``context`` counts the other
    STIX objects by type (relationships, campaigns, ...), read for attribution.
    """

    read: int
    compiled: int
    skipped: int
    excluded: int
    kinds: dict[str, int]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    context: dict[str, int] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)  # source label -> SHA-256 of what was read
    as_of: datetime | None = None  # the reference time asked for validity (None: the time of loading)
    ignore_validity: bool = False
    at_event_time: bool = False  # validity is judged at each log line's own time, when scanning

    def to_dict(self) -> dict[str, Any]:
        return {
            "read": self.read,
            "compiled": self.compiled,
            "skipped": self.skipped,
            "excluded": self.excluded,
            "kinds": dict(self.kinds),
            "problems": [p.to_dict() for p in self.problems],
            "warnings": [p.to_dict() for p in self.warnings],
            "context": dict(self.context),
            "sources": list(self.sources),
            "by_source": {label: dict(counts) for label, counts in self.by_source.items()},
            "digests": dict(self.digests),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "ignore_validity": self.ignore_validity,
            "at_event_time": self.at_event_time,
        }


@dataclass(frozen=True, slots=True)
class IndicatorSet:
    """The result of loading: the live indicators and the load report."""

    indicators: tuple[Indicator, ...]
    report: LoadReport


@dataclass(frozen=True, slots=True)
class Origin:
    """What a compiled matcher was made from, and when, so an old one is seen.

    ``sources`` pairs each source's label with the SHA-256 of what was read
    from it; ``as_of`` is the time validity was judged at (the compile time
    unless ``--as-of`` was given); ``expiries`` are the ``valid_until`` of its
    indicators that have one, as POSIX seconds, sorted. ``at_event_time``:
    validity is judged at each line's own time (``as_of``, when given, judges
    the lines that carry none).
    """

    compiled_at: datetime
    sources: tuple[tuple[str, str], ...]
    as_of: datetime
    as_of_given: bool
    ignore_validity: bool
    indicators: int
    expiries: tuple[float, ...] = ()
    at_event_time: bool = False

    @property
    def digest(self) -> str:
        """One SHA-256 for everything the matcher was compiled from."""
        whole = hashlib.sha256()
        for label, digest in self.sources:
            whole.update(f"{label}\0{digest}\0".encode("utf-8", "surrogateescape"))
        return whole.hexdigest()

    def age(self, now: datetime) -> timedelta:
        return now - self.compiled_at

    def expired(self, now: datetime) -> int:
        """How many of its indicators are past their ``valid_until`` at ``now``."""
        return bisect.bisect_right(self.expiries, now.timestamp())

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "compiled_at": self.compiled_at.isoformat(),
            "age_seconds": round(self.age(now).total_seconds()),
            "digest": self.digest,
            "sources": [{"source": label, "sha256": digest} for label, digest in self.sources],
            "as_of": self.as_of.isoformat(),
            "ignore_validity": self.ignore_validity,
            "at_event_time": self.at_event_time,
            "indicators": self.indicators,
            "expired_now": self.expired(now),
        }


@dataclass(frozen=True, slots=True)
class Match:
    """One occurrence of an indicator value in one line.

    ``start``/``end`` are 0-based, half-open, in characters of the line;
    ``value`` is the canonical value of the indicator that was hit;
    ``sources`` says who stands behind those indicators (publisher or source).
    """

    line: int
    start: int
    end: int
    text: str
    kind: str
    value: str
    indicators: tuple[str, ...]
    attribution: tuple[str, ...]
    sources: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "kind": self.kind,
            "value": self.value,
            "indicators": list(self.indicators),
            "attribution": list(self.attribution),
            "sources": list(self.sources),
        }
