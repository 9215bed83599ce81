"""A naive reference matcher, written straight from ``SEMANTICS.md``.

Brute force on purpose: every indicator value is looked for with ``str.find``
in a loop (or one small regular expression per kind), and every boundary rule
is checked character by character.  It shares no code with ``iocmatch`` and
knows nothing about STIX: its input is a list of :class:`Atom` (one comparison
of a pattern), so tables and property tests can feed it directly.

``oracle_hits(atoms, line, subdomains=True)`` returns a set of :class:`Hit`
``(start, end, kind, value)``: the 0-based half-open span in characters of the
line, the kind of the indicator and the indicator's canonical value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import idna

from tests.oracle_literals import LITERAL_PREFIX_KINDS, LITERALS, literal_canonical, literal_hits

H = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
HEX = frozenset("0123456789abcdefABCDEF")
HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
URL_END = frozenset("\"'<>|,;)]#")
DEFAULT_PORTS = {"http": "80", "https": "443", "ftp": "21"}
HIVES = (
    ("HKCU", "HKEY_CURRENT_USER"),
    ("HKLM", "HKEY_LOCAL_MACHINE"),
    ("HKCR", "HKEY_CLASSES_ROOT"),
    ("HKU", "HKEY_USERS"),
    ("HKCC", "HKEY_CURRENT_CONFIG"),
)
KINDS = frozenset(
    {
        "domain-name",
        "url",
        "ipv4-addr",
        "ipv6-addr",
        "email-addr",
        "file-name",
        "mutex",
        "windows-registry-key",
        *HASH_LENGTHS,
        *LITERALS,
    }
)


@dataclass(frozen=True)
class Atom:
    """One comparison: ``kind`` (a match kind name), ``value`` as written, ``op``."""

    kind: str
    value: str
    op: str = "="  # "=" (also IN members and ISSUBSET) or "LIKE"

    def __post_init__(self) -> None:
        if self.kind not in KINDS or self.op not in ("=", "LIKE"):
            raise ValueError(f"unsupported atom {self!r}")


class Hit(NamedTuple):
    start: int
    end: int
    kind: str
    value: str


# -- text utilities --------------------------------------------------------------


def as_text(line: str | bytes) -> str:
    """Units: "a line is ``str``, or ``bytes`` decoded as UTF-8 with invalid bytes
    kept (``surrogateescape``)"."""
    return line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line


def _fold(text: str) -> str:
    """Lower case, one character for one character, so spans stay valid."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _at(line: str, i: int) -> str:
    """The character at ``i``, or ``""`` outside the line."""
    return line[i] if 0 <= i < len(line) else ""


def _find_all(haystack: str, needle: str) -> Iterator[int]:
    """Every start of ``needle`` in ``haystack``, overlapping ones included."""
    i = haystack.find(needle)
    while i >= 0:
        yield i
        i = haystack.find(needle, i + 1)


def _is_word(ch: str) -> bool:
    return ch != "" and (ch.isalnum() or ch == "_")


# -- canonical values ----------------------------------------------------------


def _canon_domain(value: str) -> str:
    """Domain: "lower case, no trailing dot, IDNA A-label" (IDNA 2008, UTS 46)."""
    v = value.strip().rstrip(".").lower()
    return v if v.isascii() else idna.encode(v, uts46=True).decode("ascii")


_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def _network(kind: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """IP: "``ipaddress`` network"; an IPv4-mapped IPv6 network is its IPv4 one."""
    net = ipaddress.ip_network(value.strip(), strict=False)
    if net.version != (4 if kind == "ipv4-addr" else 6):
        raise ValueError(f"{value!r} is not an {kind}")
    if isinstance(net, ipaddress.IPv6Network) and net.subnet_of(_MAPPED):
        return ipaddress.IPv4Network((int(net.network_address) & 0xFFFFFFFF, net.prefixlen - 96))
    return net


def _canon_net(kind: str, value: str) -> str:
    """A single address is written without prefix, a network with it."""
    net = _network(kind, value)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def match_kind(atom: Atom) -> str:
    """The kind a hit of ``atom`` reports: ``ipv4-addr`` for an IPv4-mapped IPv6 one."""
    if atom.kind == "ipv6-addr" and _network(atom.kind, atom.value).version == 4:
        return "ipv4-addr"
    return atom.kind


def _url_parts(value: str) -> tuple[str | None, str, str, str]:
    """Split a URL into (scheme, host, port, path+query); fragment dropped."""
    v = value.strip()
    scheme: str | None = None
    if "://" in v:
        raw_scheme, v = v.split("://", 1)
        scheme = raw_scheme.lower()
    v = v.split("#", 1)[0]
    cut = min([i for i in (v.find("/"), v.find("?")) if i >= 0] or [len(v)])
    hostport, rest = v[:cut], v[cut:]
    host, port = hostport, ""
    colon = hostport.rfind(":")
    if colon > hostport.rfind("]") and hostport[colon + 1 :].isdigit():
        host, port = hostport[:colon], hostport[colon + 1 :]
    if scheme is not None and DEFAULT_PORTS.get(scheme) == port:
        port = ""
    return scheme, host.lower(), port, rest


def _canon_url(value: str) -> str:
    """URL: "scheme and host lower case, default port dropped, path and query
    case kept"; the fragment is dropped, a URL written without scheme keeps none."""
    scheme, host, port, rest = _url_parts(value)
    return (f"{scheme}://" if scheme else "") + host + (f":{port}" if port else "") + rest


