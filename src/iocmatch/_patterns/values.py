"""What an object path and a value in a STIX pattern mean here: the kind a
path compares, and the canonical atom of a value. Shared by the fast path and
the full grammar, so both read a pattern the same way."""

from __future__ import annotations

import re

from .._common.addresses import is_ipv4
from .._common.errors import PatternError
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
    MUTEX,
    PORT,
    PREFIX,
    PROCESS_NAME,
    REGISTRY_KEY,
    SOFTWARE_NAME,
    SUBDOMAINS_ONLY,
    URL,
    USER_ACCOUNT,
    USER_AGENT,
    X509_NAME,
    X509_SERIAL,
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

# What a path compares when the value decides the kind: network-traffic's
# dst_ref/src_ref may be an ipv4-addr, an ipv6-addr or a domain-name object.
# ``atom`` turns it into IPV4, IPV6 or DOMAIN by the value's shape; no atom has it.
NETWORK_ADDRESS = "network-address"
ADDRESS_KINDS = (IPV4, IPV6, NETWORK_ADDRESS)

# (object type, property path) -> kind. Hashes and HTTP request headers are handled apart.
_PATHS: dict[tuple[str, tuple[str, ...]], str] = {
    ("domain-name", ("value",)): DOMAIN,
    ("url", ("value",)): URL,
    ("ipv4-addr", ("value",)): IPV4,
    ("ipv6-addr", ("value",)): IPV6,
    ("file", ("name",)): FILE_NAME,
    ("email-addr", ("value",)): EMAIL,
    ("email-message", ("from_ref", "value")): EMAIL,
    ("email-message", ("sender_ref", "value")): EMAIL,
    ("email-message", ("subject",)): EMAIL_SUBJECT,
    ("mutex", ("name",)): MUTEX,
    ("windows-registry-key", ("key",)): REGISTRY_KEY,
    ("directory", ("path",)): DIRECTORY,
    ("file", ("parent_directory_ref", "path")): DIRECTORY,
    ("network-traffic", ("dst_port",)): PORT,
    ("network-traffic", ("src_port",)): PORT,
    ("network-traffic", ("dst_ref", "value")): NETWORK_ADDRESS,
    ("network-traffic", ("src_ref", "value")): NETWORK_ADDRESS,
    ("network-traffic", ("extensions", "http-request-ext", "request_value")): HTTP_REQUEST,
    ("network-traffic", ("extensions", "http-request-ext", "request_method")): HTTP_METHOD,
    ("process", ("name",)): PROCESS_NAME,
    ("process", ("image_ref", "name")): PROCESS_NAME,
    ("process", ("binary_ref", "name")): PROCESS_NAME,  # STIX 2.0's name for image_ref
    ("process", ("command_line",)): COMMAND_LINE,
    ("user-account", ("user_id",)): USER_ACCOUNT,
    ("user-account", ("account_login",)): USER_ACCOUNT,
    ("software", ("name",)): SOFTWARE_NAME,
    ("x509-certificate", ("serial_number",)): X509_SERIAL,
    ("x509-certificate", ("subject",)): X509_NAME,
    ("x509-certificate", ("issuer",)): X509_NAME,
}
# Paths through a list of references (``resolves_to_refs[*].value``): any element
# of the list is the value compared, so the index does not matter.
_LIST_PATHS: dict[tuple[str, tuple[str, ...]], str] = {
    ("domain-name", ("resolves_to_refs", "value")): NETWORK_ADDRESS,
    ("email-message", ("to_refs", "value")): EMAIL,
    ("email-message", ("cc_refs", "value")): EMAIL,
    ("email-message", ("bcc_refs", "value")): EMAIL,
}
# Non-standard properties seen in published feeds (Amnesty's and MVT's STIX 2.1
# write a file's whole path as ``file:path``): compared as a path, with a warning.
_NON_STANDARD_PATHS: dict[tuple[str, tuple[str, ...]], str] = {("file", ("path",)): DIRECTORY}
# Object types whose ``hashes.<algorithm>`` a log line shows (Sysmon, Zeek's x509.log, EDR).
_HASHED_TYPES = {"file", "x509-certificate", "artifact"}
_REQUEST_HEADER = ("extensions", "http-request-ext", "request_header")
# Request headers whose value is a value of another kind (the Host an address
# or a domain); any other header's value is compared as HTTP_HEADER.
_HEADER_KINDS = {"user-agent": USER_AGENT, "host": NETWORK_ADDRESS, "referer": URL}
# Object types that are supported, so other properties of them are ones a
# log line cannot show (file:size, file:mime_type, x509-certificate:validity_not_before, ...).
_KNOWN_TYPES = {object_type for object_type, _ in _PATHS} | _HASHED_TYPES

# Non-standard spellings seen in published feeds, read as the standard type.
_TYPE_ALIASES = {
    "windows_registry_key": "windows-registry-key",
    "domain_name": "domain-name",
    "email": "email-message",  # STIX 2.0 feeds writing email:subject
}


def kind_of(written_type: str, steps: list[str], simple: bool, warnings: list[str]) -> tuple[str, str]:
    """The kind an object path compares and its object type, or PatternError saying why there is none."""
    object_type = written_type
    if object_type in _TYPE_ALIASES:
        warnings.append(f"non-standard object type {object_type!r} read as {_TYPE_ALIASES[object_type]!r}")
        object_type = _TYPE_ALIASES[object_type]
    written = f"{written_type}:{'.'.join(steps)}"
    kind = _path_kind(object_type, tuple(steps)) if simple else None
    if kind is None:
        kind = _LIST_PATHS.get((object_type, tuple(steps)))
    if kind is None and simple and (object_type, tuple(steps)) in _NON_STANDARD_PATHS:
        kind = _NON_STANDARD_PATHS[object_type, tuple(steps)]
        warnings.append(f"non-standard property {written} read as a path")
    if kind is not None:
        return kind, object_type
    if object_type in _KNOWN_TYPES:
        raise PatternError(f"{written} cannot be seen in a log line")
    raise PatternError(f"object path {written} is not supported")


