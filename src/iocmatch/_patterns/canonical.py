"""Canonical forms of indicator values, and the case folding shared with log text.

Every function here either returns the canonical form or raises PatternError
quoting the bad value; the loader turns that into a reported problem.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import idna

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
from .literals import canonical_dn, canonical_method, canonical_request, canonical_serial, canonical_text

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

HASH_DIGITS = {MD5: 32, SHA1: 40, SHA256: 64, SHA512: 128}

# Spellings of hash algorithm names seen in feeds, folded to upper case
# without '-', '_' or quotes.
_HASH_ALGORITHMS = {"MD5": MD5, "SHA1": SHA1, "SHA256": SHA256, "SHA512": SHA512}

_NAME = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
_HEX = re.compile(r"[0-9a-f]+")

DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}

# Registry hives by their short names; STIX 2.1 wants the full name.
HIVES = {
    "HKCU": "HKEY_CURRENT_USER",
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
}


class _OneCharLower(dict[int, int]):
    """``str.translate`` table, filled on demand: each character to its lower
    case when that is one character, else to itself (``'İ'`` lowers to two)."""

    def __missing__(self, code: int) -> int:
        lower = chr(code).lower()
        # Non-ASCII never folds into ASCII (the Kelvin sign is not 'k'), so ASCII
        # keys can be found in bytes lowered as ASCII.
        folded = ord(lower) if len(lower) == 1 and (code < 128 or ord(lower) >= 128) else code
        self[code] = folded
        return folded


_FOLD = _OneCharLower()


def fold_case(text: str) -> str:
    """Lower-case ``text`` character by character, keeping its length, so spans
    in the folded text are spans in the line; no context rules (final sigma)."""
    if text.isascii():
        return text.lower()
    return text.translate(_FOLD)


def hash_kind(algorithm: str) -> str:
    """Map a STIX hash algorithm name (``SHA-256``, ``sha256``, ...) to a kind."""
    key = algorithm.strip("'\"").upper().replace("-", "").replace("_", "")
    try:
        return _HASH_ALGORITHMS[key]
    except KeyError:
        raise PatternError(f"hash algorithm {algorithm!r} is not supported") from None


def canonical_hash(kind: str, value: str) -> str:
    digits = value.strip().lower()
    if len(digits) != HASH_DIGITS[kind] or not _HEX.fullmatch(digits):
        raise PatternError(f"{value!r} is not a valid {kind.upper()} hash ({HASH_DIGITS[kind]} hex digits)")
    return digits


def canonical_domain(value: str) -> str:
    """Lower case, no trailing dot, IDNA A-label; ``_`` allowed (malware uses it)."""
    name = value.strip().rstrip(".")
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise PatternError(f"{value!r} is not a valid domain name ({exc})") from None
    name = name.lower()
    if len(name) > 253 or not _NAME.fullmatch(name):
        raise PatternError(f"{value!r} is not a valid domain name")
    return name


def domain_spellings(canonical: str) -> tuple[str, ...]:
    """The forms a domain takes in logs: its A-label and, if any, its U-label."""
    if "xn--" not in canonical:
        return (canonical,)
    try:
        unicode_form = idna.decode(canonical)
    except idna.IDNAError:
        return (canonical,)
    return (canonical, fold_case(unicode_form))


def canonical_email(value: str) -> str:
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or any(c.isspace() for c in local):
        raise PatternError(f"{value!r} is not a valid e-mail address")
    return f"{fold_case(local)}@{canonical_domain(domain)}"


def canonical_network(kind: str, value: str) -> IPNetwork:
    """An address or CIDR as an ``ipaddress`` network; IPv4-mapped IPv6 becomes IPv4."""
    address, slash, prefix = value.strip().partition("/")
    text = address.split("%")[0] + slash + prefix  # an IPv6 zone (%eth0) names no other address
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise PatternError(f"{value!r} is not a valid {kind} address or network") from None
    if isinstance(network, ipaddress.IPv6Network):
        mapped = network.network_address.ipv4_mapped
        if mapped is not None and network.prefixlen >= 96:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
        if kind == IPV4:
            raise PatternError(f"{value!r} is an IPv6 value in an ipv4-addr comparison")
    elif kind == IPV6:
        raise PatternError(f"{value!r} is an IPv4 value in an ipv6-addr comparison")
    return network


def network_value(network: IPNetwork) -> str:
    """How a network is reported: a single address without its prefix length."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