def canonical(atom: Atom) -> str:
    """The canonical value a hit of ``atom`` reports (``ValueError`` if invalid)."""
    kind, value = atom.kind, atom.value
    if atom.op == "LIKE":
        if kind in LITERAL_PREFIX_KINDS and value.endswith("%") and not set(value[:-1]) & {"%", "_"}:
            return value
        _like_literal(atom)  # validates the form
        return value.lower() if kind in ("domain-name", "email-addr") else value
    if kind == "domain-name":
        return _canon_domain(value)
    if kind == "email-addr":
        return value.strip().lower()
    if kind in HASH_LENGTHS:
        v = value.strip().lower()
        if len(v) != HASH_LENGTHS[kind] or not set(v) <= HEX:
            raise ValueError(f"{value!r} is not a valid {kind}")
        return v
    if kind in ("ipv4-addr", "ipv6-addr"):
        return _canon_net(kind, value)
    if kind == "url":
        return _canon_url(value)
    if kind in LITERALS:
        return literal_canonical(kind, value)
    return value  # file-name, mutex, windows-registry-key: "as given"


# -- boundary rules ------------------------------------------------------------


def _domain_before_ok(line: str, start: int, subdomains: bool) -> bool:
    """Domain: "the character before is not in H and not ``.`` (exact), or is
    ``.`` (subdomain: ``a.evil.com`` hits ``evil.com``; ... can be switched off)"."""
    b = _at(line, start - 1)
    return (b not in H and b != ".") or (b == "." and subdomains)


def _name_after_ok(line: str, end: int) -> bool:
    """Domain, e-mail, file name: "the character after is not in H, and is not a
    ``.`` followed by a character in H" (a trailing FQDN dot is fine)."""
    a = _at(line, end)
    return a not in H and not (a == "." and _at(line, end + 1) in H)


def _email_before_ok(line: str, start: int) -> bool:
    """E-mail: "before: not in H nor ``.``, ``%``, ``+``"."""
    b = _at(line, start - 1)
    return b not in H and b not in (".", "%", "+")


def _file_before_ok(line: str, start: int) -> bool:
    """File name: "before: not in H and not ``.``"."""
    b = _at(line, start - 1)
    return b not in H and b != "."


def _literal_ok(line: str, start: int, end: int) -> bool:
    """Other literals: "where the value begins with a word character, the
    character before is not a word character; likewise at its end"."""
    if _is_word(line[start]) and _is_word(_at(line, start - 1)):
        return False
    return not (_is_word(line[end - 1]) and _is_word(_at(line, end)))


def _url_end_ok(line: str, end: int, has_query: bool) -> bool:
    """URL: "the character after ends a URL: end of line, white space, one of
    ``"'<>|,;)]``, ``#``, or ``?``/``&`` when the indicator has no query"."""
    a = _at(line, end)
    return a == "" or a.isspace() or a in URL_END or (not has_query and a in ("?", "&"))


# -- matching per kind ---------------------------------------------------------


def _like_literal(atom: Atom) -> tuple[str, str]:
    """``LIKE '%.evil.com'`` (subdomains only, domains) and ``LIKE 'evil%'``."""
    v = atom.value
    if atom.kind == "domain-name" and v.startswith("%.") and not set(v[2:]) & {"%", "_"}:
        return "suffix", v[2:]
    prefix_kinds = ("domain-name", "email-addr", "file-name", "mutex", "windows-registry-key")
    if atom.kind in prefix_kinds and v.endswith("%") and len(v) > 1 and not set(v[:-1]) & {"%", "_"}:
        return "prefix", v[:-1]
    raise ValueError(f"unsupported LIKE {atom!r}")


