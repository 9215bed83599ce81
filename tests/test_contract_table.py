"""The matching contract (SEMANTICS.md) as tables.

Every row of the hit tables runs twice: against ``iocmatch`` and against the
naive reference matcher in ``oracle.py``; both must give exactly the answer
written in the row.  Rows name the expected hits by their text in the line
(``nth`` picks a later occurrence) and the indicator's canonical value.
"""

from __future__ import annotations

import io
import ipaddress
import itertools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import pytest

import iocmatch
from tests.conftest import ENGINES
from tests.oracle import Atom, Hit, as_text, canonical, match_kind, oracle_hits, oracle_pattern_hits

# -- STIX objects ----------------------------------------------------------------

T0 = "2020-01-01T00:00:00.000Z"

PATHS = {
    "domain-name": "domain-name:value",
    "url": "url:value",
    "ipv4-addr": "ipv4-addr:value",
    "ipv6-addr": "ipv6-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "sha512": "file:hashes.'SHA-512'",
    "email-addr": "email-addr:value",
    "file-name": "file:name",
    "mutex": "mutex:name",
    "windows-registry-key": "windows-registry-key:key",
    "process-name": "process:name",
    "command-line": "process:command_line",
    "email-subject": "email-message:subject",
    "user-account": "user-account:account_login",
    "software-name": "software:name",
    "x509-serial": "x509-certificate:serial_number",
    "x509-name": "x509-certificate:subject",
    "user-agent": "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
    "http-header": "network-traffic:extensions.'http-request-ext'.request_header.'X-Session'",
    "http-request": "network-traffic:extensions.'http-request-ext'.request_value",
}


def new_id(stix_type: str) -> str:
    return f"{stix_type}--{uuid.uuid4()}"


def indicator(pattern: str, *, id_: str | None = None, **fields: Any) -> dict[str, Any]:
    """A STIX 2.1 indicator dict; ``fields`` override or add properties."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": id_ or new_id("indicator"),
        "created": T0,
        "modified": T0,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": T0,
    }
    obj.update(fields)
    return obj


def sdo(stix_type: str, name: str) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": new_id(stix_type),
        "created": T0,
        "modified": T0,
        "name": name,
    }
    if stix_type == "malware":
        obj["is_family"] = True
    return obj


def relationship(relationship_type: str, source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": new_id("relationship"),
        "created": T0,
        "modified": T0,
        "relationship_type": relationship_type,
        "source_ref": source["id"],
        "target_ref": target["id"],
    }


def stix_string(value: str) -> str:
    """A STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def stix_pattern(atom: Atom) -> str:
    return f"[{PATHS[atom.kind]} {atom.op} {stix_string(atom.value)}]"


def load(*sources: Any, **kwargs: Any) -> iocmatch.IndicatorSet:
    """``iocmatch.load`` plus the invariant every load report keeps. The
    matching rules are tried on every range, ``::/0`` included: over-broad
    values are allowed here (test_breadth.py checks they are not by default)."""
    iset = iocmatch.load(*sources, **{"allow_broad": True, **kwargs})
    r = iset.report
    assert r.read == r.compiled + r.skipped + r.excluded, r
    return iset


def counts(iset: iocmatch.IndicatorSet) -> tuple[int, int, int, int]:
    r = iset.report
    return r.read, r.compiled, r.skipped, r.excluded


# -- table rows ------------------------------------------------------------------


@dataclass(frozen=True)
class Want:
    """An expected hit: its text in the line (``nth`` occurrence) and value."""

    text: str
    value: str
    nth: int = 0
    kind: str | None = None


def hit(text: str, value: str | None = None, *, nth: int = 0, kind: str | None = None) -> Want:
    return Want(text, text if value is None else value, nth, kind)


@dataclass(frozen=True)
class Case:
    atoms: tuple[Atom, ...]
    line: str | bytes
    want: tuple[Want, ...]
    subdomains: bool = True
    registry_aliases: bool = False


def A(kind: str, *values: str, op: str = "=") -> tuple[Atom, ...]:
    return tuple(Atom(kind, v, op) for v in values)


def C(
    name: str,
    atoms: tuple[Atom, ...],
    line: str | bytes,
    *want: Want,
    subdomains: bool = True,
    registry_aliases: bool = False,
) -> Any:
    return pytest.param(Case(atoms, line, want, subdomains, registry_aliases), id=name)


def find_nth(line: str, text: str, nth: int) -> int:
    start = -1
    for _ in range(nth + 1):
        start = line.find(text, start + 1)
        assert start >= 0, f"table error: {text!r} #{nth} not in {line!r}"
    return start


def expected(atoms: Sequence[Atom], line: str | bytes, want: Sequence[Want]) -> set[Hit]:
    text = as_text(line)
    out: set[Hit] = set()
    for w in want:
        start = find_nth(text, w.text, w.nth)
        kinds = {match_kind(a) for a in atoms if canonical(a) == w.value}
        kind = w.kind or kinds.pop()
        assert w.kind or not kinds, f"table error: say which kind {w.value!r} is"
        out.add(Hit(start, start + len(w.text), kind, w.value))
    return out


def prefixlen(value: str) -> int:
    return ipaddress.ip_network(value).prefixlen


def check_matches(
    matches: Sequence[iocmatch.Match], line: str | bytes, want: set[Hit], owners: dict[tuple[str, str], set[str]]
) -> None:
    """The library's matches for one line equal ``want``, and each is well formed."""
    text = as_text(line)
    got = [Hit(m.start, m.end, m.kind, m.value) for m in matches]
    assert set(got) == want
    assert len(got) == len(set(got)), "one Match per (span, indicator value)"
    assert [(h.start, h.end) for h in got] == sorted((h.start, h.end) for h in got), "sorted by start, then end"
    for a, b in itertools.pairwise(got):
        if (a.start, a.end) == (b.start, b.end) and a.kind == b.kind and a.kind.startswith("ipv"):
            assert prefixlen(a.value) >= prefixlen(b.value), "most specific network first"
    for m in matches:
        assert m.line == 1
        assert m.text == text[m.start : m.end]
        assert set(m.indicators) == owners[(m.kind, m.value)]
        assert len(m.indicators) == len(set(m.indicators))


# -- values ----------------------------------------------------------------------

MD5 = "900150983cd24fb0d6963f7d28e17f72"
MD5_B = "0cc175b9c0f1b6a831c399e269772661"
SHA1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
SHA512 = (
    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
)