@dataclass(frozen=True, slots=True)
class UrlParts:
    """A URL split into what is compared case-insensitively and what is not."""

    scheme: str  # lower case, or "" when the indicator has none
    netloc: str  # host[:port], lower case, default port dropped
    path: str  # case kept
    query: str  # case kept, without '?'

    @property
    def canonical(self) -> str:
        rest = self.netloc + self.path + (f"?{self.query}" if self.query else "")
        return f"{self.scheme}://{rest}" if self.scheme else rest


def split_url(value: str) -> UrlParts:
    text = value.strip()
    has_scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text) is not None
    try:
        parts = urlsplit(text if has_scheme else "//" + text)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise PatternError(f"{value!r} is not a valid URL") from None
    if not host:
        raise PatternError(f"{value!r} is not a valid URL (no host)")
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{ipaddress.ip_address(host.split('%')[0]).compressed}]"
    elif not is_ipv4(host):
        host = canonical_domain(host)
    netloc = host if port is None or DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return UrlParts(scheme, netloc, parts.path, parts.query)


_URL_HEAD = re.compile(r"((?:[A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*)(.*)", re.DOTALL)


def url_prefix(literal: str) -> str:
    """The start of a URL (LIKE 'http://evil.%'), scheme and host lower-cased,
    nothing else touched: a prefix may stop anywhere, even inside the host."""
    found = _URL_HEAD.fullmatch(literal.strip())
    head, rest = found.groups() if found else (literal, "")
    return head.lower() + rest


# ------------------------------------------------------------------ refanging
# Published values are often defanged (``hxxp://evil[.]com``) so that nobody
# clicks them. Only what no real value of the kind can hold is undone (see
# DESIGN.md, "Defanged values"); file names, mutexes, registry keys and folders
# may hold brackets, and are never touched.

_DOT_MARKS = re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}", re.IGNORECASE)
_AT_MARKS = re.compile(r"\[@\]|\(@\)|\{@\}|\[at\]|\(at\)|\{at\}", re.IGNORECASE)
# `hxxp://`, `hXXps[://]`, `hxxp[:]//`, `http[://]`: a scheme and its separator.
_DEFANGED_HEAD = re.compile(r"(\s*)([A-Za-z][A-Za-z0-9+.-]*)(\[://\]|\[:\]//|://)")
_DEFANGED_SCHEME = re.compile(r"hxxp(s?)", re.IGNORECASE)
_AUTHORITY = re.compile(r"[^/?#]*")


def refang(kind: str, value: str) -> str:
    """``value`` with the defanging its kind can never hold undone; as it was for other kinds."""
    if not _may_be_defanged(value):
        return value
    if kind in (DOMAIN, IPV4):
        return _DOT_MARKS.sub(".", value)
    if kind == URL:
        return _refang_url(value)
    if kind == EMAIL:
        return _refang_email(value)
    if kind == COMMAND_LINE:
        return _refang_command(value)
    return value


# In a command line, only a defanged URL and a dot mark between letters or
# digits (``nslookup evil[.]com``): a command may hold brackets of its own.
_DEFANGED_URL_IN_TEXT = re.compile(r"hxxps?(?:\[://\]|\[:\]//|://)\S+", re.IGNORECASE)
_DOT_MARK_IN_NAME = re.compile(r"(?<=[A-Za-z0-9])(?:\[\.\]|\(\.\)|\{\.\})(?=[A-Za-z0-9])")