def _like_hits(atom: Atom, line: str) -> Iterator[tuple[int, int]]:
    """Span = the literal part.  ``%.evil.com`` needs a ``.`` before and the
    domain after-rule; ``evil%`` keeps the kind's exact before-rule and has no
    after-rule."""
    form, literal = _like_literal(atom)
    sensitive = atom.kind == "mutex"
    hay, needle = (line, literal) if sensitive else (_fold(line), _fold(literal))
    for s in _find_all(hay, needle):
        e = s + len(needle)
        if form == "suffix":
            if _at(line, s - 1) == "." and _name_after_ok(line, e):
                yield s, e
            continue
        if atom.kind == "domain-name":
            # STIX LIKE: the name itself starts with the prefix, no subdomain widening
            ok = _domain_before_ok(line, s, False)
        elif atom.kind == "email-addr":
            ok = _email_before_ok(line, s)
        elif atom.kind == "file-name":
            ok = _file_before_ok(line, s)
        else:
            ok = not (_is_word(line[s]) and _is_word(_at(line, s - 1)))
        if ok:
            yield s, e


def _url_hits(atom: Atom, line: str) -> Iterator[tuple[int, int]]:
    """URL: "host+path(+query) occurs (host part case-insensitive, path case-sensitive),
    with or without a scheme in front, the character before is not in H and not
    ``.``"; a default port written out in the line (any scheme's, since another
    scheme counts) is accepted when the indicator names no port."""
    _, host, port, rest = _url_parts(atom.value)
    hostport = host + (f":{port}" if port else "")
    defaults = sorted(set(DEFAULT_PORTS.values())) if not port else []
    has_query = "?" in rest
    for s in _find_all(_fold(line), hostport):
        b = _at(line, s - 1)
        if b in H or b == ".":
            continue
        after_host = [s + len(hostport)]
        after_host += [after_host[0] + 1 + len(d) for d in defaults if line.startswith(f":{d}", after_host[0])]
        for p in after_host:
            e = p + len(rest)
            if line.startswith(rest, p) and _url_end_ok(line, e, has_query):
                yield s, e


def _registry_regex(key: str, aliases: bool, escaped: bool) -> re.Pattern[str]:
    """A key under a hive also matches under the hive's other spelling; with
    ``aliases``, an HKCU key also as ``HKU\\<SID>\\...`` / ``HKEY_USERS\\<SID>\\...``.
    ``escaped``: the key as JSON writes it, every backslash doubled."""
    sep = "\\" * (2 if escaped else 1)
    hive, found_sep, rest = key.partition("\\")
    names = next((pair for pair in HIVES if hive.upper() in pair), None)
    if not found_sep or names is None:
        return re.compile(re.escape(key.replace("\\", sep)), re.IGNORECASE)
    alternatives = [re.escape(n + sep) for n in names]
    if aliases and names[0] == "HKCU":
        alternatives.append(r"(?:HKU|HKEY_USERS)" + re.escape(sep) + r"S-\d+(?:-\d+)+" + re.escape(sep))
    return re.compile("(?:" + "|".join(alternatives) + ")" + re.escape(rest.replace("\\", sep)), re.IGNORECASE)


def _registry_hits(atom: Atom, line: str, aliases: bool) -> Iterator[tuple[int, int]]:
    for escaped in (False, True):
        rx = _registry_regex(atom.value, aliases, escaped)
        found = rx.search(line)
        while found:
            if _literal_ok(line, found.start(), found.end()):
                yield found.start(), found.end()
            found = rx.search(line, found.start() + 1)


def _literal_hits(atom: Atom, line: str, subdomains: bool, aliases: bool) -> Iterator[tuple[int, int]]:
    """Domains, e-mail, hashes, file names and other literal strings."""
    kind = atom.kind
    if kind == "windows-registry-key":
        yield from _registry_hits(atom, line, aliases)
        return
    value = canonical(atom)
    hay, needles = (line, [value]) if kind == "mutex" else (_fold(line), [_fold(value)])
    if kind == "domain-name" and "xn--" in value:
        # A domain is stored as its A-label and also found as its U-label.
        needles.append(_fold(idna.decode(value)))
    for needle, s in ((n, s) for n in needles for s in _find_all(hay, n)):
        e = s + len(needle)
        if kind == "domain-name":
            ok = _domain_before_ok(line, s, subdomains) and _name_after_ok(line, e)
        elif kind == "email-addr":
            ok = _email_before_ok(line, s) and _name_after_ok(line, e)
        elif kind == "file-name":
            ok = _file_before_ok(line, s) and _name_after_ok(line, e)
        elif kind in HASH_LENGTHS:
            # "neither neighbour is a hex digit"
            ok = _at(line, s - 1) not in HEX and _at(line, e) not in HEX
        else:
            ok = _literal_ok(line, s, e)
        if ok:
            yield s, e


