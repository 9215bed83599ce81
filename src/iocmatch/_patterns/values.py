"""What an object path and a value in a STIX pattern mean here: the kind a
path compares, and the canonical atom of a value. Shared by the fast path and
the full grammar, so both read a pattern the same way."""

from __future__ import annotations

import re

from .._common.errors import PatternError
from .._common.model import (
    DIRECTORY,
    DOMAIN,
    EMAIL,
    FILE_NAME,
    IPV4,
    IPV6,
    MUTEX,
    PREFIX,
    REGISTRY_KEY,
    SUBDOMAINS_ONLY,
    URL,
    Atom,
    Clause,
)
from .canonical import canonical_network, canonical_value, hash_kind, network_value, refang, url_prefix

# White space as the STIX grammar's lexer skips it (str.isspace also takes \x1c-\x1f,
# which the grammar refuses): for regular expressions that read patterns without it.
GRAMMAR_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

# How large a pattern may be. Past a limit it is refused with a reason that
# names the limit, never half read.
# An OR list (comparisons, observations, IN values, however nested): feeds
# publish thousands of hashes or domains as one pattern; each alternative is a
# clause the matcher keeps anyway, so this only bounds a runaway feed.
MAX_ALTERNATIVES = 100_000
# An AND over ORs expands to the product of their sizes: refused past this
# rather than expanded (two IN lists of 300 would make 90,000 clauses).
MAX_CLAUSES = 4096
# A part of a pattern that cannot be cut at an OR (an AND, a group under a
# qualifier or FOLLOWEDBY) is read by the grammar, which recurses once per
# operator, bracket or parenthesis in it.
MAX_NESTING = 10_000

TOO_MANY_ALTERNATIVES = f"pattern ORs together more than {MAX_ALTERNATIVES:,} alternatives (the limit)"
TOO_MANY_CLAUSES = f"pattern's AND over OR expands to more than {MAX_CLAUSES:,} alternatives (the limit)"
NESTED_TOO_DEEPLY = (
    f"pattern has a part with more than {MAX_NESTING:,} operators, brackets and parentheses"
    " and no OR to cut it at (the limit)"
)

# (object type, property path) -> kind. file:hashes.<algorithm> is handled apart.
_PATHS = {
    ("domain-name", ("value",)): DOMAIN,
    ("url", ("value",)): URL,
    ("ipv4-addr", ("value",)): IPV4,
    ("ipv6-addr", ("value",)): IPV6,
    ("file", ("name",)): FILE_NAME,
    ("email-addr", ("value",)): EMAIL,
    ("email-message", ("from_ref", "value")): EMAIL,
    ("mutex", ("name",)): MUTEX,
    ("windows-registry-key", ("key",)): REGISTRY_KEY,
    ("directory", ("path",)): DIRECTORY,
    ("file", ("parent_directory_ref", "path")): DIRECTORY,
}
# Object types that are supported, so other properties of them are ones a
# log line cannot show (file:size, file:mime_type, ...).
_KNOWN_TYPES = {object_type for object_type, _ in _PATHS}

# Non-standard spellings seen in published feeds, read as the standard type.
_TYPE_ALIASES = {"windows_registry_key": "windows-registry-key", "domain_name": "domain-name"}


def kind_of(written_type: str, steps: list[str], simple: bool, warnings: list[str]) -> tuple[str, str]:
    """The kind an object path compares and its object type, or PatternError saying why there is none."""
    object_type = written_type
    if object_type in _TYPE_ALIASES:
        warnings.append(f"non-standard object type {object_type!r} read as {_TYPE_ALIASES[object_type]!r}")
        object_type = _TYPE_ALIASES[object_type]
    written = f"{written_type}:{'.'.join(steps)}"
    if simple:
        if object_type == "file" and len(steps) == 2 and steps[0] == "hashes":
            return hash_kind(steps[1]), object_type
        kind = _PATHS.get((object_type, tuple(steps)))
        if kind is not None:
            return kind, object_type
    if object_type in _KNOWN_TYPES:
        raise PatternError(f"{written} cannot be seen in a log line")
    raise PatternError(f"object path {written} is not supported")


def unescape(value: str) -> str:
    """STIX pattern strings escape ``\\`` and ``'``; stix2 leaves them escaped."""
    if "\\" not in value:
        return value
    return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)


def atom(kind: str, value: str, warnings: list[str] | None = None) -> Atom:
    """The atom of ``kind`` = ``value``; a defanged value is refanged, with a
    warning added to ``warnings`` naming both values."""
    _refuse_surrogates(value)
    refanged = refang(kind, value)
    if kind in (IPV4, IPV6):
        # An IPv4-mapped IPv6 value comes back as IPv4: it is looked up as one.
        network = canonical_network(kind, refanged)
        found = Atom(IPV4 if network.version == 4 else IPV6, network_value(network))
    else:
        found = Atom(kind, canonical_value(kind, refanged))
    if refanged != value and warnings is not None:
        warnings.append(refanged_warning(value, found.value))
    return found


def refanged_warning(value: str, canonical: str) -> str:
    """The warning for a defanged value read as ``canonical``."""
    return f"defanged value {value!r} refanged to {canonical!r}"


def refanged_note(clauses: tuple[Clause, ...], written: str) -> str | None:
    """The warning for a value a reader built ``clauses`` from, as it was
    written, when it was written defanged; None when it was not."""
    for clause in clauses:
        for found in clause:
            if refang(found.kind, written) != written:
                return refanged_warning(written, found.value)
    return None


def like_atom(kind: str, value: str, warnings: list[str] | None = None) -> Atom:
    """LIKE '%.evil.com' (domains: subdomains only) and LIKE 'evil%' (prefix).
    The domain of '%.evil[.]com' is refanged as ``atom`` does; a prefix is not
    (it may stop inside a defanging mark)."""
    _refuse_surrogates(value)
    if kind == DOMAIN and value.startswith("%.") and not _has_wildcard(value[2:]):
        suffix = atom(kind, value[2:], warnings)
        return Atom(kind, suffix.value, SUBDOMAINS_ONLY)
    literal = value[:-1]
    if value.endswith("%") and literal and not _has_wildcard(literal) and kind not in (IPV4, IPV6):
        if kind == URL:
            return _url_like(value, url_prefix(literal))
        if kind in (DOMAIN, EMAIL):
            literal = literal.lower()
        elif kind not in (FILE_NAME, MUTEX, REGISTRY_KEY, DIRECTORY):
            raise PatternError(f"LIKE is not supported on {kind}")
        return Atom(kind, literal, PREFIX)
    raise PatternError(f"LIKE {value!r} is not supported (only '%.domain' and 'prefix%')")


def _url_like(value: str, prefix: str) -> Atom:
    if not after_scheme(prefix).strip():
        # URL needles leave the scheme out (a URL hits under any scheme): nothing would be looked for.
        raise PatternError(
            f"LIKE {value!r} can never hit a log line: URLs are looked for without their scheme, and nothing follows it"
        )
    return Atom(URL, prefix, PREFIX)


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def after_scheme(url: str) -> str:
    """``url`` without its ``scheme://``, if it has one."""
    found = _SCHEME.match(url)
    return url[found.end() :] if found else url


def _refuse_surrogates(value: str) -> None:
    """JSON can spell a lone surrogate (``\\udcff``), which is no character:
    no log line holds it, and no engine can be given it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise PatternError(f"value holds {value[exc.start]!r}, a lone surrogate and no character") from None


def _has_wildcard(text: str) -> bool:
    return "%" in text or "_" in text