DOM = A("domain-name", "evil.com")
LIKE_SUB = A("domain-name", "%.evil.com", op="LIKE")
LIKE_PREFIX = A("domain-name", "evil%", op="LIKE")
URL = A("url", "http://Evil.com/Path/x.php")
URL_V = "http://evil.com/Path/x.php"
URL_Q = A("url", "http://evil.com/gate.php?id=7")
URL_ROOT = A("url", "http://evil.com/")
URL_EMPTY = A("url", "http://evil.com")
V4 = A("ipv4-addr", "1.2.3.4")
V4_NET = A("ipv4-addr", "1.2.3.0/24")
V4_NESTED = A("ipv4-addr", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.3")
V6 = A("ipv6-addr", "2001:db8::1")
V6_NET = A("ipv6-addr", "2001:db8::/32")
V6_MAPPED = A("ipv6-addr", "::ffff:1.2.3.4")
MAIL = A("email-addr", "bob@evil.com")
FILE = A("file-name", "evil.exe")
MUTEX = A("mutex", "Global\\Evil_Mtx01")
GUID = "{8F6F0AC4-B9A1-45FD-A8CF-72F04E6BDE8F}"
REG = A("windows-registry-key", "HKEY_LOCAL_MACHINE\\Software\\Evil")
REG_V = "HKEY_LOCAL_MACHINE\\Software\\Evil"
RUN = "Software\\Microsoft\\Windows\\CurrentVersion\\Run\\Updater"
REG_CU = A("windows-registry-key", "HKCU\\" + RUN)
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"

DOMAIN_CASES = [
    C("domain alone", DOM, "evil.com", hit("evil.com")),
    C("domain in text", DOM, "query evil.com from 10.0.0.1", hit("evil.com")),
    C("domain subdomain", DOM, "a.evil.com", hit("evil.com")),
    C("domain deep subdomain", DOM, "x.y.evil.com", hit("evil.com")),
    C("domain xevil.com", DOM, "xevil.com"),
    C("domain hyphen before", DOM, "my-evil.com"),
    C("domain underscore before", DOM, "_evil.com"),
    C("domain digit before", DOM, "1evil.com"),
    C("domain evil.com.au", DOM, "evil.com.au"),
    C("domain trailing FQDN dot", DOM, "evil.com.", hit("evil.com")),
    C("domain trailing dot in text", DOM, "resolve evil.com. A", hit("evil.com")),
    C("domain longer label", DOM, "evil.community"),
    C("domain hyphen after", DOM, "evil.com-cdn.net"),
    C("domain underscore after", DOM, "evil.com_x"),
    C("domain port after", DOM, "evil.com:443", hit("evil.com")),
    C("domain inside URL", DOM, "GET https://evil.com/x HTTP/1.1", hit("evil.com")),
    C("domain subdomain inside URL", DOM, "https://cdn.evil.com/x?y", hit("evil.com")),
    C("domain inside e-mail", DOM, "from bob@evil.com", hit("evil.com")),
    C("domain upper-case line", DOM, "EVIL.COM", hit("EVIL.COM", "evil.com")),
    C("domain upper-case indicator with dot", A("domain-name", "EVIL.Com."), "evil.com", hit("evil.com")),
    C("domain twice", DOM, "evil.com,evil.com", hit("evil.com"), hit("evil.com", nth=1)),
    C("domain glued twice", DOM, "evil.comevil.com"),
    C("domain quoted", DOM, '"evil.com"', hit("evil.com")),
    C("domain IDNA A-label", A("domain-name", "bücher.example"), "xn--bcher-kva.example", hit("xn--bcher-kva.example")),
    C(
        "domain IDNA U-label",
        A("domain-name", "xn--bcher-kva.example"),
        "BÜCHER.example",
        hit("BÜCHER.example", "xn--bcher-kva.example"),
    ),
    C("domain IDNA 2008 sharp s", A("domain-name", "ß.de"), "xn--zca.de", hit("xn--zca.de")),
    C("domain IDNA 2008 sharp s is not ss", A("domain-name", "ß.de"), "ss.de"),
    C("domain IDNA U-label, letter before", A("domain-name", "bücher.example"), "xbücher.example"),
    C(
        "domain xa.evil.com behind a.evil.com",
        A("domain-name", "a.evil.com", "evil.com"),
        "xa.evil.com",
        hit("evil.com"),
    ),
    C(
        "domain nested needles",
        A("domain-name", "a.evil.com", "evil.com"),
        "a.evil.com",
        hit("a.evil.com"),
        hit("evil.com"),
    ),
    C("domain two indicators one value", A("domain-name", "evil.com", "EVIL.COM"), "evil.com", hit("evil.com")),
    C("domain subdomains off exact", DOM, "evil.com", hit("evil.com"), subdomains=False),
    C("domain subdomains off subdomain", DOM, "a.evil.com", subdomains=False),
    C("domain subdomains off URL", DOM, "https://www.evil.com/", subdomains=False),
    C("domain subdomains off e-mail", DOM, "bob@evil.com", hit("evil.com"), subdomains=False),
    C("domain subdomains off FQDN dot", DOM, "evil.com.", hit("evil.com"), subdomains=False),
    C("bytes line with invalid UTF-8", DOM, b"\xff\xfeevil.com", hit("evil.com")),
    C("bytes line spans in characters", DOM, "é → evil.com".encode(), hit("evil.com")),
    C("empty line", DOM, ""),
    C("control characters", DOM, "\x00evil.com\x00", hit("evil.com")),
    C("lone surrogate", DOM, "\udcffevil.com", hit("evil.com")),
    C("bytes line, invalid byte inside the value", DOM, b"evil.c\xffom"),
    C("case folding that changes length before", DOM, "\u0130\u0130 EVIL.com", hit("EVIL.com", "evil.com")),
    C("line ending kept", DOM, "evil.com\r\n", hit("evil.com")),
]

LIKE_CASES = [
    C("LIKE %. subdomain", LIKE_SUB, "a.evil.com", hit("evil.com", "%.evil.com")),
    C("LIKE %. deep, upper case", LIKE_SUB, "a.b.EVIL.com", hit("EVIL.com", "%.evil.com")),
    C("LIKE %. not the domain itself", LIKE_SUB, "evil.com"),
    C("LIKE %. xevil.com", LIKE_SUB, "xevil.com"),
    C("LIKE %. evil.com.au", LIKE_SUB, "a.evil.com.au"),
    C("LIKE %. with subdomains off", LIKE_SUB, "a.evil.com", hit("evil.com", "%.evil.com"), subdomains=False),
    C(
        "LIKE %. value lower-cased",
        A("domain-name", "%.EVIL.Com", op="LIKE"),
        "a.evil.com",
        hit("evil.com", "%.evil.com"),
    ),
    C("LIKE prefix", LIKE_PREFIX, "evilcorp.com", hit("evil", "evil%")),
    C("LIKE prefix upper case", LIKE_PREFIX, "EVIL-c2.net", hit("EVIL", "evil%")),
    C("LIKE prefix alone", LIKE_PREFIX, "dns evil", hit("evil", "evil%")),
    C("LIKE prefix notevil", LIKE_PREFIX, "notevil.com"),
    C("LIKE prefix after a dot", LIKE_PREFIX, "www.evilcorp.com"),
    C("LIKE prefix underscore before", LIKE_PREFIX, "_evil.com"),
]

URL_END_CHARS = [" ", "\t", '"', "'", "<", ">", "|", ",", ";", ")", "]", "#", "?", "&"]
URL_NOT_END_CHARS = ["/", ".", ":", "-", "_", "a", "(", "[", "%"]

URL_CASES = [
    C("url with scheme", URL, "GET http://evil.com/Path/x.php HTTP/1.1", hit("evil.com/Path/x.php", URL_V)),
    C("url other scheme, host case", URL, "https://EVIL.COM/Path/x.php", hit("EVIL.COM/Path/x.php", URL_V)),
    C("url ftp scheme", URL, "ftp://evil.com/Path/x.php", hit("evil.com/Path/x.php", URL_V)),
    C("url without scheme", URL, "evil.com/Path/x.php", hit("evil.com/Path/x.php", URL_V)),
    C("url path case differs", URL, "evil.com/path/x.php"),
    C("url path upper case", URL, "evil.com/PATH/X.PHP"),
    C("url query after", URL, "evil.com/Path/x.php?id=1", hit("evil.com/Path/x.php", URL_V)),
    C("url & after", URL, "evil.com/Path/x.php&id=1", hit("evil.com/Path/x.php", URL_V)),
    C("url fragment after", URL, "evil.com/Path/x.php#top", hit("evil.com/Path/x.php", URL_V)),
    C("url longer path", URL, "evil.com/Path/x.phpx"),
    C("url deeper path", URL, "evil.com/Path/x.php/y"),
    C("url .bak", URL, "evil.com/Path/x.php.bak"),
    C("url subdomain", URL, "http://a.evil.com/Path/x.php"),
    C("url xevil.com", URL, "http://xevil.com/Path/x.php"),
    C("url hyphen host", URL, "http://my-evil.com/Path/x.php"),
    C("url explicit default port", URL, "http://evil.com:80/Path/x.php", hit("evil.com:80/Path/x.php", URL_V)),
    C("url other port", URL, "http://evil.com:8080/Path/x.php"),
    *[
        C(f"url ends with {ch!r}", URL, f"evil.com/Path/x.php{ch}1", hit("evil.com/Path/x.php", URL_V))
        for ch in URL_END_CHARS
    ],
    *[C(f"url does not end with {ch!r}", URL, f"evil.com/Path/x.php{ch}1") for ch in URL_NOT_END_CHARS],
    *[
        C(f"url after {ch!r}", URL, f"{ch}evil.com/Path/x.php", hit("evil.com/Path/x.php", URL_V))
        for ch in ['"', "(", "=", "[", "'", "/", " "]
    ],
    C(
        "url query exact",
        URL_Q,
        "evil.com/gate.php?id=7",
        hit("evil.com/gate.php?id=7", "http://evil.com/gate.php?id=7"),
    ),
    C(
        "url query then fragment",
        URL_Q,
        "evil.com/gate.php?id=7#x",
        hit("evil.com/gate.php?id=7", "http://evil.com/gate.php?id=7"),
    ),
    C("url query then &", URL_Q, "evil.com/gate.php?id=7&x=1"),
    C("url query then ?", URL_Q, "evil.com/gate.php?id=7?x"),
    C("url query longer value", URL_Q, "evil.com/gate.php?id=70"),
    C("url query case", URL_Q, "evil.com/gate.php?ID=7"),
    C("url query missing", URL_Q, "evil.com/gate.php"),
    C("url root with slash", URL_ROOT, "http://evil.com/", hit("evil.com/", "http://evil.com/")),
    # The path "/" must stand in the line; an empty path is the host alone.
    C("url root without slash", URL_ROOT, "http://evil.com"),
    C("url root, slash then space", URL_ROOT, "GET http://evil.com/ 200", hit("evil.com/", "http://evil.com/")),
    C("url root, slash then query", URL_ROOT, "http://evil.com/?q=1", hit("evil.com/", "http://evil.com/")),
    C("url root, no slash then query", URL_ROOT, "http://evil.com?q=1"),
    C("url empty path, host alone", URL_EMPTY, "CONNECT evil.com:443 HTTP/1.1", hit("evil.com:443", "http://evil.com")),
    C("url empty path, then a dot (not a URL end)", URL_EMPTY, "resolved evil.com."),
    C("url empty path vs root path", URL_EMPTY, "http://evil.com/"),
    C(
        "url another scheme, its default port",
        URL,
        "https://evil.com:443/Path/x.php",
        hit("evil.com:443/Path/x.php", URL_V),
    ),
    C("url root vs a path", URL_ROOT, "http://evil.com/x"),
    C("url root vs double slash", URL_ROOT, "http://evil.com//"),
    C("url root explicit port", URL_ROOT, "http://evil.com:80/", hit("evil.com:80/", "http://evil.com/")),
    C("url root evil.com.au", URL_ROOT, "http://evil.com.au/"),
    C("url indicator without scheme", A("url", "evil.com/x"), "https://evil.com/x", hit("evil.com/x", "evil.com/x")),
    C(
        "url indicator with port",
        A("url", "http://evil.com:8080/x"),
        "evil.com:8080/x",
        hit("evil.com:8080/x", "http://evil.com:8080/x"),
    ),
    C("url indicator with port, line without", A("url", "http://evil.com:8080/x"), "evil.com/x"),
    C(
        "url indicator https default port",
        A("url", "HTTPS://EVIL.COM:443/x"),
        "https://evil.com/x",
        hit("evil.com/x", "https://evil.com/x"),
    ),
    C(
        "url line https default port",
        A("url", "https://evil.com/x"),
        "https://evil.com:443/x",
        hit("evil.com:443/x", "https://evil.com/x"),
    ),
    C(
        "url indicator fragment dropped",
        A("url", "http://evil.com/x#frag"),
        "evil.com/x#other",
        hit("evil.com/x", "http://evil.com/x"),
    ),
    C("url CRLF after", URL, "GET http://evil.com/Path/x.php\r\n", hit("evil.com/Path/x.php", URL_V)),
    C(
        "url case folding that changes length before",
        URL,
        "\u0130 http://EVIL.com/Path/x.php",
        hit("EVIL.com/Path/x.php", URL_V),
    ),
    C(
        "url and domain in one line",
        DOM + A("url", "http://evil.com/a"),
        "http://evil.com/a",
        hit("evil.com", "evil.com"),
        hit("evil.com/a", "http://evil.com/a"),
    ),
]

HASH_CASES = [
    C("md5 exact", A("md5", MD5), f"md5 {MD5}", hit(MD5)),
    C("md5 upper-case line", A("md5", MD5), MD5.upper(), hit(MD5.upper(), MD5)),
    C("md5 upper-case indicator", A("md5", MD5.upper()), MD5, hit(MD5)),
    C("md5 after 0x", A("md5", MD5), f"0x{MD5}", hit(MD5)),
    C("md5 before underscore", A("md5", MD5), f"{MD5}_x", hit(MD5)),
    C("md5 hex before", A("md5", MD5), f"a{MD5}"),
    C("md5 hex after", A("md5", MD5), f"{MD5}F"),
    C("md5 start of a 64-digit run", A("md5", MD5), MD5 + "0" * 32),
    C("md5 middle of a 64-digit run", A("md5", MD5), "ab" * 8 + MD5 + "cd" * 8),
    C(
        "md5 and sha256 as key=value",
        A("md5", MD5) + A("sha256", SHA256),
        f"MD5={MD5.upper()},SHA256={SHA256.upper()}",
        hit(MD5.upper(), MD5),
        hit(SHA256.upper(), SHA256),
    ),
    C("md5 and sha1 in one line", A("md5", MD5) + A("sha1", SHA1), f"{MD5} {SHA1}", hit(MD5), hit(SHA1)),
    C("sha1 exact", A("sha1", SHA1), f"sha1={SHA1}", hit(SHA1)),
    C("sha1 inside a 64-digit run", A("sha1", SHA1), SHA1 + "0" * 24),
    C("sha1 upper case", A("sha1", SHA1), SHA1.upper(), hit(SHA1.upper(), SHA1)),
    C("sha256 exact", A("sha256", SHA256), f'"{SHA256}"', hit(SHA256)),
    C("sha256 inside a 128-digit run", A("sha256", SHA256), SHA256 + SHA256),
    C("sha256 hex after", A("sha256", SHA256), SHA256 + "a"),
    C("sha512 exact", A("sha512", SHA512), f"SHA512:{SHA512}", hit(SHA512)),
    C("sha512 upper case", A("sha512", SHA512), SHA512.upper(), hit(SHA512.upper(), SHA512)),
    C("sha512 hex before", A("sha512", SHA512), "0" + SHA512),
    C("md5 in a URL path", A("md5", MD5), f"GET /download/{MD5}.exe", hit(MD5)),
    C("md5 indicator, sha1 line starting with it", A("md5", SHA1[:32]), SHA1),
]

IPV4_CASES = [
    C("ipv4 alone", V4, "1.2.3.4", hit("1.2.3.4")),
    C("ipv4 with port", V4, "src=1.2.3.4:8080", hit("1.2.3.4")),
    C("ipv4 in brackets", V4, "[1.2.3.4]", hit("1.2.3.4")),
    C("ipv4 ip=", V4, "ip=1.2.3.4,", hit("1.2.3.4")),
    C("ipv4 in parentheses", V4, "(1.2.3.4)", hit("1.2.3.4")),
    C("ipv4 sentence end", V4, "from 1.2.3.4.", hit("1.2.3.4")),
    C("ipv4 1.2.3.4.5", V4, "1.2.3.4.5"),
    C("ipv4 0.1.2.3.4", V4, "0.1.2.3.4"),
    C("ipv4 digit before", V4, "11.2.3.4"),
    C("ipv4 digit after", V4, "1.2.3.45"),
    C("ipv4 version string", V4, "version 1.2.3.4.5.6 built"),
    C("ipv4 two addresses", V4 + A("ipv4-addr", "5.6.7.8"), "1.2.3.4->5.6.7.8", hit("1.2.3.4"), hit("5.6.7.8")),
    C("ipv4 /32 indicator", A("ipv4-addr", "1.2.3.4/32"), "1.2.3.4", hit("1.2.3.4")),
    C("ipv4 CIDR top", V4_NET, "1.2.3.255", hit("1.2.3.255", "1.2.3.0/24")),
    C("ipv4 CIDR network address", V4_NET, "1.2.3.0", hit("1.2.3.0", "1.2.3.0/24")),
    C("ipv4 octet 256", V4_NET, "1.2.3.256"),
    C("ipv4 octet 999", V4_NET, "1.2.3.999"),
    C("ipv4 outside CIDR", V4_NET, "1.2.4.1"),
    C(
        "ipv4 three nested ranges",
        V4_NESTED,
        "10.1.2.3",
        hit("10.1.2.3"),
        hit("10.1.2.3", "10.1.0.0/16"),
        hit("10.1.2.3", "10.0.0.0/8"),
    ),
    C(
        "ipv4 two nested ranges",
        V4_NESTED,
        "dst 10.1.9.9:53",
        hit("10.1.9.9", "10.1.0.0/16"),
        hit("10.1.9.9", "10.0.0.0/8"),
    ),
    C("ipv4 one range", V4_NESTED, "10.200.0.1", hit("10.200.0.1", "10.0.0.0/8")),
    C("ipv4 no range", V4_NESTED, "11.1.2.3"),
    C("ipv4-mapped IPv6, dotted", V4, "::ffff:1.2.3.4", hit("1.2.3.4")),
    C("ipv4-mapped IPv6, hex", V4, "[::FFFF:0102:0304]:80", hit("::FFFF:0102:0304", "1.2.3.4")),
    C("ipv4-mapped IPv6, other address", V4, "::ffff:0102:0305"),
    C("ipv4 Arabic-Indic digits", V4, "\u0661.\u0662.\u0663.\u0664"),
    C("ipv4 bytes line, invalid byte after", V4, b"1.2.3.4\xff", hit("1.2.3.4")),
    C("ipv4 inside a NAT64 address", V4, "64:ff9b::1.2.3.4", hit("1.2.3.4")),
]

IPV6_CASES = [
    C("ipv6 compressed", V6, "2001:db8::1", hit("2001:db8::1")),
    C("ipv6 upper case", V6, "2001:DB8::1", hit("2001:DB8::1", "2001:db8::1")),
    C(
        "ipv6 expanded",
        V6,
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        hit("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ),
    C("ipv6 zeros unpadded", V6, "2001:db8:0:0:0:0:0:1", hit("2001:db8:0:0:0:0:0:1", "2001:db8::1")),
    C("ipv6 brackets and port", V6, "[2001:db8::1]:443", hit("2001:db8::1")),
    C("ipv6 zone", V6, "2001:db8::1%eth0", hit("2001:db8::1")),
    C("ipv6 in text", V6, "src=2001:db8::1, ok", hit("2001:db8::1")),
    C("ipv6 longer last group", V6, "2001:db8::10"),
    C("ipv6 one more group", V6, "2001:db8::1:5"),
    C("ipv6 hex before", V6, "a2001:db8::1"),
    C("ipv6 hex after", V6, "2001:db8::1a"),
    C("ipv6 colon before", V6, ":2001:db8::1"),
    C(
        "ipv6 expanded indicator",
        A("ipv6-addr", "2001:0DB8:0000:0000:0000:0000:0000:0001"),
        "2001:db8::1",
        hit("2001:db8::1"),
    ),
    C("ipv6 link-local zone", A("ipv6-addr", "fe80::1"), "fe80::1%eth0", hit("fe80::1")),
    C("ipv6 CIDR", V6_NET, "2001:db8:ffff::5", hit("2001:db8:ffff::5", "2001:db8::/32")),
    C(
        "ipv6 CIDR expanded line",
        V6_NET,
        "2001:0DB8:0001:0000:0000:0000:0000:0005",
        hit("2001:0DB8:0001:0000:0000:0000:0000:0005", "2001:db8::/32"),
    ),
    C("ipv6 outside CIDR", V6_NET, "2001:db9::1"),
    C("ipv6 nested ranges", V6_NET + V6, "2001:db8::1", hit("2001:db8::1"), hit("2001:db8::1", "2001:db8::/32")),
    C("ipv6 mapped indicator, hex line", V6_MAPPED, "src=::ffff:102:304", hit("::ffff:102:304", "1.2.3.4")),
    C("ipv6 mapped indicator, dotted line", V6_MAPPED, "[::FFFF:1.2.3.4]:443", hit("1.2.3.4")),
    C("ipv6 mapped indicator, IPv4 line", V6_MAPPED, "1.2.3.4", hit("1.2.3.4")),
    C("ipv6 mapped indicator vs IPv4-compatible address", V6_MAPPED, "::102:304"),
    C("ipv6 mapped range vs unspecified and loopback", A("ipv6-addr", "::ffff:0:0/96"), ":: ::1 ::2"),
    C("ipv6 mapped range is all of IPv4", A("ipv6-addr", "::ffff:0:0/96"), "10.0.0.1", hit("10.0.0.1", "0.0.0.0/0")),
    C("ipv6 clock time", A("ipv6-addr", "::/0"), "at 12:34:56"),
    C("ipv6 MAC address", A("ipv6-addr", "::/0"), "00:11:22:33:44:55"),
    C("ipv6 sentence end", V6, "from 2001:db8::1.", hit("2001:db8::1")),
]

EMAIL_CASES = [
    C("email in text", MAIL, "from bob@evil.com", hit("bob@evil.com")),
    C("email angle brackets, case", MAIL, "<BOB@Evil.COM>", hit("BOB@Evil.COM", "bob@evil.com")),
    C("email mailto", MAIL, "mailto:bob@evil.com", hit("bob@evil.com")),
    C("email after =", MAIL, "to=bob@evil.com;", hit("bob@evil.com")),
    C("email FQDN dot", MAIL, "bob@evil.com.", hit("bob@evil.com")),
    C("email dot before", MAIL, "x.bob@evil.com"),
    C("email plus before", MAIL, "alice+bob@evil.com"),
    C("email percent before", MAIL, "100%bob@evil.com"),
    C("email letter before", MAIL, "jbob@evil.com"),
    C("email underscore before", MAIL, "_bob@evil.com"),
    C("email hyphen before", MAIL, "-bob@evil.com"),
    C("email evil.com.au", MAIL, "bob@evil.com.au"),
    C("email letter after", MAIL, "bob@evil.comx"),
    C("email hyphen after", MAIL, "bob@evil.com-x"),
    C("email upper-case indicator", A("email-addr", "Bob@Evil.COM"), "bob@evil.com", hit("bob@evil.com")),
    C("email and its domain", MAIL + DOM, "bob@evil.com", hit("bob@evil.com"), hit("evil.com")),
]

FILE_CASES = [
    C("file windows path", FILE, "C:\\Windows\\Temp\\evil.exe", hit("evil.exe")),
    C("file unix path", FILE, "/tmp/evil.exe", hit("evil.exe")),
    C("file upper case", FILE, "EVIL.EXE", hit("EVIL.EXE", "evil.exe")),
    C("file alternate stream", FILE, "evil.exe:Zone.Identifier", hit("evil.exe")),
    C("file quoted", FILE, 'Image="evil.exe"', hit("evil.exe")),
    C("file sentence end", FILE, "ran evil.exe.", hit("evil.exe")),
    C("file notevil.exe", FILE, "notevil.exe"),
    C("file dot before", FILE, "x.evil.exe"),
    C("file hyphen before", FILE, "my-evil.exe"),
    C("file .bak", FILE, "evil.exe.bak"),
    C("file hyphen after", FILE, "evil.exe-1"),
    C("file underscore after", FILE, "evil.exe_old"),
    C("file letter after", FILE, "evil.exes"),
    C("file value as given", A("file-name", "Evil.EXE"), "evil.exe", hit("evil.exe", "Evil.EXE")),
    C("file quote in name", A("file-name", "O'Brien.exe"), "C:\\O'Brien.exe", hit("O'Brien.exe")),
    C("file name with a space", A("file-name", "evil file.exe"), "C:\\Temp\\evil file.exe", hit("evil file.exe")),
    C("file case folding that changes length before", FILE, "\u0130\\EVIL.exe", hit("EVIL.exe", "evil.exe")),
]

MUTEX_CASES = [
    C("mutex exact", MUTEX, "Global\\Evil_Mtx01", hit("Global\\Evil_Mtx01")),
    C("mutex in text", MUTEX, "mutex=Global\\Evil_Mtx01,", hit("Global\\Evil_Mtx01")),
    C("mutex hyphen after", MUTEX, "Global\\Evil_Mtx01-x", hit("Global\\Evil_Mtx01")),
    C("mutex lower case", MUTEX, "global\\evil_mtx01"),
    C("mutex upper case", MUTEX, "GLOBAL\\EVIL_MTX01"),
    C("mutex digit after", MUTEX, "Global\\Evil_Mtx012"),
    C("mutex underscore after", MUTEX, "Global\\Evil_Mtx01_b"),
    C("mutex letter before", MUTEX, "XGlobal\\Evil_Mtx01"),
    C("mutex underscore before", MUTEX, "_Global\\Evil_Mtx01"),
    C("mutex GUID, word characters around", A("mutex", GUID), f"x{GUID}y", hit(GUID)),
    C("mutex GUID lower case", A("mutex", GUID), f"x{GUID.lower()}y"),
    C("mutex with regex characters", A("mutex", "Evil.Mtx(1)+"), "m=Evil.Mtx(1)+", hit("Evil.Mtx(1)+")),
    C("mutex regex characters are literal", A("mutex", "Evil.Mtx(1)+"), "EvilxMtx(1)+"),
    C("mutex line ending kept", MUTEX, "Global\\Evil_Mtx01\n", hit("Global\\Evil_Mtx01")),
]

REGISTRY_CASES = [
    C("registry exact", REG, REG_V, hit(REG_V)),
    C("registry lower case", REG, REG_V.lower(), hit(REG_V.lower(), REG_V)),
    C("registry short hive", REG, "HKLM\\SOFTWARE\\Evil", hit("HKLM\\SOFTWARE\\Evil", REG_V)),
    C("registry subkey", REG, "TargetObject: HKLM\\Software\\Evil\\Run", hit("HKLM\\Software\\Evil", REG_V)),
    C("registry longer last key", REG, "HKLM\\Software\\EvilCorp"),
    C("registry underscore after", REG, "HKLM\\Software\\Evil_1"),
    C("registry other hive", REG, "HKCU\\Software\\Evil"),
    C("registry letter before", REG, "XHKLM\\Software\\Evil"),
    C("registry HKLM key under HKU", REG, f"HKU\\{SID}\\Software\\Evil"),
    C("registry HKCU exact", REG_CU, "HKCU\\" + RUN, hit("HKCU\\" + RUN)),
    C(
        "registry HKCU long hive",
        REG_CU,
        "HKEY_CURRENT_USER\\" + RUN.upper(),
        hit("HKEY_CURRENT_USER\\" + RUN.upper(), "HKCU\\" + RUN),
    ),
    # HKU\<SID> is another path to an HKCU key, not another spelling: only on request.
    C("registry HKCU as Sysmon HKU SID, aliases off", REG_CU, f"TargetObject: HKU\\{SID}\\{RUN}"),
    C(
        "registry HKCU as Sysmon HKU SID",
        REG_CU,
        f"TargetObject: HKU\\{SID}\\{RUN}",
        hit(f"HKU\\{SID}\\{RUN}", "HKCU\\" + RUN),
        registry_aliases=True,
    ),
    C(
        "registry HKCU as HKEY_USERS SID",
        REG_CU,
        f"HKEY_USERS\\S-1-5-21-1-2-3-1001\\{RUN}",
        hit(f"HKEY_USERS\\S-1-5-21-1-2-3-1001\\{RUN}", "HKCU\\" + RUN),
        registry_aliases=True,
    ),
    C(
        "registry HKCU JSON-escaped",
        REG_CU,
        '"TargetObject": "HKCU\\\\' + RUN.replace("\\", "\\\\") + '"',
        hit("HKCU\\\\" + RUN.replace("\\", "\\\\"), "HKCU\\" + RUN),
    ),
    C(
        "registry HKCU JSON-escaped under HKU SID",
        REG_CU,
        f'"TargetObject": "HKU\\\\{SID}\\\\' + RUN.replace("\\", "\\\\") + '"',
        hit(f"HKU\\\\{SID}\\\\" + RUN.replace("\\", "\\\\"), "HKCU\\" + RUN),
        registry_aliases=True,
    ),
    C("registry HKCU vs HKLM", REG_CU, "HKLM\\" + RUN),
    C("registry HKCU longer value", REG_CU, "HKCU\\" + RUN + "2"),
    C(
        "registry with regex characters",
        A("windows-registry-key", "HKLM\\Software\\Evil (x86)"),
        "HKLM\\Software\\Evil (x86)\\Run",
        hit("HKLM\\Software\\Evil (x86)"),
    ),
    C(
        "registry case folding that changes length before",
        REG,
        "\u0130 hklm\\software\\evil",
        hit("hklm\\software\\evil", REG_V),
    ),
]

# -- literal properties ------------------------------------------------------------

PROC = A("process-name", "evil.exe")
CMD_V = "powershell.exe -nop -w hidden -enc SQBFAFgA"
CMD = A("command-line", CMD_V)
CMDQ_V = '"C:\\Windows\\System32\\cmd.exe" /c whoami > C:\\Users\\Public\\o.txt'
CMDQ = A("command-line", CMDQ_V)
SUBJ_V = "Invoice 4471 overdue"
SUBJ = A("email-subject", SUBJ_V)
USER = A("user-account", "svc_backup")
SOFT = A("software-name", "Mimikatz")
SERIAL = A("x509-serial", "0a:1b:2c:3d:4e")
SERIAL_HIGH = A("x509-serial", "8BB00EE1")
DN_V = "CN=evil.example,O=Evil Org"
DN = A("x509-name", "CN=evil.example, O=Evil Org")
UA_V = "Mozilla/4.0 (compatible; MSIE 6.0)"
UA = A("user-agent", UA_V)
HEADER = A("http-header", "k9x-7731")
REQ = A("http-request", "/gate.php?id=1")
APACHE = '10.0.0.5 - - [06/Dec/2026:10:00:00 +0000] "GET {path} HTTP/1.1" 200 512 "-" "{ua}"'

LITERAL_CASES = [
    C("process name in a Sysmon image path", PROC, "Image: C:\\Users\\bob\\AppData\\evil.exe", hit("evil.exe")),
    C("process name in JSON, other case", PROC, '{"Image":"C:\\\\Temp\\\\EVIL.EXE"}', hit("EVIL.EXE", "evil.exe")),
    C(
        "process name, longer name",
        PROC,
        "Image: C:\\Temp\\notevil.exe",
    ),
    C("process name, another extension after", PROC, "evil.exe.config loaded"),
    C("command line in Sysmon XML", CMD, f"<Data Name='CommandLine'>{CMD_V}</Data>", hit(CMD_V)),
    C(
        "command line, other case",
        CMD,
        "CommandLine: POWERSHELL.EXE -NOP -W HIDDEN -ENC SQBFAFGA",
        hit(CMD_V.upper(), CMD_V),
    ),
    C("command line continues in a word", CMD, f"CommandLine: {CMD_V}AAAA"),
    C("command line, other argument", CMD, "CommandLine: powershell.exe -nop -w hidden -enc SQBFAFgB"),
    C("quoted command line as written", CMDQ, f"4688 Process Command Line: {CMDQ_V}", hit(CMDQ_V)),
    C(
        "quoted command line in JSON",
        CMDQ,
        '{"CommandLine":"\\"C:\\\\Windows\\\\System32\\\\cmd.exe\\" /c whoami > C:\\\\Users\\\\Public\\\\o.txt"}',
        hit(
            '\\"C:\\\\Windows\\\\System32\\\\cmd.exe\\" /c whoami > C:\\\\Users\\\\Public\\\\o.txt',
            CMDQ_V,
        ),
    ),
    C(
        "quoted command line in event XML",
        CMDQ,
        "<Data Name='CommandLine'>" + CMDQ_V.replace(">", "&gt;") + "</Data>",
        hit(CMDQ_V.replace(">", "&gt;"), CMDQ_V),
    ),
    C(
        "subject in a Postfix header warning",
        SUBJ,
        f"postfix/cleanup[311]: 4F1: warning: header Subject: {SUBJ_V} from",
        hit(SUBJ_V),
    ),
    C("subject in Exchange message tracking CSV", SUBJ, f'2026-12-06T10:00:00Z,RECEIVE,"RE: {SUBJ_V}",1', hit(SUBJ_V)),
    C("subject with a longer number", SUBJ, "Subject: Invoice 44712 overdue"),
    C("subject continued in a word", SUBJ, f"Subject: {SUBJ_V}s"),
    C("account after its domain", USER, "4624 Account Name: CORP\\svc_backup", hit("svc_backup")),
    C("account as a UPN", USER, "user=svc_backup@corp.example logon", hit("svc_backup")),
    C("account in JSON, other case", USER, '{"TargetUserName":"SVC_BACKUP"}', hit("SVC_BACKUP", "svc_backup")),
    C("machine account is another", USER, "TargetUserName=svc_backup$"),
    C("longer account", USER, "TargetUserName=svc_backup2 svc_backup.old x.svc_backup"),
    C("software in an AV detection", SOFT, "Detected: HackTool:Win32/Mimikatz.D", hit("Mimikatz")),
    C("software name inside a word", SOFT, "MimikatzLite found"),
    C("serial as Zeek writes it", SERIAL, "1765000000.1\tFx1\t3\t0A1B2C3D4E\tCN=x", hit("0A1B2C3D4E")),
    C(
        "serial as openssl -text prints it",
        SERIAL,
        "Serial Number: 0a:1b:2c:3d:4e",
        hit("0a:1b:2c:3d:4e", "0A1B2C3D4E"),
    ),
    C("serial without its leading zero", SERIAL, "serial=A1B2C3D4E", hit("A1B2C3D4E", "0A1B2C3D4E")),
    C("serial inside a longer serial", SERIAL, "serial=0A1B2C3D4E5F ser=0a:1b:2c:3d:4e:5f"),
    C("serial inside a fingerprint", SERIAL, "sha1=ff:0a:1b:2c:3d:4e"),
    C(
        "serial in decimal",
        SERIAL_HIGH,
        "Serial Number: 2343571169 (0x8bb00ee1)",
        hit("2343571169", "8BB00EE1"),
        hit("8bb00ee1", "8BB00EE1"),
    ),
    C("serial with the DER zero byte", SERIAL_HIGH, "serial=008BB00EE1", hit("008BB00EE1", "8BB00EE1")),
    C("subject as Zeek writes it", DN, f"x509\t{DN_V}\tCN=Evil CA", hit(DN_V)),
    C(
        "subject as OpenSSL 1.1 prints it, reversed",
        DN,
        "subject=O = Evil Org, CN = evil.example",
        hit("O = Evil Org, CN = evil.example", DN_V),
    ),
    C(
        "subject as OpenSSL 1.0 prints it",
        DN,
        "subject= /O=Evil Org/CN=evil.example",
        hit("/O=Evil Org/CN=evil.example", DN_V),
    ),
    C("subject with another part after", DN, f'"subject":"{DN_V},C=US"'),
    C("subject with another part before", DN, f'"subject":"OU=x,{DN_V}"'),
    C("subject whose last value goes on", DN, f"subject {DN_V} Ltd"),
    C("user agent in an Apache log", UA, APACHE.format(path="/", ua=UA_V), hit(UA_V)),
    C("user agent in Zeek TSV", UA, f"1765000000.1\tC1\tGET\tevil.example\t/\t{UA_V}\t0", hit(UA_V)),
    C(
        "user agent in IIS W3C",
        UA,
        "2026-12-06 10:00:00 GET / - 80 - 10.0.0.5 " + UA_V.replace(" ", "+") + " - 200",
        hit(UA_V.replace(" ", "+"), UA_V),
    ),
    C("user agent in CEF", UA, f"CEF:0|Squid|Proxy|4|1|GET|1|requestClientApplication={UA_V} act=allow", hit(UA_V)),
    C("user agent that goes on", UA, APACHE.format(path="/", ua=UA_V + " Gecko")),
    C("user agent in other case", UA, APACHE.format(path="/", ua=UA_V.lower())),
    C("header value as a JSON field", HEADER, '{"x_session":"k9x-7731"}', hit("k9x-7731")),
    C("header value inside a longer one", HEADER, '{"x_session":"k9x-77312"}'),
    C("request path in Apache", REQ, APACHE.format(path="/gate.php?id=1", ua="-"), hit("/gate.php?id=1")),
    C(
        "request path after a proxy's host",
        REQ,
        "1765 TCP_MISS/200 GET http://evil.example:8080/gate.php?id=1 -",
        hit("/gate.php?id=1"),
    ),
    C("request path under another folder", REQ, APACHE.format(path="/admin/gate.php?id=1", ua="-")),
    C("request path, other query", REQ, APACHE.format(path="/gate.php?id=12", ua="-")),
    C("request path in other case", REQ, APACHE.format(path="/Gate.php?id=1", ua="-")),
]

ATOM_CASES = [
    *LITERAL_CASES,
    *DOMAIN_CASES,
    *LIKE_CASES,
    *URL_CASES,
    *HASH_CASES,
    *IPV4_CASES,
    *IPV6_CASES,
    *EMAIL_CASES,
    *FILE_CASES,
    *MUTEX_CASES,
    *REGISTRY_CASES,
]


@pytest.mark.parametrize("case", ATOM_CASES)
def test_oracle(case: Case) -> None:
    got = oracle_hits(case.atoms, case.line, case.subdomains, case.registry_aliases)
    assert got == expected(case.atoms, case.line, case.want)


def line_and_block_matches(matcher: iocmatch.Matcher, line: str | bytes) -> list[list[iocmatch.Match]]:
    """The matches of the line path, and of the block path over the same line."""
    data = line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")
    return [matcher.scan_line(line), list(matcher.scan_stream(io.BytesIO(data)))]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", ATOM_CASES)
def test_library(case: Case, engine: str) -> None:
    ids = [new_id("indicator") for _ in case.atoms]
    iset = load([indicator(stix_pattern(a), id_=i) for a, i in zip(case.atoms, ids, strict=True)])
    assert counts(iset) == (len(ids), len(ids), 0, 0), iset.report.problems
    owners: dict[tuple[str, str], set[str]] = {}
    for atom, id_ in zip(case.atoms, ids, strict=True):
        owners.setdefault((match_kind(atom), canonical(atom)), set()).add(id_)
    matcher = iocmatch.compile(iset, subdomains=case.subdomains, registry_aliases=case.registry_aliases, engine=engine)
    for matches in line_and_block_matches(matcher, case.line):
        check_matches(matches, case.line, expected(case.atoms, case.line, case.want), owners)


# -- patterns: AND, OR, IN, ISSUBSET, other object paths -------------------------


@dataclass(frozen=True)
class PatternCase:
    pattern: str
    dnf: tuple[tuple[Atom, ...], ...]  # the same pattern as an OR of ANDs
    line: str
    want: tuple[Want, ...]


def P(name: str, pattern: str, dnf: Sequence[Sequence[Atom]], line: str, *want: Want) -> Any:
    return pytest.param(PatternCase(pattern, tuple(tuple(c) for c in dnf), line, want), id=name)


def d(value: str) -> Atom:
    return Atom("domain-name", value)


OR_2 = "[domain-name:value = 'evil.com' OR domain-name:value = 'bad.org']"
IN_2 = "[domain-name:value IN ('evil.com', 'bad.org')]"
AND_FILE = f"[file:name = 'evil.exe' AND file:hashes.MD5 = '{MD5}']"
AND_FILE_DNF = [[Atom("file-name", "evil.exe"), Atom("md5", MD5)]]
AND_2 = "[domain-name:value = 'evil.com' AND domain-name:value = 'bad.org']"
AND_OR = "[(domain-name:value = 'a.example' OR domain-name:value = 'b.example') AND domain-name:value = 'c.example']"
AND_OR_DNF = [[d("a.example"), d("c.example")], [d("b.example"), d("c.example")]]
OBS_OR = "[domain-name:value = 'evil.com'] OR [ipv4-addr:value = '1.2.3.4']"
OBS_OR_DNF = [[d("evil.com")], [Atom("ipv4-addr", "1.2.3.4")]]
CIDR_OR = "[ipv4-addr:value = '10.0.0.0/8' OR ipv4-addr:value = '10.1.0.0/16']"
CIDR_OR_DNF = [[Atom("ipv4-addr", "10.0.0.0/8")], [Atom("ipv4-addr", "10.1.0.0/16")]]
LIKE_OR = "[domain-name:value LIKE '%.evil.com' OR domain-name:value = 'evil.com']"
LIKE_OR_DNF = [[Atom("domain-name", "%.evil.com", "LIKE")], [d("evil.com")]]
AND_OR_OBS = f"{AND_FILE} OR [domain-name:value = 'evil.com']"

DST_REF = "network-traffic:dst_ref.value"
DST_PORT = "network-traffic:dst_port"
SRC_PORT = "network-traffic:src_port"
HTTP_EXT = "network-traffic:extensions.'http-request-ext'"
TO_443 = f"[{DST_REF} = '1.2.3.4' AND {DST_PORT} = 443]"
TO_443_DNF = [[Atom("ipv4-addr", "1.2.3.4"), Atom("port", "443")]]
IPTABLES = "Dec  6 10:44:43 fw kernel: DROP IN=eth0 SRC=10.0.0.5 DST=1.2.3.4 LEN=60 PROTO=TCP SPT=51234 DPT={port}"
PORT_44 = f"[{DST_REF} = '1.2.3.4' AND {DST_PORT} = 44]"
PORT_80 = f"[{DST_REF} = '1.2.3.4' AND {DST_PORT} = 80]"
TO_DOMAIN = f"[{DST_REF} = 'evil.example' AND {DST_PORT} = 8080]"
POST_ONLY = f"[{HTTP_EXT}.request_method = 'post' AND {HTTP_EXT}.request_value = '/gate.php']"
POST_ONLY_DNF = [[Atom("http-method", "post"), Atom("http-request", "/gate.php")]]
POST_GATE = f"[{HTTP_EXT}.request_value = '/gate.php' AND {HTTP_EXT}.request_header.'User-Agent' = 'Updater/1.0']"

PATTERN_CASES = [
    P("address and port, iptables", TO_443, TO_443_DNF, IPTABLES.format(port=443), hit("1.2.3.4"), hit("443")),
    P("address and another port, iptables", TO_443, TO_443_DNF, IPTABLES.format(port=80)),
    P("port without the address", TO_443, TO_443_DNF, "DST=10.9.9.9 DPT=443"),
    P(
        "address and port, Zeek conn TSV",
        TO_443,
        TO_443_DNF,
        "1765000000.1\tCx1\t10.0.0.5\t51234\t1.2.3.4\t443\ttcp",
        hit("1.2.3.4"),
        hit("443"),
    ),
    P(
        "address and port, Zeek conn JSON",
        TO_443,
        TO_443_DNF,
        '{"id.orig_h":"10.0.0.5","id.resp_h":"1.2.3.4","id.resp_p":443}',
        hit("1.2.3.4"),
        hit("443"),
    ),
    P(
        "address and port, Cisco ASA",
        TO_443,
        TO_443_DNF,
        "%ASA-6-302013: Built outbound TCP connection 7 for outside:1.2.3.4/443 (1.2.3.4/443)",
        hit("1.2.3.4"),
        hit("1.2.3.4", nth=1),
        hit("443"),
        hit("443", nth=1),
    ),
    P(
        "port only in the time of day",
        PORT_44,
        [[Atom("ipv4-addr", "1.2.3.4"), Atom("port", "44")]],
        IPTABLES.format(port=80),
    ),
    P(
        "port only in an address octet",
        PORT_80,
        [[Atom("ipv4-addr", "1.2.3.4"), Atom("port", "80")]],
        "DST=1.2.3.4 via 10.80.1.1",
    ),
    P(
        "domain and port, Squid CONNECT",
        TO_DOMAIN,
        [[d("evil.example"), Atom("port", "8080")]],
        "1765000000.1 12 10.0.0.5 TCP_TUNNEL/200 0 CONNECT evil.example:8080 - HIER_DIRECT/1.2.3.4 -",
        hit("evil.example"),
        hit("8080"),
    ),
    P(
        "request path and user agent, Apache",
        POST_GATE,
        [[Atom("http-request", "/gate.php"), Atom("user-agent", "Updater/1.0")]],
        '10.0.0.5 - - [06/Dec/2026:10:00:00 +0000] "POST /gate.php HTTP/1.1" 200 5 "-" "Updater/1.0"',
        hit("/gate.php"),
        hit("Updater/1.0"),
    ),
    P(
        "method and path, Apache",
        POST_ONLY,
        POST_ONLY_DNF,
        '10.0.0.5 - - [06/Dec/2026:10:00:00 +0000] "POST /gate.php HTTP/1.1" 200 5 "-" "-"',
        hit("POST", kind="http-method"),
        hit("/gate.php"),
    ),
    P("path with another method", POST_ONLY, POST_ONLY_DNF, '"GET /gate.php HTTP/1.1" 200 5 "-" "Poster/2.0 post"'),
    P(
        "method and path, Zeek http TSV",
        POST_ONLY,
        POST_ONLY_DNF,
        "1765000000.1\tC1\t10.0.0.5\t51234\t203.0.113.9\t80\t1\tPOST\tevil.example\t/gate.php\t-",
        hit("POST", kind="http-method"),
        hit("/gate.php"),
    ),
    P(
        "request path without the user agent",
        POST_GATE,
        [[Atom("http-request", "/gate.php"), Atom("user-agent", "Updater/1.0")]],
        '10.0.0.5 - - [06/Dec/2026:10:00:00 +0000] "POST /gate.php HTTP/1.1" 200 5 "-" "Mozilla/5.0"',
    ),
    P("OR first part", OR_2, [[d("evil.com")], [d("bad.org")]], "bad.org", hit("bad.org")),
    P("OR both parts", OR_2, [[d("evil.com")], [d("bad.org")]], "evil.com bad.org", hit("evil.com"), hit("bad.org")),
    P("IN", IN_2, [[d("evil.com")], [d("bad.org")]], "x bad.org", hit("bad.org")),
    P(
        "IN of MD5 hashes",
        f"[file:hashes.MD5 IN ('{MD5}', '{MD5_B}')]",
        [[Atom("md5", MD5)], [Atom("md5", MD5_B)]],
        f"hash={MD5_B}",
        hit(MD5_B),
    ),
    P("AND both on the line", AND_FILE, AND_FILE_DNF, f"evil.exe {MD5}", hit("evil.exe"), hit(MD5)),
    P("AND name only", AND_FILE, AND_FILE_DNF, "evil.exe"),
    P("AND hash only", AND_FILE, AND_FILE_DNF, MD5),
    P("AND two domains", AND_2, [[d("evil.com"), d("bad.org")]], "evil.com bad.org", hit("evil.com"), hit("bad.org")),
    P("AND two domains, one on the line", AND_2, [[d("evil.com"), d("bad.org")]], "evil.com"),
    P("AND of OR satisfied", AND_OR, AND_OR_DNF, "b.example c.example", hit("b.example"), hit("c.example")),
    P("AND of OR without the AND part", AND_OR, AND_OR_DNF, "a.example b.example"),
    P(
        "AND of OR all three",
        AND_OR,
        AND_OR_DNF,
        "a.example b.example c.example",
        hit("a.example"),
        hit("b.example"),
        hit("c.example"),
    ),
    P("OR between observations, second", OBS_OR, OBS_OR_DNF, "1.2.3.4", hit("1.2.3.4")),
    P("OR between observations, both", OBS_OR, OBS_OR_DNF, "evil.com 1.2.3.4", hit("evil.com"), hit("1.2.3.4")),
    P("incomplete AND beside OR", AND_OR_OBS, [*AND_FILE_DNF, [d("evil.com")]], "evil.exe evil.com", hit("evil.com")),
    P(
        "ISSUBSET ipv4",
        "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
        [[Atom("ipv4-addr", "10.0.0.0/8")]],
        "10.9.8.7",
        hit("10.9.8.7", "10.0.0.0/8"),
    ),
    P(
        "ISSUBSET ipv6",
        "[ipv6-addr:value ISSUBSET '2001:db8::/32']",
        [[Atom("ipv6-addr", "2001:db8::/32")]],
        "2001:db8::5",
        hit("2001:db8::5", "2001:db8::/32"),
    ),
    P(
        "OR of nested CIDRs",
        CIDR_OR,
        CIDR_OR_DNF,
        "10.1.2.3",
        hit("10.1.2.3", "10.1.0.0/16"),
        hit("10.1.2.3", "10.0.0.0/8"),
    ),
    P(
        "LIKE beside =",
        LIKE_OR,
        LIKE_OR_DNF,
        "www.evil.com",
        hit("evil.com", "%.evil.com"),
        hit("evil.com", "evil.com"),
    ),
    P(
        "email-message from_ref",
        "[email-message:from_ref.value = 'Bob@Evil.com']",
        [[Atom("email-addr", "Bob@Evil.com")]],
        "From: bob@evil.com",
        hit("bob@evil.com"),
    ),
    P(
        "escaped registry key",
        "[windows-registry-key:key = 'HKEY_CURRENT_USER\\\\Software\\\\Evil']",
        [[Atom("windows-registry-key", "HKEY_CURRENT_USER\\Software\\Evil")]],
        "HKCU\\Software\\Evil",
        hit("HKCU\\Software\\Evil", "HKEY_CURRENT_USER\\Software\\Evil"),
    ),
]


def pattern_want(case: PatternCase) -> set[Hit]:
    return expected([a for c in case.dnf for a in c], case.line, case.want)


@pytest.mark.parametrize("case", PATTERN_CASES)
def test_oracle_pattern(case: PatternCase) -> None:
    assert oracle_pattern_hits(case.dnf, case.line) == pattern_want(case)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", PATTERN_CASES)
def test_library_pattern(case: PatternCase, engine: str) -> None:
    obj = indicator(case.pattern)
    iset = load([obj])
    assert counts(iset) == (1, 1, 0, 0), iset.report.problems
    owners = {(h.kind, h.value): {obj["id"]} for h in pattern_want(case)}
    for matches in line_and_block_matches(iocmatch.compile(iset, engine=engine), case.line):
        check_matches(matches, case.line, pattern_want(case), owners)


def test_and_needs_every_part_on_the_same_line() -> None:
    matcher = iocmatch.compile(load([indicator(AND_FILE)]))
    assert list(matcher.scan(["evil.exe", MD5])) == []
    found = list(matcher.scan(["nothing here", f"{MD5} dropped evil.exe"]))
    assert [(m.line, m.kind, m.text) for m in found] == [(2, "md5", MD5), (2, "file-name", "evil.exe")]


def test_match_names_only_the_indicators_satisfied_on_the_line() -> None:
    both = indicator(AND_FILE)
    name_only = indicator("[file:name = 'evil.exe']")
    matcher = iocmatch.compile(load([both, name_only]))
    assert [(m.text, m.indicators) for m in matcher.scan_line("run evil.exe")] == [("evil.exe", (name_only["id"],))]
    found = {m.text: set(m.indicators) for m in matcher.scan_line(f"run evil.exe {MD5}")}
    assert found == {"evil.exe": {both["id"], name_only["id"]}, MD5: {both["id"]}}


def test_scan_numbers_lines_from_one() -> None:
    matcher = iocmatch.compile(load([indicator(stix_pattern(DOM[0]))]))
    found = list(matcher.scan(["a", b"evil.com", "b", "x.evil.com"]))
    assert [(m.line, m.start, m.end) for m in found] == [(2, 0, 8), (4, 2, 10)]


# -- patterns that are reported, not compiled --------------------------------------

REPORTED = [
    ("FOLLOWEDBY", "[domain-name:value = 'evil.com'] FOLLOWEDBY [domain-name:value = 'bad.org']", "evil.com bad.org"),
    (
        "AND between observations",
        "[domain-name:value = 'evil.com'] AND [domain-name:value = 'bad.org']",
        "evil.com bad.org",
    ),
    ("WITHIN", "[domain-name:value = 'evil.com'] WITHIN 300 SECONDS", "evil.com"),
    ("REPEATS", "[domain-name:value = 'evil.com'] REPEATS 5 TIMES", "evil.com"),
    (
        "START STOP",
        "[domain-name:value = 'evil.com'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'",
        "evil.com",
    ),
    ("NOT", "[domain-name:value NOT = 'evil.com']", "good.org evil.com"),
    ("!=", "[domain-name:value != 'evil.com']", "good.org evil.com"),
    ("<", "[domain-name:value < 'evil.com']", "abc.com evil.com"),
    (">", "[domain-name:value > 'evil.com']", "xyz.com evil.com"),
    (">=", "[domain-name:value >= 'evil.com']", "xyz.com evil.com"),
    ("unknown object type", "[x-acme-beacon:value = 'evil.com']", "evil.com"),
    ("unknown object path", "[process:arguments[*] = '--steal']", "run --steal"),
    ("AND across object types", "[domain-name:value = 'evil.com' AND ipv4-addr:value = '1.2.3.4']", "evil.com 1.2.3.4"),
    ("unobservable property", "[file:size = 1024]", "size=1024"),
    ("AND with an unobservable part", "[file:name = 'evil.exe' AND file:size = 1024]", "evil.exe size 1024"),
    ("syntax error", "[domain-name:value = 'evil.com'", "evil.com"),
    ("MD5 of SHA-1 length", f"[file:hashes.MD5 = '{SHA1}']", SHA1),
    ("SHA-256 not hex", "[file:hashes.'SHA-256' = 'not-a-hash']", "not-a-hash"),
    ("IPv4 octet 999", "[ipv4-addr:value = '1.2.3.999']", "1.2.3.999"),
    ("port alone", f"[{DST_PORT} = 443]", "DPT=443"),
    ("port alone, quoted", f"[{DST_PORT} = '443']", "DPT=443"),
    ("only ports in an OR", f"[{DST_PORT} = '443' OR {SRC_PORT} = '443']", "SPT=443 DPT=443"),
    ("request method alone", f"[{HTTP_EXT}.request_method = 'POST']", '"POST /a HTTP/1.1"'),
    ("method and port alone", f"[{HTTP_EXT}.request_method = 'POST' AND {DST_PORT} = '80']", '"POST /a" 80'),
    ("certificate validity", "[x509-certificate:validity_not_before = t'2026-01-01T00:00:00Z']", "2026-01-01"),
    ("certificate serial too short", "[x509-certificate:serial_number = '01:02']", "serial=0102"),
    ("request path /", f"[{HTTP_EXT}.request_value = '/']", '"GET / HTTP/1.1"'),
    ("port 0", f"[{DST_REF} = '1.2.3.4' AND {DST_PORT} = '0']", "1.2.3.4:0"),
]


@pytest.mark.parametrize(("pattern", "line"), [pytest.param(p, ln, id=n) for n, p, ln in REPORTED])
def test_reported_not_compiled(pattern: str, line: str) -> None:
    control = indicator("[domain-name:value = 'control.example']")
    bad = indicator(pattern)
    iset = load([control, bad])
    assert counts(iset) == (2, 1, 1, 0)
    problems = [p for p in iset.report.problems if p.id == bad["id"]]
    assert len(problems) == 1
    assert problems[0].reason.strip()
    matches = iocmatch.compile(iset).scan_line(f"{line} control.example")
    assert [(m.value, m.indicators) for m in matches] == [("control.example", (control["id"],))]


# -- which indicators are live ---------------------------------------------------

AS_OF = datetime(2020, 6, 1, tzinfo=timezone.utc)
WINDOW = {"valid_from": "2020-01-01T00:00:00Z", "valid_until": "2021-01-01T00:00:00Z"}
EXPIRED = {"valid_from": "2000-01-01T00:00:00Z", "valid_until": "2001-01-01T00:00:00Z"}
FUTURE = {"valid_from": "2999-01-01T00:00:00Z"}


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


LIFECYCLE = [
    ("live", {}, {}, True),
    ("revoked", {"revoked": True}, {}, False),
    ("revoked, as_of inside the window", {"revoked": True, **WINDOW}, {"as_of": AS_OF}, False),
    ("valid_until in the past", EXPIRED, {}, False),
    ("valid_from in the future", FUTURE, {}, False),
    ("inside the window now expired", WINDOW, {}, False),
    ("as_of inside the window", WINDOW, {"as_of": AS_OF}, True),
    ("as_of at valid_until", WINDOW, {"as_of": utc("2021-01-01T00:00:00")}, False),
    ("as_of just before valid_until", WINDOW, {"as_of": utc("2020-12-31T23:59:59")}, True),
    ("as_of at valid_from", WINDOW, {"as_of": utc("2020-01-01T00:00:00")}, True),
    ("as_of before valid_from", WINDOW, {"as_of": utc("2019-12-31T23:59:59")}, False),
    ("as_of after a future valid_from", FUTURE, {"as_of": utc("3000-01-01T00:00:00")}, True),
    ("ignore_validity, expired", EXPIRED, {"ignore_validity": True}, True),
    ("ignore_validity, not yet valid", FUTURE, {"ignore_validity": True}, True),
    ("ignore_validity, revoked stays out", {"revoked": True}, {"ignore_validity": True}, False),
    ("ignore_validity with as_of", WINDOW, {"ignore_validity": True, "as_of": utc("2030-01-01T00:00:00")}, True),
]


@pytest.mark.parametrize(("fields", "kwargs", "live"), [pytest.param(f, k, v, id=n) for n, f, k, v in LIFECYCLE])
def test_lifecycle(fields: dict[str, Any], kwargs: dict[str, Any], live: bool) -> None:
    obj = indicator("[domain-name:value = 'evil.com']", **fields)
    iset = load([obj], **kwargs)
    assert counts(iset) == ((1, 1, 0, 0) if live else (1, 0, 0, 1))
    assert [p.id for p in iset.report.problems] == ([] if live else [obj["id"]])
    matches = iocmatch.compile(iset).scan_line("evil.com")
    assert [m.indicators for m in matches] == ([(obj["id"],)] if live else [])


@pytest.mark.parametrize(
    ("pattern_type", "pattern"),
    [
        ("sigma", "title: evil\ndetection:\n  sel:\n    q: evil.com\n  condition: sel"),
        ("yara", 'rule evil { strings: $a = "evil.com" condition: $a }'),
        ("snort", 'alert tcp any any -> any any (content:"evil.com"; sid:1;)'),
    ],
)
def test_other_pattern_types_are_skipped(pattern_type: str, pattern: str) -> None:
    obj = indicator(pattern, pattern_type=pattern_type)
    iset = load([obj])
    assert counts(iset) == (1, 0, 1, 0)
    assert [p.id for p in iset.report.problems] == [obj["id"]]
    assert iocmatch.compile(iset).scan_line("evil.com") == []


def test_stix20_indicator_has_pattern_type_stix() -> None:
    obj = {
        "type": "indicator",
        "id": new_id("indicator"),
        "created": T0,
        "modified": T0,
        "labels": ["malicious-activity"],
        "pattern": "[domain-name:value = 'evil.com']",
        "valid_from": T0,
    }
    bundle = {"type": "bundle", "id": new_id("bundle"), "spec_version": "2.0", "objects": [obj]}
    iset = load(bundle)
    assert counts(iset) == (1, 1, 0, 0)
    assert [m.indicators for m in iocmatch.compile(iset).scan_line("evil.com")] == [(obj["id"],)]


def test_every_object_read_is_accounted_for() -> None:
    live = indicator("[domain-name:value = 'evil.com']")
    excluded = [
        indicator("[domain-name:value = 'revoked.example']", revoked=True),
        indicator("[domain-name:value = 'expired.example']", **EXPIRED),
        indicator("[domain-name:value = 'future.example']", **FUTURE),
    ]
    skipped = [
        indicator("title: x", pattern_type="sigma"),
        indicator("[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']"),
        indicator("[domain-name:value = 'c.example' AND ipv4-addr:value = '1.2.3.4']"),
    ]
    iset = load([live, *excluded, *skipped])
    assert counts(iset) == (7, 1, 3, 3)
    assert {p.id for p in iset.report.problems} == {o["id"] for o in excluded + skipped}
    line = "evil.com revoked.example expired.example future.example a.example b.example c.example 1.2.3.4"
    assert [m.value for m in iocmatch.compile(iset).scan_line(line)] == ["evil.com"]


def test_report_counts_unique_values_per_kind() -> None:
    iset = load(
        [
            indicator("[domain-name:value = 'evil.com']"),
            indicator("[domain-name:value = 'EVIL.com' OR domain-name:value = 'bad.org']"),
            indicator(f"[file:hashes.MD5 IN ('{MD5}', '{MD5.upper()}')]"),
            indicator("[ipv4-addr:value = '1.2.3.4']"),
        ]
    )
    assert {k: n for k, n in iset.report.kinds.items() if n} == {"domain-name": 2, "md5": 1, "ipv4-addr": 1}


@pytest.mark.parametrize("order", ["old first", "new first", "separate sources"])
def test_newest_modified_version_wins(order: str) -> None:
    id_ = new_id("indicator")
    old = indicator("[domain-name:value = 'old.example']", id_=id_, modified="2020-01-01T00:00:00.000Z")
    new = indicator("[domain-name:value = 'new.example']", id_=id_, modified="2021-01-01T00:00:00.000Z")
    if order == "old first":
        iset = load([old, new])
    elif order == "new first":
        iset = load([new, old])
    else:
        iset = load([new], [old])
    matches = iocmatch.compile(iset).scan_line("old.example new.example")
    assert [(m.value, m.indicators) for m in matches] == [("new.example", (id_,))]


def test_newest_version_revoked_removes_the_indicator() -> None:
    id_ = new_id("indicator")
    old = indicator("[domain-name:value = 'evil.com']", id_=id_, modified="2020-01-01T00:00:00.000Z")
    new = indicator("[domain-name:value = 'evil.com']", id_=id_, modified="2021-01-01T00:00:00.000Z", revoked=True)
    iset = load([new, old])
    assert iset.report.compiled == 0
    assert id_ in {p.id for p in iset.report.problems}
    assert iocmatch.compile(iset).scan_line("evil.com") == []


# -- attribution -----------------------------------------------------------------


def test_attribution_follows_indicates_and_attributed_to() -> None:
    malware = sdo("malware", "PlugX")
    campaign = sdo("campaign", "Operation Cloud Hopper")
    intrusion_set = sdo("intrusion-set", "APT10")
    actor = sdo("threat-actor", "Stone Panda")
    tool = sdo("tool", "Mimikatz")
    first = indicator("[domain-name:value = 'evil.com']")
    second = indicator("[domain-name:value = 'evil.com' OR domain-name:value = 'bad.org']")
    alone = indicator("[domain-name:value = 'alone.example']")
    objects = [
        malware,
        campaign,
        intrusion_set,
        actor,
        tool,
        first,
        second,
        alone,
        relationship("indicates", first, malware),
        relationship("indicates", second, campaign),
        relationship("attributed-to", campaign, intrusion_set),
        relationship("attributed-to", intrusion_set, actor),
        relationship("uses", intrusion_set, tool),
    ]
    iset = load(objects)
    assert iset.report.compiled == 3
    matches = iocmatch.compile(iset).scan_line("evil.com bad.org alone.example")
    got = {m.value: (set(m.indicators), set(m.attribution)) for m in matches}
    chain = {"Operation Cloud Hopper", "APT10", "Stone Panda"}
    assert got == {
        "evil.com": ({first["id"], second["id"]}, {"PlugX"} | chain),
        "bad.org": ({second["id"]}, chain),
        "alone.example": ({alone["id"]}, set()),
    }


def test_attribution_from_intrusion_set_to_threat_actor() -> None:
    intrusion_set = sdo("intrusion-set", "APT10")
    actor = sdo("threat-actor", "Stone Panda")
    ioc = indicator(f"[file:hashes.MD5 = '{MD5}']")
    iset = load(
        [
            ioc,
            intrusion_set,
            actor,
            relationship("indicates", ioc, intrusion_set),
            relationship("attributed-to", intrusion_set, actor),
        ]
    )
    (match,) = iocmatch.compile(iset).scan_line(MD5)
    assert set(match.attribution) == {"APT10", "Stone Panda"}