_QUAD = re.compile(r"(?<![0-9])(?<![0-9]\.)[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])(?!\.[0-9])")
_V6_RUN = re.compile(r"[0-9A-Fa-f:.]+")


def _ipv4_in_line(line: str) -> Iterator[tuple[int, int, ipaddress.IPv4Address]]:
    """IPv4: "a dotted quad of 1-3 digit decimal octets, each at most 255, not preceded
    by a digit or by ``digit.``, not followed by a digit or by ``.digit``"."""
    for m in _QUAD.finditer(line):
        octets = [int(o) for o in m.group().split(".")]
        if all(o <= 255 for o in octets):
            yield m.start(), m.end(), ipaddress.IPv4Address(".".join(map(str, octets)))


def _ipv6_in_line(line: str) -> Iterator[tuple[int, int, ipaddress.IPv6Address]]:
    """IPv6: "a run of hex digits, ``:`` and ``.`` holding at least two ``:``, that
    parses as an IPv6 address (zone ``%eth0`` ignored, ``[...]`` and port
    allowed), not preceded or followed by a hex digit or ``:``"."""
    for m in _V6_RUN.finditer(line):
        start, end = m.start(), m.end()
        while start < end and line[start] == ".":
            start += 1
        while end > start and line[end - 1] == ".":
            end -= 1
        run = line[start:end]
        if run.count(":") < 2:
            continue
        try:
            yield start, end, ipaddress.IPv6Address(run)
        except ValueError:
            continue


def _ip_hits(atoms: Sequence[Atom], line: str) -> set[Hit]:
    """An address "hits every indicator whose network contains it"; an
    IPv4-mapped IPv6 address "counts as its IPv4 address" (in hex, the whole
    address is the occurrence; with a dotted quad, the quad is)."""
    nets = [(match_kind(a), canonical(a), ipaddress.ip_network(canonical(a))) for a in atoms]
    found: list[tuple[int, int, ipaddress.IPv4Address | ipaddress.IPv6Address]] = []
    found.extend(_ipv4_in_line(line))
    for s, e, addr6 in _ipv6_in_line(line):
        found.append((s, e, addr6))
        # Written with a dotted quad, the quad itself is the IPv4 occurrence.
        if addr6.ipv4_mapped is not None and "." not in line[s:e]:
            found.append((s, e, addr6.ipv4_mapped))
    hits: set[Hit] = set()
    for s, e, addr in found:
        for kind, value, net in nets:
            if addr.version == net.version and addr in net:
                hits.add(Hit(s, e, kind, value))
    return hits


# -- public entry points -------------------------------------------------------


def oracle_hits(
    atoms: Iterable[Atom], line: str | bytes, subdomains: bool = True, registry_aliases: bool = False
) -> set[Hit]:
    """Every true hit of any of ``atoms`` in ``line``."""
    text = as_text(line)
    hits: set[Hit] = set()
    ip_atoms: list[Atom] = []
    for atom in atoms:
        if atom.kind in ("ipv4-addr", "ipv6-addr"):
            if atom.op != "=":
                raise ValueError(f"unsupported atom {atom!r}")
            ip_atoms.append(atom)
            continue
        if atom.kind in LITERALS and (atom.op == "=" or atom.kind in LITERAL_PREFIX_KINDS):
            spans = literal_hits(atom.kind, canonical(atom) if atom.op == "=" else atom.value[:-1], text, atom.op)
        elif atom.op == "LIKE":
            spans = _like_hits(atom, text)
        elif atom.kind == "url":
            spans = _url_hits(atom, text)
        else:
            spans = _literal_hits(atom, text, subdomains, registry_aliases)
        value = canonical(atom)
        hits.update(Hit(s, e, atom.kind, value) for s, e in spans)
    return hits | _ip_hits(ip_atoms, text)


def oracle_pattern_hits(dnf: Sequence[Sequence[Atom]], line: str | bytes, subdomains: bool = True) -> set[Hit]:
    """A pattern as OR of ANDs: "``AND``: every part on the same line".  The hits
    of every satisfied conjunction are reported."""
    hits: set[Hit] = set()
    for conjunction in dnf:
        parts = [oracle_hits([atom], line, subdomains) for atom in conjunction]
        if parts and all(parts):
            for part in parts:
                hits |= part
    return hits