def _path_kind(object_type: str, steps: tuple[str, ...]) -> str | None:
    if object_type in _HASHED_TYPES and len(steps) == 2 and steps[0] == "hashes":
        return hash_kind(steps[1])
    if object_type == "network-traffic" and len(steps) == 4 and steps[:3] == _REQUEST_HEADER:
        # Header names are case-insensitive (RFC 9110).
        return _HEADER_KINDS.get(steps[3].lower(), HTTP_HEADER)
    return _PATHS.get((object_type, steps))


def unescape(value: str) -> str:
    """STIX pattern strings escape ``\\`` and ``'``; stix2 leaves them escaped."""
    if "\\" not in value:
        return value
    return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)


def atom(kind: str, value: str | int, warnings: list[str] | None = None) -> Atom:
    """The atom of ``kind`` = ``value``; a defanged value is refanged, with a
    warning added to ``warnings`` naming both values. Only a port may be an
    integer (STIX writes ``network-traffic:dst_port = 443``)."""
    if not isinstance(value, str):
        if kind != PORT or isinstance(value, bool) or not isinstance(value, int):
            raise PatternError(f"{type(value).__name__} values are not supported on {kind}")
        value = str(value)
    _refuse_surrogates(value)
    if kind == NETWORK_ADDRESS:
        value = _without_port(value, warnings)
        kind = address_kind(value)
    elif kind == HTTP_REQUEST and _SCHEME.match(value.strip()):
        kind = URL  # a request in absolute form (to a proxy) names its URL
    elif kind == DOMAIN and is_ipv4(refang(DOMAIN, value).strip()):
        # Feeds write addresses as domain names (Amnesty's NoviSpy): an address is
        # looked for, and judged for breadth, as one.
        kind = IPV4
        if warnings is not None:
            warnings.append(f"domain-name value {value!r} is an IPv4 address: read as one")
    refanged = refang(kind, value)
    if kind == IPV4 and is_ipv4(refanged):
        found = Atom(IPV4, refanged)  # a plain address is its own canonical form
    elif kind in (IPV4, IPV6):
        # An IPv4-mapped IPv6 value comes back as IPv4: it is looked up as one.
        network = canonical_network(kind, refanged)
        found = Atom(IPV4 if network.version == 4 else IPV6, network_value(network))
    else:
        found = Atom(kind, canonical_value(kind, refanged))
    if refanged != value and warnings is not None:
        warnings.append(refanged_warning(value, found.value))
    return found


_HOST_AND_PORT = re.compile(r"\s*(\[[^\]]*\]|[^:\[\]]+):(\d{1,5})\s*")


def _without_port(value: str, warnings: list[str] | None) -> str:
    """A Host header's value without its port (``evil.com:8080``, ``[2001:db8::1]:443``):
    the host is what it names; the port is left out, with a warning."""
    found = _HOST_AND_PORT.fullmatch(value)
    if found is None:
        return value.strip().removeprefix("[").removesuffix("]")
    host = found.group(1).removeprefix("[").removesuffix("]")
    if warnings is not None:
        warnings.append(f"port {found.group(2)} of {value!r} left out: the host is compared alone")
    return host


_DOTTED_NUMBERS = re.compile(r"[\d.\[\]()]+(?:/\d+)?")


def address_kind(value: str) -> str:
    """The kind of a network-traffic endpoint's value by its shape: an IPv6
    address has a colon, an IPv4 one only digits and dots (even defanged), a
    domain name anything else."""
    text = value.strip()
    if ":" in text:
        return IPV6
    return IPV4 if _DOTTED_NUMBERS.fullmatch(text) else DOMAIN


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


# Kinds whose LIKE 'prefix%' compiles, compared as the kind compares the whole value.
_PREFIX_KINDS = (
    FILE_NAME,
    MUTEX,
    REGISTRY_KEY,
    DIRECTORY,
    PROCESS_NAME,
    COMMAND_LINE,
    EMAIL_SUBJECT,
    SOFTWARE_NAME,
    USER_AGENT,
)


def like_atom(kind: str, value: str, warnings: list[str] | None = None) -> Atom:
    """LIKE '%.evil.com' (domains: subdomains only) and LIKE 'evil%' (prefix).
    The domain of '%.evil[.]com' is refanged as ``atom`` does; a prefix is not
    (it may stop inside a defanging mark)."""
    _refuse_surrogates(value)
    if kind == NETWORK_ADDRESS:
        kind = DOMAIN  # a wildcard only makes sense in a name
    if kind == DOMAIN and value.startswith("%.") and not _has_wildcard(value[2:]):
        suffix = atom(kind, value[2:], warnings)
        return Atom(kind, suffix.value, SUBDOMAINS_ONLY)
    literal = value[:-1]
    if value.endswith("%") and literal and not _has_wildcard(literal) and kind not in (IPV4, IPV6):
        if kind == URL:
            return _url_like(value, url_prefix(literal))
        if kind in (DOMAIN, EMAIL):
            literal = literal.lower()
        elif kind not in _PREFIX_KINDS:
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