def _refang_command(value: str) -> str:
    value = _DEFANGED_URL_IN_TEXT.sub(lambda url: _refang_url(url.group()), value)
    return _DOT_MARK_IN_NAME.sub(".", value)


def _may_be_defanged(value: str) -> bool:
    return "[" in value or "(" in value or "{" in value or "xx" in value.lower()


def _refang_url(value: str) -> str:
    head, rest, defanged = "", value, False
    found = _DEFANGED_HEAD.match(value)
    if found is not None:
        space, scheme, separator = found.groups()
        web = _DEFANGED_SCHEME.fullmatch(scheme)
        defanged = web is not None or separator != "://"
        head = f"{space}{'http' + web.group(1).lower() if web else scheme}://"
        rest = value[found.end() :]
    authority = _AUTHORITY.match(rest)
    end = authority.end() if authority else 0
    host = _DOT_MARKS.sub(".", rest[:end]).replace("[:]", ":").replace("[@]", "@")
    path = rest[end:]
    if defanged or host != rest[:end]:
        # A URL whose scheme or host was defanged: dots in its path were defanged too.
        path = _DOT_MARKS.sub(".", path)
    return head + host + path


def _refang_email(value: str) -> str:
    text = _DOT_MARKS.sub(".", value)
    if len(_AT_MARKS.findall(text)) == 1 and "@" not in _AT_MARKS.sub("", text):
        text = _AT_MARKS.sub("@", text)
    return text


# Literal kinds compared as the text they are, without the space around it.
TEXT_KINDS = (PROCESS_NAME, COMMAND_LINE, EMAIL_SUBJECT, USER_ACCOUNT, SOFTWARE_NAME, USER_AGENT, HTTP_HEADER)


def canonical_port(value: str) -> str:
    """A TCP/UDP port as decimal digits without leading zeros: ``0443`` -> ``443``."""
    digits = value.strip()
    if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= 65535:
        raise PatternError(f"{value!r} is not a port (1 to 65535)")
    return str(int(digits))


def canonical_value(kind: str, value: str) -> str:
    """The canonical string form of ``value`` for every string kind; a defanged value is refanged first."""
    return _canonical_value(kind, refang(kind, value))


def _canonical_value(kind: str, value: str) -> str:
    if kind == DOMAIN:
        return canonical_domain(value)
    if kind == URL:
        return split_url(value).canonical
    if kind in HASH_DIGITS:
        return canonical_hash(kind, value)
    if kind == EMAIL:
        return canonical_email(value)
    if kind == IPV4 and is_ipv4(value):
        return value  # already canonical: ipaddress would give it back as it is, a hundred times slower
    if kind in (IPV4, IPV6):
        return network_value(canonical_network(kind, value))
    if kind == PORT:
        return canonical_port(value)
    if kind in TEXT_KINDS:
        return canonical_text(kind, value)
    if kind == X509_SERIAL:
        return canonical_serial(value)
    if kind == X509_NAME:
        return canonical_dn(value)
    if kind == HTTP_REQUEST:
        return canonical_request(value)
    if kind == HTTP_METHOD:
        return canonical_method(value)
    if kind in (FILE_NAME, MUTEX, REGISTRY_KEY, DIRECTORY):
        if not value.strip():
            raise PatternError(f"empty {kind} value")
        return value
    raise PatternError(f"kind {kind!r} is not supported")


def expand_hive(key: str) -> str:
    """``HKCU\\Software`` -> ``HKEY_CURRENT_USER\\Software``; other keys as they are."""
    hive, sep, rest = key.partition("\\")
    return HIVES.get(hive.upper(), hive) + sep + rest


def typed_value(kind: str, value: str) -> tuple[str, str]:
    """(kind, canonical value); an IPv4-mapped IPv6 value comes back as IPv4."""
    canonical = canonical_value(kind, value)
    if kind == IPV6 and ":" not in canonical:
        return IPV4, canonical
    return kind, canonical
