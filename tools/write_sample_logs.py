#!/usr/bin/env python3
"""Write small deterministic sample logs with APT10 indicators planted in them.

    python tools/write_sample_logs.py [--bundle data/apt10.stix21.json] [--out data/samples]

Writes proxy.log (squid access.log), dns.log (BIND query log), firewall.log
(iptables kern.log, Cisco ASA and MikroTik lines, and pf lines), mail.log
(postfix) and sysmon.jsonl (one Sysmon event per line), made of ordinary
background traffic to well-known sites and documentation or private addresses,
with real indicator values from the bundle planted on some lines, next to near
misses that must not hit (SEMANTICS.md, "Boundaries, by kind").

expected.jsonl lists every planted true hit, one JSON object per occurrence:
file, line (1-based), start/end (0-based, half-open, in characters), kind, value
(the indicator's canonical value) and text (as it stands in the line). It is
ground truth by construction: spans are recorded while the lines are written.
A planted text can hold several hits (`www.msn.incloud-go.com` is itself an
indicator and holds two more): each is recorded.

Two checks run before anything is written, and the script fails loudly if
either disagrees with what was planted:
  1. its own: every occurrence of every indicator's text in every line lies in
     a planted piece, counts (by SEMANTICS.md's boundary rules, written out
     here again) exactly where a hit was recorded, and not elsewhere;
  2. the library's: iocmatch.compile(iocmatch.load(bundle), registry_aliases=True)
     over every line finds exactly the recorded hits.

The same bundle always gives the same bytes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import string
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import iocmatch

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = REPO / "data" / "apt10.stix21.json"
DEFAULT_OUT = REPO / "data" / "samples"
START = datetime(2026, 11, 2, 8, 0, 0, tzinfo=timezone.utc)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Kind names, as the library reports them.
DOMAIN = "domain-name"
IPV4 = "ipv4-addr"
MD5 = "md5"
SHA1 = "sha1"
SHA256 = "sha256"
EMAIL = "email-addr"
FILE_NAME = "file-name"
DIRECTORY = "directory"
MUTEX = "mutex"
REGISTRY_KEY = "windows-registry-key"
HASH_KINDS = (MD5, SHA1, SHA256)

HOST_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
HEX_DIGITS = frozenset(string.hexdigits)

# Publishers, as the bundle's identities name them.
US_CERT = "US-CERT (NCCIC)"
PWC = "PwC UK and BAE Systems"
UNIT42 = "Palo Alto Networks Unit 42"
SIGBASE = "Florian Roth (signature-base), from AlienVault OTX"
PLAYBOOK_SOURCE = "Unit 42 playbook"  # external_references source_name of the playbook indicators


# --- indicators from the bundle ---------------------------------------------

_KIND_OF_PATH = {
    "domain-name:value": DOMAIN,
    "ipv4-addr:value": IPV4,
    "file:hashes.MD5": MD5,
    "file:hashes.'SHA-1'": SHA1,
    "file:hashes.'SHA-256'": SHA256,
    "email-addr:value": EMAIL,
    "file:name": FILE_NAME,
    "file:parent_directory_ref.path": DIRECTORY,
    "mutex:name": MUTEX,
    "windows-registry-key:key": REGISTRY_KEY,
}
_COMPARISON = re.compile(r"([\w-]+:[\w.'-]+) = '((?:[^'\\]|\\.)*)'")

Atom = tuple[str, str]  # (kind, canonical value)


def parse_pattern(pattern: str) -> list[frozenset[Atom]]:
    """The clauses (OR of ANDs) of the pattern shapes the bundle holds:
    `[a = 'x']`, `[a = 'x' OR b = 'y' ...]` and `[a = 'x' AND b = 'y']`."""
    if not (pattern.startswith("[") and pattern.endswith("]")):
        raise SystemExit(f"pattern not understood: {pattern}")
    body = pattern[1:-1]
    found = list(_COMPARISON.finditer(body))
    gaps = {body[a.end() : b.start()] for a, b in itertools.pairwise(found)}
    if not found or found[0].start() != 0 or found[-1].end() != len(body) or not gaps <= {" OR ", " AND "}:
        raise SystemExit(f"pattern not understood: {pattern}")
    atoms = []
    for comparison in found:
        kind = _KIND_OF_PATH.get(comparison.group(1))
        if kind is None:
            raise SystemExit(f"object path not planned for: {comparison.group(1)} in {pattern}")
        atoms.append((kind, canonical(kind, re.sub(r"\\(.)", r"\1", comparison.group(2)))))
    if gaps == {" AND "}:
        return [frozenset(atoms)]
    if len(gaps) > 1:
        raise SystemExit(f"AND and OR mixed: {pattern}")
    return [frozenset([atom]) for atom in atoms]


def canonical(kind: str, literal: str) -> str:
    if kind in (DOMAIN, EMAIL, *HASH_KINDS):
        return literal.lower()
    return literal  # addresses, names, paths, keys and mutexes as the indicator gives them


@dataclass
class Catalog:
    """Every atom of every indicator, who published it, and how it can stand in a line."""

    values: dict[str, set[str]] = field(default_factory=dict)  # kind -> canonical values
    standalone: set[Atom] = field(default_factory=set)  # atoms that are a whole clause
    clauses: list[frozenset[Atom]] = field(default_factory=list)  # clauses of several atoms
    publishers: dict[Atom, set[str]] = field(default_factory=dict)
    published_as: dict[Atom, str] = field(default_factory=dict)  # an indicator's name for it, as published
    playbook: set[Atom] = field(default_factory=set)  # the Unit 42 playbook's atoms

    @classmethod
    def from_bundle(cls, bundle_path: Path) -> Catalog:
        catalog = cls()
        objects = json.loads(bundle_path.read_text(encoding="utf-8"))["objects"]
        names = {o["id"]: o["name"] for o in objects if o["type"] == "identity"}
        for obj in objects:
            if obj["type"] != "indicator":
                continue
            publisher = names[obj["created_by_ref"]]
            from_playbook = any(ref["source_name"] == PLAYBOOK_SOURCE for ref in obj["external_references"])
            for clause in parse_pattern(obj["pattern"]):
                if len(clause) == 1:
                    catalog.standalone |= clause
                elif clause not in catalog.clauses:
                    catalog.clauses.append(clause)
                for atom in clause:
                    catalog.values.setdefault(atom[0], set()).add(atom[1])
                    catalog.publishers.setdefault(atom, set()).add(publisher)
                    if obj.get("name", "").lower() == atom[1].lower():
                        catalog.published_as.setdefault(atom, obj["name"])
                    if from_playbook:
                        catalog.playbook.add(atom)
        return catalog

    def sorted_values(self, kind: str) -> list[str]:
        return sorted(self.values.get(kind, ()))

    def is_hit(self, atom: Atom, present: set[Atom]) -> bool:
        """Does an occurrence of ``atom`` hit, given the atoms that occur on the same line?"""
        return atom in self.standalone or any(atom in c and c <= present for c in self.clauses)

    def domain_hits(self, text: str, offset: int = 0) -> list[Hit]:
        """Every indicator domain that ``text`` (a host name) is, or ends with after a dot."""
        low = text.lower()
        domains = self.values.get(DOMAIN, set())
        return [
            Hit(DOMAIN, low[i:], offset + i, offset + len(text))
            for i in range(len(low))
            if (i == 0 or low[i - 1] == ".") and low[i:] in domains
        ]

    def registry_hits(self, text: str, hive: str) -> list[Hit]:
        """Every indicator key that ``text`` (a key as written, from its hive on) is, or lies under."""
        written = text.split("\\", 2 if text.upper().startswith("HKU\\") else 1)[-1].lower()
        offset = len(text) - len(written)
        hits = []
        for key in self.sorted_values(REGISTRY_KEY):
            key_hive, rest = key.split("\\", 1)
            rest = rest.lower()
            if key_hive == hive and (written == rest or written.startswith(rest + "\\")):
                hits.append(Hit(REGISTRY_KEY, key, 0, offset + len(rest)))
        return hits

    def picks(
        self, kind: str, rule: Callable[[set[str]], bool], count: int, salt: str, exclude: Iterable[Atom] = ()
    ) -> list[str]:
        """``count`` standalone values of ``kind`` whose publishers satisfy ``rule``, chosen deterministically."""
        left_out = set(exclude)
        candidates = [
            value
            for value in self.sorted_values(kind)
            if (kind, value) in self.standalone
            and (kind, value) not in left_out
            and rule(self.publishers[(kind, value)])
        ]
        if len(candidates) < count:
            raise SystemExit(f"only {len(candidates)} {kind} values for {salt}, {count} wanted")
        return random.Random(f"picks:{kind}:{salt}").sample(candidates, count)


def only(*publishers: str) -> Callable[[set[str]], bool]:
    return lambda found: found == set(publishers)


def at_least(*publishers: str) -> Callable[[set[str]], bool]:
    return lambda found: set(publishers) <= found


# --- lines with recorded spans ----------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A true hit inside a planted piece: offsets into the piece's text as planted."""

    kind: str
    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Piece:
    """A planted text: its true hits, or none for a near miss."""

    text: str
    hits: tuple[Hit, ...] = ()


@dataclass(frozen=True)
class Placed:
    piece: Piece
    start: int
    end: int
    escape: Callable[[str], str]

    def span(self, hit: Hit) -> tuple[int, int]:
        """Where a hit stands in the line, after the log format escaped the piece."""
        text = self.piece.text
        return self.start + len(self.escape(text[: hit.start])), self.start + len(self.escape(text[: hit.end]))


_MARK = re.compile("\ue000(\\d+)\ue001")


@dataclass
class Ctx:
    """What a line writer gets: the random source, the line's time, the catalog, and
    ways to plant pieces (each returns a marker, replaced when the line is rendered)."""

    rng: random.Random
    when: datetime
    catalog: Catalog
    pieces: list[Piece] = field(default_factory=list)

    def hit(self, kind: str, value: str, text: str | None = None) -> str:
        """One hit spanning the whole text (a domain or e-mail also gets the hits inside it)."""
        text = value if text is None else text
        if kind == DOMAIN:
            return self.host(text)
        if kind == EMAIL:
            return self.email(text)
        return self.plant(text, [Hit(kind, value, 0, len(text))])

    def host(self, text: str) -> str:
        """A host name: every indicator domain it is or ends with is a hit."""
        hits = self.catalog.domain_hits(text)
        if not hits:
            raise SystemExit(f"no indicator domain in planted host {text!r}")
        return self.plant(text, hits)

    def email(self, text: str) -> str:
        """An e-mail address: the address if it is an indicator, and any indicator domain in it."""
        at = text.index("@")
        hits = self.catalog.domain_hits(text[at + 1 :], at + 1)
        if (EMAIL, text.lower()) in self.catalog.standalone:
            hits.insert(0, Hit(EMAIL, text.lower(), 0, len(text)))
        if not hits:
            raise SystemExit(f"no indicator in planted address {text!r}")
        return self.plant(text, hits)

    def path(self, text: str) -> str:
        """A Windows path: its file name and folder, where they hit (alone or together)."""
        folder, _, name = text.rpartition("\\")
        names = {value.lower(): value for value in self.catalog.values.get(FILE_NAME, ())}
        present: dict[Atom, tuple[int, int]] = {}
        if name.lower() in names:
            present[(FILE_NAME, names[name.lower()])] = (len(folder) + 1, len(text))
        if folder in self.catalog.values.get(DIRECTORY, ()):
            present[(DIRECTORY, folder)] = (0, len(folder))
        hits = [Hit(*atom, *span) for atom, span in present.items() if self.catalog.is_hit(atom, set(present))]
        if not hits:
            raise SystemExit(f"no indicator in planted path {text!r}")
        return self.plant(text, hits)

    def key(self, text: str, hive: str, *, near: bool = False) -> str:
        """A registry key as written (hive first): every indicator key it is or lies under is a hit.
        A near miss holds none of its own, but may lie under another indicator key."""
        hits = self.catalog.registry_hits(text, hive)
        if not (hits or near):
            raise SystemExit(f"no indicator in planted key {text!r}")
        return self.plant(text, hits)

    def miss(self, text: str) -> str:
        return self.plant(text, [])

    def plant(self, text: str, hits: Sequence[Hit]) -> str:
        self.pieces.append(Piece(text, tuple(hits)))
        return f"\ue000{len(self.pieces) - 1}\ue001"


def render(template: str, pieces: list[Piece], escape: Callable[[str], str]) -> tuple[str, list[Placed]]:
    """Replace markers by the (escaped) piece texts, recording where each lands."""
    out: list[str] = []
    placed: list[Placed] = []
    position = last = 0
    for mark in _MARK.finditer(template):
        out.append(template[last : mark.start()])
        position += mark.start() - last
        piece = pieces[int(mark.group(1))]
        text = escape(piece.text)
        placed.append(Placed(piece, position, position + len(text), escape))
        out.append(text)
        position += len(text)
        last = mark.end()
    out.append(template[last:])
    return "".join(out), placed


def plain(text: str) -> str:
    return text


def json_string_body(text: str) -> str:
    """How ``text`` stands inside a JSON string (backslashes doubled, ...)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


# --- shared vocabulary -------------------------------------------------------

BENIGN_SITES = (
    "www.google.com",
    "www.gstatic.com",
    "fonts.googleapis.com",
    "www.microsoft.com",
    "login.microsoftonline.com",
    "outlook.office365.com",
    "ctldl.windowsupdate.com",
    "www.bing.com",
    "www.wikipedia.org",
    "en.wikipedia.org",
    "github.com",
    "objects.githubusercontent.com",
    "pypi.org",
    "files.pythonhosted.org",
    "www.python.org",
    "www.mozilla.org",
    "detectportal.firefox.com",
    "www.apple.com",
    "www.amazon.com",
    "www.cloudflare.com",
    "ocsp.digicert.com",
    "www.bbc.co.uk",
    "www.nhk.or.jp",
    "www.yahoo.co.jp",
    "www.jpcert.or.jp",
    "slack.com",
    "zoom.us",
    "www.linkedin.com",
    "cdn.jsdelivr.net",
    "www.reuters.com",
)
PATHS = (
    "/",
    "/index.html",
    "/favicon.ico",
    "/robots.txt",
    "/static/app.js",
    "/css/site.css",
    "/images/logo.png",
    "/api/v1/status",
    "/search?q=weather+tokyo",
    "/news/world",
    "/wiki/Special:Random",
    "/downloads/release-notes.html",
    "/en-us/support",
)
MIME = ("text/html", "application/javascript", "image/png", "text/css", "application/json")
CLIENT_NETS = ("10.20.0.", "10.20.1.", "172.16.4.", "192.168.10.")
# RFC 5737 documentation ranges stand in for Internet addresses.
DOC_NETS = ("192.0.2.", "198.51.100.", "203.0.113.")


def client_ip(rng: random.Random) -> str:
    return rng.choice(CLIENT_NETS) + str(rng.randint(10, 250))


def doc_ip(rng: random.Random) -> str:
    return rng.choice(DOC_NETS) + str(rng.randint(1, 254))


def syslog_time(when: datetime) -> str:
    return f"{MONTHS[when.month - 1]} {when.day:>2} {when:%H:%M:%S}"


Next = Callable[[], str]  # the next value to plant, round and round


# --- proxy.log: squid native access.log --------------------------------------


def squid_line(ctx: Ctx, method: str, target: str, status: int = 200, mime: str = "") -> str:
    rng = ctx.rng
    tunnel = method == "CONNECT"
    code = "TCP_TUNNEL" if tunnel else rng.choice(("TCP_MISS", "TCP_MISS", "TCP_HIT", "TCP_REFRESH_MODIFIED"))
    hierarchy = "HIER_NONE/-" if code == "TCP_HIT" else f"HIER_DIRECT/{doc_ip(rng)}"
    mime = "-" if tunnel else (mime or rng.choice(MIME))
    return (
        f"{ctx.when.timestamp():.3f} {rng.randint(3, 2500):>6} {client_ip(rng)} "
        f"{code}/{status} {rng.randint(300, 250_000)} {method} {target} - {hierarchy} {mime}"
    )


def proxy_background(ctx: Ctx) -> str:
    site = ctx.rng.choice(BENIGN_SITES)
    if ctx.rng.random() < 0.35:
        return squid_line(ctx, "CONNECT", f"{site}:443")
    status = ctx.rng.choice((200, 200, 200, 304, 301, 404))
    return squid_line(ctx, "GET", f"http://{site}{ctx.rng.choice(PATHS)}", status)


def proxy_plants(d: Next, m: Next, parent: Next) -> list[Callable[[Ctx], str]]:
    """Each call of ``d`` names the next domain to plant as a hit, of ``m`` as a near miss;
    ``parent`` names a domain whose parent is no indicator."""

    def exact_url(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.host(d())}/index.php?id=2016", 200, "text/html")

    def www_url(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.host('www.' + d())}/images/logo.gif")

    def connect(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"{ctx.host(d())}:443")

    def upper_url(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"HTTP://{ctx.host(d().upper())}/", 200)

    def fqdn_dot(ctx: Ctx) -> str:  # a trailing root dot still ends the name
        return squid_line(ctx, "CONNECT", f"{ctx.host(d())}.:443")

    def two_hits(ctx: Ctx) -> str:
        target = f"http://{ctx.host(d())}/r?u=http://{ctx.host(d())}/update"
        return squid_line(ctx, "GET", target, 302)

    def in_query(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://www.google.com/search?q={ctx.host(d())}", 200)

    def mixed_case_subdomain(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.host('WWW.' + d().title())}/", 200)

    def suffix_extended(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.miss(m() + '.au')}/", 200)

    def prefixed(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"{ctx.miss('x' + m())}:443")

    def cdn_suffix(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.miss(m() + '-cdn')}.example.net/lib.js", 200)

    def parent_domain(ctx: Ctx) -> str:  # an indicator does not hit its parent domain
        return squid_line(ctx, "GET", f"http://{parent().split('.', 1)[1]}/", 404)

    def sibling(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"osaka.{parent().split('.', 1)[1]}:443")

    def hyphen_prefixed(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.miss('my-' + m())}/", 200)

    def underscore_after(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"{ctx.miss(m() + '_backup')}.example.org:443")

    def longer_label(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.miss(m() + 'munity')}/", 200)

    return [
        exact_url,
        www_url,
        connect,
        upper_url,
        fqdn_dot,
        two_hits,
        in_query,
        mixed_case_subdomain,
        exact_url,
        connect,
        exact_url,
        connect,
        suffix_extended,
        prefixed,
        cdn_suffix,
        parent_domain,
        sibling,
        hyphen_prefixed,
        underscore_after,
        longer_label,
    ]


# --- dns.log: BIND 9 query log -----------------------------------------------


def bind_time(when: datetime) -> str:
    return f"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year} {when:%H:%M:%S}.{when.microsecond // 1000:03d}"


def bind_client(ctx: Ctx) -> str:
    return f"client @0x7f{ctx.rng.getrandbits(40):010x} {client_ip(ctx.rng)}#{ctx.rng.randint(1024, 65535)}"


def bind_query(ctx: Ctx, name: Callable[[], str], qtype: str = "A") -> str:
    """BIND writes the query name twice: in the client part and after `query:`."""
    flags = ctx.rng.choice(("+", "+E(0)", "+E(0)K", "+EDC", "-E(0)"))
    return (
        f"{bind_time(ctx.when)} queries: info: {bind_client(ctx)} ({name()}): "
        f"query: {name()} IN {qtype} {flags} (10.20.0.53)"
    )


def bind_failure(ctx: Ctx, name: Callable[[], str]) -> str:
    return (
        f"{bind_time(ctx.when)} query-errors: info: {bind_client(ctx)} ({name()}): "
        f"query failed (SERVFAIL) for {name()}/IN/A at ../../../lib/ns/query.c:7375"
    )


def dns_background(ctx: Ctx) -> str:
    rng = ctx.rng
    if rng.random() < 0.08:
        octets = doc_ip(rng).split(".")
        ptr = ".".join(reversed(octets)) + ".in-addr.arpa"
        return bind_query(ctx, lambda: ptr, "PTR")
    site = rng.choice(BENIGN_SITES)
    return bind_query(ctx, lambda: site, rng.choice(("A", "A", "AAAA", "HTTPS")))


def dns_plants(d: Next, m: Next, parent: Next) -> list[Callable[[Ctx], str]]:
    def named(ctx: Ctx, text: str) -> Callable[[], str]:
        return lambda: ctx.host(text)

    def exact(ctx: Ctx) -> str:
        return bind_query(ctx, named(ctx, d()))

    def subdomain(ctx: Ctx) -> str:
        return bind_query(ctx, named(ctx, "www." + d()))

    def upper(ctx: Ctx) -> str:
        return bind_query(ctx, named(ctx, d().upper()))

    def aaaa(ctx: Ctx) -> str:
        return bind_query(ctx, named(ctx, d()), "AAAA")

    def failure(ctx: Ctx) -> str:
        return bind_failure(ctx, named(ctx, d()))

    def near(make: Callable[[str], str], pick: Next = m) -> Callable[[Ctx], str]:
        def line(ctx: Ctx) -> str:
            text = make(pick())
            return bind_query(ctx, lambda: ctx.miss(text))

        return line

    return [
        exact,
        subdomain,
        upper,
        aaaa,
        failure,
        exact,
        exact,
        subdomain,
        near(lambda dom: dom + ".au"),
        near(lambda dom: "x" + dom),
        near(lambda dom: dom + "-cdn.example.net"),
        near(lambda dom: dom + ".local"),
        near(lambda dom: dom.split(".", 1)[1], parent),  # the parent domain
    ]


# --- firewall.log: iptables (kern.log), Cisco ASA, MikroTik and pf -----------


def iptables_line(ctx: Ctx, src: str = "", dst: str = "", outbound: bool | None = None) -> str:
    rng = ctx.rng
    uptime = 86_400 + (ctx.when - START).total_seconds()
    if outbound is None:
        outbound = rng.random() < 0.7
    if not (src or dst) and rng.random() < 0.15:  # IPv6, RFC 3849 documentation prefix
        inside, outside = f"2001:db8:10::{rng.randint(1, 0xFFFF):x}", f"2001:db8:ffff::{rng.randint(1, 0xFF):x}"
        header = f"LEN={rng.randint(60, 1280)} TC=0 HOPLIMIT=64 FLOWLBL={rng.randint(0, 0xFFFFF)}"
        proto, dpt = "UDP", 53
    else:
        inside, outside = client_ip(rng), doc_ip(rng)
        header = (
            f"LEN={rng.randint(40, 1500)} TOS=0x00 PREC=0x00 TTL={rng.choice((63, 64, 127, 128))} "
            f"ID={rng.randint(1, 65535)} DF"
        )
        proto, dpt = rng.choice((("TCP", 443), ("TCP", 443), ("TCP", 80), ("UDP", 123), ("TCP", 22)))
    if outbound:
        action, interfaces, source, destination = "FW-OUT-ACCEPT", "IN=eth1 OUT=eth0", inside, dst or outside
    else:
        action, interfaces, source, destination = "FW-IN-DROP", "IN=eth0 OUT=", src or outside, inside
    ports = f"SPT={rng.randint(1024, 65535)} DPT={dpt}"
    if proto == "TCP":
        ports += f" WINDOW={rng.choice((64240, 65535, 29200))} RES=0x00 SYN URGP=0"
    else:
        ports += f" LEN={rng.randint(16, 512)}"
    return (
        f"{syslog_time(ctx.when)} fw01 kernel: [{uptime:.6f}] {action} {interfaces} "
        f"SRC={source} DST={destination} {header} PROTO={proto} {ports}"
    )


def asa_line(ctx: Ctx, message: str) -> str:
    return f"{syslog_time(ctx.when)} asa01 : {message}"


def asa_connection(ctx: Ctx, outside: str = "", mapped: str = "", kind: str = "") -> str:
    """ASA 302013/302014/106023; ``outside`` and ``mapped`` replace the outside address and its
    mapped copy in parentheses."""
    rng = ctx.rng
    conn, inside, address = rng.randint(100_000, 999_999), client_ip(rng), doc_ip(rng)
    outside, mapped = outside or address, mapped or outside or address
    sport, dport = rng.randint(1024, 65535), rng.choice((443, 443, 80, 53))
    kind = kind or rng.choice(("302013", "302013", "302014", "106023"))
    if kind == "302013":
        return asa_line(
            ctx,
            f"%ASA-6-302013: Built outbound TCP connection {conn} for outside:{outside}/{dport} "
            f"({mapped}/{dport}) to inside:{inside}/{sport} (192.0.2.10/{sport})",
        )
    if kind == "302014":
        return asa_line(
            ctx,
            f"%ASA-6-302014: Teardown TCP connection {conn} for outside:{outside}/{dport} to "
            f"inside:{inside}/{sport} duration 0:00:{rng.randint(0, 59):02d} bytes {rng.randint(60, 90_000)} TCP FINs",
        )
    return asa_line(
        ctx,
        f"%ASA-4-106023: Deny tcp src outside:{outside}/{sport} dst inside:{inside}/{rng.choice((445, 3389, 23))} "
        'by access-group "outside_in" [0x0, 0x0]',
    )


def asa_url(ctx: Ctx, url: str) -> str:
    return asa_line(ctx, f"%ASA-5-304001: {client_ip(ctx.rng)} Accessed URL {doc_ip(ctx.rng)}:{url}")


def asa_dynamic_filter(ctx: Ctx, name: str) -> str:
    rng = ctx.rng
    inside, outside, port = client_ip(rng), doc_ip(rng), rng.randint(1024, 65535)
    return asa_line(
        ctx,
        f"%ASA-4-338002: Dynamic Filter monitored blacklisted TCP traffic from inside:{inside}/{port} "
        f"(192.0.2.10/{port}) to outside:{outside}/443 ({outside}/443), destination {outside} "
        f"resolved from dynamic list: {name}, threat-level: very-high, category: Malware",
    )


def mikrotik_line(ctx: Ctx, remote: str = "") -> str:
    """RouterOS firewall logging: `address:port->address:port`."""
    rng = ctx.rng
    inbound = bool(remote) and rng.random() < 0.5
    remote = remote or doc_ip(rng)
    local, lport, rport = client_ip(rng), rng.randint(1024, 65535), rng.choice((443, 80, 8080))
    chain, flow = (
        ("input", f"{remote}:{rport}->{local}:{lport}")
        if inbound
        else ("forward", f"{local}:{lport}->{remote}:{rport}")
    )
    mac = ":".join(f"{rng.randint(0, 255):02x}" for _ in range(6))
    return (
        f"{syslog_time(ctx.when)} gw02 firewall,info {chain}: in:ether1 out:bridge, src-mac {mac}, "
        f"proto TCP (SYN), {flow}, len {rng.randint(40, 60)}"
    )


def pf_line(ctx: Ctx, remote: str = "") -> str:
    """OpenBSD pf (pflog via tcpdump): `address.port > address.port`: no address by the contract."""
    rng = ctx.rng
    remote = remote or doc_ip(rng)
    rule = rng.randint(1, 40)
    return (
        f"{syslog_time(ctx.when)} gw03 pflogd: rule {rule}/(match) block in on em0: "
        f"{remote}.{rng.choice((443, 80, 8443))} > {client_ip(rng)}.{rng.randint(1024, 65535)}: "
        f"S {rng.getrandbits(31)}:{rng.getrandbits(31)}(0) win 64240"
    )


def firewall_background(ctx: Ctx) -> str:
    roll = ctx.rng.random()
    if roll < 0.4:
        return iptables_line(ctx)
    if roll < 0.7:
        return asa_connection(ctx)
    if roll < 0.8:
        return mikrotik_line(ctx)
    if roll < 0.87:
        return pf_line(ctx)
    return asa_url(ctx, f"http://{ctx.rng.choice(BENIGN_SITES)}{ctx.rng.choice(PATHS)}")


def firewall_plants(d: Next, m: Next, ip: Next, near_ip: Next) -> list[Callable[[Ctx], str]]:
    def exact_url(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.host(d())}/index.html")

    def www_url(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.host('www.' + d())}/")

    def upper_url(ctx: Ctx) -> str:
        return asa_url(ctx, f"HTTP://{ctx.host(d().upper())}/DEFAULT.ASPX")

    def dynamic_filter(ctx: Ctx) -> str:
        return asa_dynamic_filter(ctx, ctx.host(d()))

    def suffix_extended(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.miss(m() + '.au')}/")

    def prefixed(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.miss('x' + m())}/")

    def cdn_suffix(ctx: Ctx) -> str:
        return asa_dynamic_filter(ctx, ctx.miss(m() + "-cdn.example.net"))

    # IPv4 addresses: SRC=/DST=, `outside:address/port (address/port)`, `address:port`.
    def iptables_out(ctx: Ctx) -> str:
        return iptables_line(ctx, dst=ctx.hit(IPV4, ip()), outbound=True)

    def iptables_in(ctx: Ctx) -> str:
        return iptables_line(ctx, src=ctx.hit(IPV4, ip()), outbound=False)

    def asa_built(ctx: Ctx) -> str:  # the address twice, the second in parentheses
        address = ip()
        return asa_connection(ctx, ctx.hit(IPV4, address), ctx.hit(IPV4, address), "302013")

    def asa_deny(ctx: Ctx) -> str:
        return asa_connection(ctx, ctx.hit(IPV4, ip()), kind="106023")

    def asa_teardown(ctx: Ctx) -> str:
        return asa_connection(ctx, ctx.hit(IPV4, ip()), kind="302014")

    def mikrotik(ctx: Ctx) -> str:
        return mikrotik_line(ctx, ctx.hit(IPV4, ip()))

    # Near misses: `address.port` (pf), a longer dotted number, an octet over 255, a digit before.
    def pf_address_port(ctx: Ctx) -> str:
        return pf_line(ctx, ctx.miss(near_ip()))

    def dotted_version(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{doc_ip(ctx.rng)}/update?agent=v{ctx.miss(near_ip() + '.5')}")

    def octet_256(ctx: Ctx) -> str:
        three = near_ip().rsplit(".", 1)[0]
        return asa_url(ctx, f"http://{ctx.miss(three + '.256')}/")

    def digit_before(ctx: Ctx) -> str:
        return iptables_line(ctx, dst=ctx.miss("1" + near_ip()), outbound=True)

    return [
        exact_url,
        www_url,
        upper_url,
        dynamic_filter,
        exact_url,
        suffix_extended,
        prefixed,
        cdn_suffix,
        iptables_out,
        iptables_in,
        iptables_out,
        asa_built,
        asa_deny,
        asa_teardown,
        mikrotik,
        mikrotik,
        pf_address_port,
        dotted_version,
        octet_256,
        digit_before,
    ]


# --- mail.log: postfix -------------------------------------------------------

MAIL_USERS = ("akiko.tanaka", "hiroshi.sato", "emma.clark", "it-support", "finance")
BENIGN_SENDERS = (
    "noreply@github.com",
    "no-reply@accounts.google.com",
    "msonlineservicesteam@microsoftonline.com",
    "news@reuters.com",
    "notifications@slack.com",
    "no-reply@zoom.us",
    "messages-noreply@linkedin.com",
    "info@jpcert.or.jp",
)


def queue_id(rng: random.Random) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(10))


def postfix(ctx: Ctx, daemon: str, message: str) -> str:
    return f"{syslog_time(ctx.when)} mx1 postfix/{daemon}[{ctx.rng.randint(1000, 32000)}]: {message}"


def helo(rng: random.Random) -> str:
    return f"mail{rng.randint(1, 9)}.example.net"


def mail_background(ctx: Ctx) -> str:
    rng = ctx.rng
    qid = queue_id(rng)
    roll = rng.random()
    if roll < 0.2:
        return postfix(ctx, "smtpd", f"connect from {helo(rng)}[{doc_ip(rng)}]")
    if roll < 0.35:
        return postfix(ctx, "smtpd", f"{qid}: client={helo(rng)}[{doc_ip(rng)}]")
    if roll < 0.5:
        return postfix(ctx, "cleanup", f"{qid}: message-id=<{rng.getrandbits(48):012x}@{helo(rng)}>")
    if roll < 0.7:
        sender = rng.choice(BENIGN_SENDERS)
        return postfix(ctx, "qmgr", f"{qid}: from=<{sender}>, size={rng.randint(900, 90_000)}, nrcpt=1 (queue active)")
    if roll < 0.9:
        return postfix(
            ctx,
            "lmtp",
            f"{qid}: to=<{rng.choice(MAIL_USERS)}@corp.example>, relay=mbox01.corp.example[10.20.0.25]:24, "
            f"delay={rng.randint(1, 90) / 10}, delays=0.1/0/0/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
        )
    return postfix(
        ctx, "smtpd", f"disconnect from {helo(rng)}[{doc_ip(rng)}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"
    )


def mail_plants(
    email: Next, ip: Next, d: Next, m_email: Next, m: Next, published: Callable[[str], str]
) -> list[Callable[[Ctx], str]]:
    def qmgr(ctx: Ctx, sender: str) -> str:
        return postfix(
            ctx,
            "qmgr",
            f"{queue_id(ctx.rng)}: from=<{sender}>, size={ctx.rng.randint(900, 90_000)}, nrcpt=1 (queue active)",
        )

    def sender(ctx: Ctx) -> str:
        return qmgr(ctx, ctx.email(email()))

    def sender_as_published(ctx: Ctx) -> str:  # PwC wrote most of them in mixed case
        return qmgr(ctx, ctx.email(published(email())))

    def reject(ctx: Ctx) -> str:  # an address in brackets and a sender on one line
        rng = ctx.rng
        return postfix(
            ctx,
            "smtpd",
            f"NOQUEUE: reject: RCPT from unknown[{ctx.hit(IPV4, ip())}]: 554 5.7.1 Service unavailable; "
            f"Client host blocked; from=<{ctx.email(email())}> to=<{rng.choice(MAIL_USERS)}@corp.example> "
            f"proto=ESMTP helo=<{helo(rng)}>",
        )

    def connect(ctx: Ctx) -> str:
        return postfix(ctx, "smtpd", f"connect from unknown[{ctx.hit(IPV4, ip())}]")

    def reply_to(ctx: Ctx) -> str:
        rng = ctx.rng
        return postfix(
            ctx,
            "cleanup",
            f"{queue_id(rng)}: warning: header Reply-To: Support <{ctx.email(email())}> "
            f"from unknown[{doc_ip(rng)}]; from=<{rng.choice(BENIGN_SENDERS)}> "
            f"to=<{rng.choice(MAIL_USERS)}@corp.example> proto=ESMTP helo=<{helo(rng)}>",
        )

    def domain_sender(ctx: Ctx) -> str:  # a domain indicator inside an address
        return qmgr(ctx, ctx.email(f"admin@{d()}"))

    # Near misses: another mailbox that ends with the address, or a longer domain.
    def dotted_user(ctx: Ctx) -> str:
        return qmgr(ctx, ctx.miss("x." + m_email()))

    def plus_user(ctx: Ctx) -> str:
        return qmgr(ctx, ctx.miss("news+" + m_email()))

    def letter_before(ctx: Ctx) -> str:
        return qmgr(ctx, ctx.miss("x" + m_email()))

    def longer_domain(ctx: Ctx) -> str:
        return qmgr(ctx, ctx.miss(m_email() + ".au"))

    def domain_suffixed(ctx: Ctx) -> str:
        return qmgr(ctx, "info@" + ctx.miss(m() + ".au"))

    return [
        sender,
        sender,
        sender_as_published,
        sender_as_published,
        reject,
        connect,
        connect,
        reply_to,
        domain_sender,
        dotted_user,
        plus_user,
        letter_before,
        longer_domain,
        domain_suffixed,
    ]


# --- sysmon.jsonl: Sysmon events, one JSON object per line -------------------

COMPUTERS = ("WS-0231.corp.example", "WS-0417.corp.example", "LT-1188.corp.example", "SRV-FS01.corp.example")
USERS = ("akiko.tanaka", "hiroshi.sato", "emma.clark", "svc_backup")
BENIGN_IMAGES = (
    r"C:\Windows\System32\svchost.exe",
    r"C:\Windows\System32\conhost.exe",
    r"C:\Windows\explorer.exe",
    r"C:\Windows\System32\taskhostw.exe",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r"C:\Windows\System32\cmd.exe",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files\Mozilla Firefox\firefox.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r"C:\Program Files\Microsoft Office\root\Office16\WINWORD.EXE",
)
DROPPED_NAMES = ("AdobeUpdate", "jucheck", "wmiprvse", "GoogleUpdateSetup", "reader_sl", "tmp4d1e", "msupd")
BENIGN_FILES = ("report.docx", "notes.txt", "setup.log", "budget.xlsx", "cache.db")


def sid_for(user: str) -> str:
    # The classic example SID prefix; a made-up RID per user.
    return f"S-1-5-21-3623811015-3361044348-30300820-{1013 + USERS.index(user)}"


def hex_digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789ABCDEF") for _ in range(count))


def image_hashes(image: str) -> dict[str, str]:
    """Stable made-up hashes per image (upper case, in Sysmon's order)."""
    rng = random.Random(f"hashes:{image}")
    return {name: hex_digits(rng, n) for name, n in (("SHA1", 40), ("MD5", 32), ("SHA256", 64), ("IMPHASH", 32))}


def hashes_field(hashes: dict[str, str], **replace: str) -> str:
    """Sysmon's `Hashes` value, e.g. `SHA1=...,MD5=...,SHA256=...,IMPHASH=...`."""
    return ",".join(f"{name}={replace.get(name, value)}" for name, value in hashes.items())


def sysmon_base(ctx: Ctx, event_id: int, image: str) -> dict[str, object]:
    rng = ctx.rng
    stamp = f"{ctx.when:%Y-%m-%d %H:%M:%S}.{ctx.when.microsecond // 1000:03d}"
    guid = "-".join(hex_digits(rng, n) for n in (8, 4, 4, 4, 12)).lower()
    return {
        "EventID": event_id,
        "UtcTime": stamp,
        "Computer": rng.choice(COMPUTERS),
        "ProcessGuid": f"{{{guid}}}",
        "ProcessId": rng.randint(400, 12000),
        "Image": image,
    }


def process_event(ctx: Ctx, image: str, hashes: str, command_line: str, user: str) -> dict[str, object]:
    event = sysmon_base(ctx, 1, image)
    event.update(
        {
            "CommandLine": command_line,
            "CurrentDirectory": f"C:\\Users\\{user}\\",
            "User": f"CORP\\{user}",
            "IntegrityLevel": "Medium",
            "Hashes": hashes,
            "ParentImage": r"C:\Windows\explorer.exe",
        }
    )
    return event


def network_event(ctx: Ctx, image: str, hostname: str) -> dict[str, object]:
    rng = ctx.rng
    event = sysmon_base(ctx, 3, image)
    event.update(
        {
            "User": f"CORP\\{rng.choice(USERS)}",
            "Protocol": "tcp",
            "Initiated": "true",
            "SourceIp": client_ip(rng),
            "SourcePort": rng.randint(49152, 65535),
            "DestinationIp": doc_ip(rng),
            "DestinationHostname": hostname,
            "DestinationPort": 443,
            "DestinationPortName": "https",
        }
    )
    return event


def file_event(ctx: Ctx, image: str, target: str) -> dict[str, object]:
    event = sysmon_base(ctx, 11, image)
    event.update({"TargetFilename": target, "CreationUtcTime": event["UtcTime"]})
    return event


def registry_event(ctx: Ctx, image: str, target: str, details: str = "") -> dict[str, object]:
    """EventID 13 (a value set) with ``details``, else 12 (a key created)."""
    if not details:
        event = sysmon_base(ctx, 12, image)
        event.update({"EventType": "CreateKey", "TargetObject": target})
        return event
    event = sysmon_base(ctx, 13, image)
    event.update({"EventType": "SetValue", "TargetObject": target, "Details": details})
    return event


def dns_event(ctx: Ctx, image: str, name: str) -> dict[str, object]:
    event = sysmon_base(ctx, 22, image)
    event.update({"QueryName": name, "QueryStatus": "0", "QueryResults": f"::ffff:{doc_ip(ctx.rng)};"})
    return event


def sysmon_background(ctx: Ctx) -> dict[str, object]:
    rng = ctx.rng
    image, user = rng.choice(BENIGN_IMAGES), rng.choice(USERS)
    roll = rng.random()
    if roll < 0.3:
        return process_event(ctx, image, hashes_field(image_hashes(image)), f'"{image}"', user)
    if roll < 0.55:
        return network_event(ctx, image, rng.choice(BENIGN_SITES))
    if roll < 0.7:
        target, details = rng.choice(background_registry_values(user))
        return registry_event(ctx, image, target, details)
    if roll < 0.8:
        return file_event(ctx, image, f"C:\\Users\\{user}\\Documents\\{rng.choice(BENIGN_FILES)}")
    return dns_event(ctx, image, rng.choice(BENIGN_SITES))


def background_registry_values(user: str) -> tuple[tuple[str, str], ...]:
    """(TargetObject, Details) pairs of ordinary registry writes."""
    user_key = f"HKU\\{sid_for(user)}\\Software\\Microsoft\\Windows\\CurrentVersion"
    onedrive = f"C:\\Users\\{user}\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe"
    bam = f"HKLM\\System\\CurrentControlSet\\Services\\bam\\State\\UserSettings\\{sid_for(user)}"
    return (
        (f"{user_key}\\Run\\OneDrive", f'"{onedrive}" /background'),
        (f"{user_key}\\Internet Settings\\ZoneMap\\ProxyBypass", "DWORD (0x00000001)"),
        (f"{bam}\\\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe", "Binary Data"),
        (r"HKLM\SOFTWARE\Microsoft\Windows Defender\Signature Updates\SignaturesLastUpdated", "QWORD (0x01db2c4e)"),
    )


def dropped_image(ctx: Ctx, user: str) -> str:
    return f"C:\\Users\\{user}\\AppData\\Local\\Temp\\{ctx.rng.choice(DROPPED_NAMES)}.exe"


@dataclass(frozen=True)
class SysmonPicks:
    """What sysmon.jsonl plants besides domains: hashes by Sysmon's field name, keys, files."""

    hashes: tuple[tuple[str, str, str], ...]  # (Sysmon field, kind, value), each planted once
    registry_keys: tuple[str, ...]
    file_names: tuple[str, ...]  # planted as files written to %TEMP%
    file_paths: tuple[str, ...]  # planted as process images
    near_md5: tuple[str, ...]
    near_paths: tuple[str, ...]  # a file name outside the folder its indicator names


def sysmon_plants(picks: SysmonPicks, d: Next, m: Next) -> list[Callable[[Ctx], dict[str, object]]]:
    plants: list[Callable[[Ctx], dict[str, object]]] = []

    def with_hash(
        field_name: str, kind: str, value: str, lower: bool, command_domain: bool
    ) -> Callable[[Ctx], dict[str, object]]:
        def event(ctx: Ctx) -> dict[str, object]:
            user = ctx.rng.choice(USERS)
            image = dropped_image(ctx, user)
            text = value if lower else value.upper()
            hashes = hashes_field(image_hashes(image), **{field_name: ctx.hit(kind, value, text)})
            command = f'"{image}"'
            if command_domain:  # a second, different hit on the same line
                command += f" -u https://{ctx.host(d())}/ChChes -p 443"
            return process_event(ctx, image, hashes, command, user)

        return event

    # Sysmon writes hashes in upper case; a few pipelines lower them.
    for index, (field_name, kind, value) in enumerate(picks.hashes):
        plants.append(with_hash(field_name, kind, value, lower=index % 8 == 7, command_domain=index in (0, 11)))

    def near_hash(ctx: Ctx, value: str, *, embedded: bool, field_name: str = "SHA256") -> dict[str, object]:
        user = ctx.rng.choice(USERS)
        image = dropped_image(ctx, user)
        value = value.upper()
        if embedded:  # the value inside a longer run of hex digits is not that hash
            command = f'"{image}" --blob {ctx.miss("9F3C" + value + "77E1")}'
            return process_event(ctx, image, hashes_field(image_hashes(image)), command, user)
        middle = len(value) // 2 - 1
        changed = value[:middle] + ("0" if value[middle] != "0" else "1") + value[middle + 1 :]  # one digit off
        hashes = hashes_field(image_hashes(image), **{field_name: changed})
        return process_event(ctx, image, hashes, f'"{image}"', user)

    sha256 = [value for _, kind, value in picks.hashes if kind == SHA256]
    plants.append(lambda ctx: near_hash(ctx, ctx.rng.choice(sha256), embedded=False))
    plants.append(lambda ctx: near_hash(ctx, ctx.rng.choice(sha256), embedded=True))
    plants.append(lambda ctx: near_hash(ctx, picks.near_md5[0], embedded=False, field_name="MD5"))
    plants.append(lambda ctx: near_hash(ctx, picks.near_md5[1], embedded=True, field_name="MD5"))

    for key in picks.registry_keys:
        plants.extend(registry_plants(key))

    def started(path: str) -> Callable[[Ctx], dict[str, object]]:
        """A program started from its path (EventID 1, path in Image and CommandLine), or
        for a file that is no program, the file written there (EventID 11)."""

        def event(ctx: Ctx) -> dict[str, object]:
            user = ctx.rng.choice(USERS)
            planted = ctx.path(path)
            if not path.lower().endswith(".exe"):
                return file_event(ctx, dropped_image(ctx, user), planted)
            return process_event(ctx, planted, hashes_field(image_hashes(path)), f'"{planted}"', user)

        return event

    plants.extend(written_file(name) for name in picks.file_names)
    plants.extend(started(path) for path in picks.file_paths)

    # File-name near misses: a longer name, another extension after it, and a
    # file name whose indicator also names its folder, in another folder.
    def near_file(make: Callable[[str], str], name: str) -> Callable[[Ctx], dict[str, object]]:
        def event(ctx: Ctx) -> dict[str, object]:
            user = ctx.rng.choice(USERS)
            folder = f"C:\\Users\\{user}\\AppData\\Local\\Temp\\"
            return file_event(ctx, dropped_image(ctx, user), folder + ctx.miss(make(name)))

        return event

    plants.append(near_file(lambda name: "x" + name, picks.file_names[0]))
    plants.append(near_file(lambda name: name + ".bak", picks.file_names[1]))

    def elsewhere(path: str) -> Callable[[Ctx], dict[str, object]]:
        def event(ctx: Ctx) -> dict[str, object]:
            image = ctx.miss(path)
            return process_event(ctx, image, hashes_field(image_hashes(path)), f'"{image}"', "svc_backup")

        return event

    plants += [elsewhere(path) for path in picks.near_paths]

    def hostname(ctx: Ctx, prefix: str = "", upper: bool = False) -> dict[str, object]:
        dom = d()
        image = ctx.rng.choice(BENIGN_IMAGES[4:8])
        return network_event(ctx, image, ctx.host(prefix + (dom.upper() if upper else dom)))

    def query(ctx: Ctx, prefix: str = "") -> dict[str, object]:
        return dns_event(ctx, ctx.rng.choice(BENIGN_IMAGES[4:8]), ctx.host(prefix + d()))

    plants += [
        hostname,
        lambda ctx: hostname(ctx, "www."),
        lambda ctx: hostname(ctx, upper=True),
        query,
        lambda ctx: query(ctx, "update."),
        lambda ctx: dns_event(ctx, BENIGN_IMAGES[6], ctx.miss(m() + ".cn")),
        lambda ctx: network_event(ctx, BENIGN_IMAGES[7], ctx.miss("x" + m())),
    ]
    return plants


def written_file(name: str) -> Callable[[Ctx], dict[str, object]]:
    """A file the malware writes to %TEMP% (Sysmon EventID 11)."""

    def event(ctx: Ctx) -> dict[str, object]:
        user = ctx.rng.choice(USERS)
        target = ctx.path(f"C:\\Users\\{user}\\AppData\\Local\\Temp\\{name}")
        return file_event(ctx, dropped_image(ctx, user), target)

    return event


_HIVE_WRITTEN = {"HKEY_CURRENT_USER": "HKCU", "HKEY_LOCAL_MACHINE": "HKLM"}


def registry_plants(key: str) -> list[Callable[[Ctx], dict[str, object]]]:
    """A key as Sysmon writes it (an HKCU key as HKU\\<SID>\\..., an HKLM key as HKLM\\...),
    and a near miss with a longer last name. The 2019 Unit 42 key also as HKCU\\... and
    with `SOFTWARE` in upper case, and the same value name under RunOnce."""
    hive, rest = key.split("\\", 1)
    short = _HIVE_WRITTEN.get(hive)
    if short is None:
        raise SystemExit(f"registry key outside HKCU and HKLM not planned for: {key}")
    last = rest.rsplit("\\", 1)[-1]
    # A value under Run (or a name like rar\e) is set; a key like SOFTWARE\EGGORG is created.
    details = "" if rest.count("\\") == 1 else "Binary Data"

    def written(user: str, path: str) -> str:
        return f"HKU\\{sid_for(user)}\\{path}" if short == "HKCU" else f"HKLM\\{path}"

    def set_value(ctx: Ctx, target: Callable[[str], str]) -> dict[str, object]:
        user = ctx.rng.choice(USERS[:3])
        image = dropped_image(ctx, user)
        return registry_event(ctx, image, target(user), details and image)

    def as_sysmon(ctx: Ctx) -> dict[str, object]:
        return set_value(ctx, lambda user: ctx.key(written(user, rest), hive))

    def longer_name(ctx: Ctx) -> dict[str, object]:
        longer = rest + ("2" if last[-1].isalpha() else "x")
        return set_value(ctx, lambda user: ctx.key(written(user, longer), hive, near=True))

    plants: list[Callable[[Ctx], dict[str, object]]] = [as_sysmon, longer_name]
    if "ISeC Croot Readr" in key:  # the 2019 playbook key, as before

        def upper_software(ctx: Ctx) -> dict[str, object]:  # keys compare case-insensitively
            upper = rest.replace("Software", "SOFTWARE", 1)
            return set_value(ctx, lambda user: ctx.key(written(user, upper), hive))

        def hkcu(ctx: Ctx) -> dict[str, object]:
            return set_value(ctx, lambda _user: ctx.key(f"HKCU\\{rest}", hive))

        def run_once(ctx: Ctx) -> dict[str, object]:
            other = rest.replace("\\Run\\", "\\RunOnce\\", 1)
            return set_value(ctx, lambda user: ctx.key(written(user, other), hive, near=True))

        plants += [upper_software, hkcu, run_once]
    return plants


# --- assembling a file -------------------------------------------------------


@dataclass(frozen=True)
class LogSpec:
    name: str
    lines: int
    background: Callable[[Ctx], object]
    plants: Sequence[Callable[[Ctx], object]]
    json_lines: bool = False


@dataclass(frozen=True)
class Expected:
    file: str
    line: int
    start: int
    end: int
    kind: str
    value: str
    text: str


def write_log(spec: LogSpec, catalog: Catalog) -> tuple[list[str], list[Expected], list[list[Placed]]]:
    """The lines of one log, the hits planted in it, and every placed piece per line."""
    rng = random.Random(f"iocmatch-samples:{spec.name}")
    plants = list(spec.plants)
    rng.shuffle(plants)
    slots = sorted(rng.sample(range(spec.lines), len(plants)))
    planted = dict(zip(slots, plants, strict=True))
    when = START
    lines: list[str] = []
    expected: list[Expected] = []
    placements: list[list[Placed]] = []
    for index in range(spec.lines):
        when += timedelta(milliseconds=rng.randint(40, 4000))
        ctx = Ctx(rng, when, catalog)
        made = planted.get(index, spec.background)(ctx)
        if spec.json_lines:
            text, placed = render(json.dumps(made, ensure_ascii=False), ctx.pieces, json_string_body)
        else:
            text, placed = render(str(made), ctx.pieces, plain)
        lines.append(text)
        placements.append(placed)
        for p in placed:
            for hit in p.piece.hits:
                start, end = p.span(hit)
                expected.append(Expected(spec.name, index + 1, start, end, hit.kind, hit.value, text[start:end]))
    return lines, expected, placements


# --- check 1: what was written, against the contract's rules -----------------

# Hive spellings that may stand before a key's path, by the key's hive (as Sysmon and
# regedit write them; `sep` is the separator as the line writes it).
_HIVES = {
    "HKEY_CURRENT_USER": r"(?:HKCU|HKEY_CURRENT_USER|HKU{sep}S-1-5-21-[0-9-]+)",
    "HKEY_LOCAL_MACHINE": r"(?:HKLM|HKEY_LOCAL_MACHINE)",
}


@dataclass(frozen=True)
class Needle:
    """A text that an atom can stand as in a line, and how to verify it there."""

    kind: str
    value: str
    text: str  # lower case unless ``exact``
    exact: bool = False  # compare with case (mutexes, folders)
    escaped: bool = False  # the JSON spelling of a value holding backslashes
    hive: str = ""  # a registry key's hive, which must stand before ``text``


class Finder:
    """Every occurrence of every needle in a line: an index of 4-character starts."""

    GRAM = 4

    def __init__(self, catalog: Catalog) -> None:
        needles: list[Needle] = []
        for kind, values in catalog.values.items():
            for value in values:
                needles.extend(_needles(kind, value))
        self.index: dict[str, list[Needle]] = {}
        for needle in needles:
            if len(needle.text) < self.GRAM:
                raise SystemExit(f"needle too short for the index: {needle}")
            self.index.setdefault(needle.text[: self.GRAM].lower(), []).append(needle)

    def find(self, line: str) -> Iterable[tuple[Needle, int, int]]:
        low = line.lower()
        for start in range(len(low) - self.GRAM + 1):
            for needle in self.index.get(low[start : start + self.GRAM], ()):
                end = start + len(needle.text)
                if (line if needle.exact else low).startswith(needle.text, start):
                    yield needle, start, end


def _needles(kind: str, value: str) -> list[Needle]:
    if kind == REGISTRY_KEY:
        hive, rest = value.split("\\", 1)
        rest = "\\" + rest.lower()
        return [
            Needle(kind, value, rest, hive=hive),
            Needle(kind, value, json_string_body(rest), escaped=True, hive=hive),
        ]
    if kind in (MUTEX, DIRECTORY):
        spellings = {value, json_string_body(value)}
        return [Needle(kind, value, text, exact=True, escaped=text != value) for text in sorted(spellings)]
    return [Needle(kind, value, value.lower())]


def _char(line: str, index: int) -> str:
    return line[index] if 0 <= index < len(line) else ""


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _ends_name(line: str, end: int) -> bool:
    after = _char(line, end)
    return after not in HOST_CHARS and not (after == "." and _char(line, end + 1) in HOST_CHARS)


def counts(needle: Needle, line: str, start: int, end: int) -> tuple[int, int] | None:
    """SEMANTICS.md's boundary rule at one occurrence: the span of the hit, or None."""
    before = _char(line, start - 1)
    kind = needle.kind
    if kind == DOMAIN:
        ok = before not in HOST_CHARS and _ends_name(line, end)  # `.` before: a subdomain
    elif kind == EMAIL:
        ok = before not in HOST_CHARS | {".", "%", "+"} and _ends_name(line, end)
    elif kind == FILE_NAME:
        ok = before not in HOST_CHARS and before != "." and _ends_name(line, end)
    elif kind in HASH_KINDS:
        ok = before not in HEX_DIGITS and _char(line, end) not in HEX_DIGITS
    elif kind == IPV4:
        after = _char(line, end)
        ok = not (before.isdigit() or (before == "." and _char(line, start - 2).isdigit()))
        ok = ok and not (after.isdigit() or (after == "." and _char(line, end + 1).isdigit()))
    elif kind in (MUTEX, DIRECTORY):
        ok = not (_word(needle.value[0]) and _word(before)) and not (
            _word(needle.value[-1]) and _word(_char(line, end))
        )
    elif kind == REGISTRY_KEY:
        sep = r"\\\\" if needle.escaped else r"\\"
        hive = re.search(_HIVES[needle.hive].format(sep=sep) + r"\Z", line[:start], re.IGNORECASE)
        if hive is None or _word(_char(line, hive.start() - 1)) or (_word(line[end - 1]) and _word(_char(line, end))):
            return None
        return hive.start(), end
    else:
        raise SystemExit(f"no boundary rule for {kind}")
    return (start, end) if ok else None


def check_log(name: str, lines: list[str], placements: list[list[Placed]], catalog: Catalog, finder: Finder) -> None:
    """Every occurrence of an indicator's text that counts by its boundary rule lies in a
    planted piece, and hits exactly where a hit was recorded."""
    problems: list[str] = []
    for number, (line, placed) in enumerate(zip(lines, placements, strict=True), start=1):
        recorded = {(h.kind, h.value, *p.span(h)) for p in placed for h in p.piece.hits}
        counted: dict[tuple[str, str, int, int], None] = {}
        for needle, start, end in finder.find(line):
            span = counts(needle, line, start, end)
            if span is None:
                continue  # `Setup.exe` in `GoogleUpdateSetup.exe`: the text, but no occurrence
            if not any(p.start <= start and end <= p.end for p in placed):
                problems.append(f"{name}:{number}: unplanned {line[start:end]!r} in the background")
            counted[(needle.kind, needle.value, span[0], span[1])] = None
        present = {(kind, value) for kind, value, _, _ in counted}
        found = {entry for entry in counted if catalog.is_hit(entry[:2], present)}
        for kind, value, start, end in sorted(found - recorded):
            problems.append(f"{name}:{number}: {kind} {value!r} at {start}-{end} would hit, but was not planted as one")
        for kind, value, start, end in sorted(recorded - found):
            problems.append(f"{name}:{number}: planted {kind} {value!r} at {start}-{end} would not hit")
    if problems:
        raise SystemExit("sample check failed:\n  " + "\n  ".join(problems))


# --- check 2: the library's verdict ------------------------------------------


def check_with_library(bundle: Path, logs: dict[str, list[str]], expected: list[Expected]) -> int:
    """iocmatch, as `make demo` runs it (registry aliases on), finds exactly the planted hits."""
    matcher = iocmatch.compile(iocmatch.load(str(bundle)), registry_aliases=True)
    found = {
        (name, match.line, match.start, match.end, match.kind, match.value, match.text)
        for name, lines in logs.items()
        for match in matcher.scan(lines)
    }
    planted = {(e.file, e.line, e.start, e.end, e.kind, e.value, e.text) for e in expected}
    problems = [f"found but not planted: {entry}" for entry in sorted(found - planted)]
    problems += [f"planted but not found: {entry}" for entry in sorted(planted - found)]
    if problems:
        raise SystemExit("the library disagrees with the planted hits:\n  " + "\n  ".join(problems))
    return len(found)


# --- main --------------------------------------------------------------------


def cycler(values: Sequence[str]) -> Next:
    """The next value on each call, round and round, so every value gets planted."""
    state = {"next": 0}

    def pick() -> str:
        value = values[state["next"] % len(values)]
        state["next"] += 1
        return value

    return pick


@dataclass(frozen=True)
class Plan:
    """Which indicator values the samples plant as hits, and which as near misses."""

    domains: tuple[str, ...]
    near_domains: tuple[str, ...]  # no indicator domain is a suffix of them
    parents: tuple[str, ...]  # their parent (and `osaka.` + parent) holds no indicator
    addresses: tuple[str, ...]
    emails: tuple[str, ...]
    near_emails: tuple[str, ...]
    sysmon: SysmonPicks


def plan(catalog: Catalog) -> Plan:
    pick = catalog.picks
    domains = catalog.sorted_values(DOMAIN)
    domain_set = set(domains)
    playbook_domains = sorted(v for k, v in catalog.playbook if k == DOMAIN)
    hit_domains = [
        *playbook_domains,
        *pick(DOMAIN, only(US_CERT), 2, "us-cert"),
        *pick(DOMAIN, only(PWC), 2, "pwc"),
        *pick(DOMAIN, only(SIGBASE), 2, "signature-base"),
        *pick(DOMAIN, only(UNIT42), 2, "unit42-list", exclude=catalog.playbook),
        *pick(DOMAIN, only(US_CERT, PWC, SIGBASE), 2, "three publishers"),
        *pick(DOMAIN, at_least(US_CERT, PWC, SIGBASE, UNIT42), 1, "four publishers"),
    ]

    def is_root(value: str) -> bool:
        labels = value.split(".")
        return not any(".".join(labels[i:]) in domain_set for i in range(1, len(labels)))

    roots = [v for v in reversed(domains) if is_root(v)]
    parents = [
        v
        for v in roots
        if v.count(".") >= 2 and f"osaka.{v.split('.', 1)[1]}" not in domain_set and "www." + v not in domain_set
    ]
    addresses = [
        *pick(IPV4, only(US_CERT), 3, "us-cert"),
        *pick(IPV4, only(PWC), 4, "pwc"),
        *pick(IPV4, at_least(US_CERT, PWC), 3, "both"),
    ]
    emails = pick(EMAIL, only(PWC), 6, "pwc")
    near_emails = [v for v in catalog.sorted_values(EMAIL) if v not in emails][:4]
    playbook_sha256 = sorted(v for k, v in catalog.playbook if k == SHA256)
    hashes = [("SHA256", SHA256, value) for value in playbook_sha256]
    hashes += [("MD5", MD5, v) for v in pick(MD5, only(PWC), 3, "pwc")]
    hashes += [("MD5", MD5, v) for v in pick(MD5, only(PWC, SIGBASE), 2, "pwc+signature-base")]
    hashes += [("MD5", MD5, v) for v in pick(MD5, only(SIGBASE), 2, "signature-base")]
    hashes += [("MD5", MD5, v) for v in pick(MD5, at_least(US_CERT), 2, "us-cert")]
    hashes += [("SHA1", SHA1, v) for v in pick(SHA1, at_least(US_CERT), 1, "us-cert")]
    hashes += [("SHA1", SHA1, v) for v in pick(SHA1, only(SIGBASE), 1, "signature-base")]
    hashes += [("SHA256", SHA256, v) for v in pick(SHA256, only(UNIT42), 2, "unit42-list", exclude=catalog.playbook)]
    hashes += [("SHA256", SHA256, v) for v in pick(SHA256, at_least(US_CERT), 1, "us-cert")]
    hashes += [("SHA256", SHA256, v) for v in pick(SHA256, only(SIGBASE), 1, "signature-base")]
    near_md5 = [v for v in catalog.sorted_values(MD5) if all(v != h[2] for h in hashes)][:2]
    registry_keys = catalog.sorted_values(REGISTRY_KEY)
    names = [n for n in catalog.sorted_values(FILE_NAME) if (FILE_NAME, n) in catalog.standalone]
    file_names = [*pick(FILE_NAME, only(PWC), 4, "pwc"), *pick(FILE_NAME, only(US_CERT), 1, "us-cert")]
    paths = []
    for clause in sorted(catalog.clauses, key=sorted):
        atoms = dict(clause)
        if set(atoms) == {FILE_NAME, DIRECTORY}:
            paths.append(f"{atoms[DIRECTORY]}\\{atoms[FILE_NAME]}")
    file_paths = [p for p in paths if "recovery" in p][:2] + [p for p in paths if "Vss" in p][:1]
    # A name that also stands alone (dsquery.exe holds query.exe, which does not hit there).
    file_paths += [f"C:\\Windows\\System32\\{n}" for n in names if n.lower() == "dsquery.exe"]
    near_paths = [p.replace("\\recovery\\", "\\recovery2\\") for p in file_paths if "recovery" in p][:1]
    return Plan(
        tuple(hit_domains),
        tuple(roots),
        tuple(parents),
        tuple(addresses),
        tuple(emails),
        tuple(near_emails),
        SysmonPicks(
            tuple(hashes),
            tuple(registry_keys),
            tuple(file_names),
            tuple(file_paths),
            tuple(near_md5),
            tuple(near_paths),
        ),
    )


def specs(catalog: Catalog, chosen: Plan) -> list[LogSpec]:
    # Hits and near misses draw from separate cycles, so every chosen value gets hit.
    d, m, parent = cycler(chosen.domains), cycler(chosen.near_domains), cycler(chosen.parents)
    ip, near_ip = cycler(chosen.addresses), cycler(chosen.addresses[::-1])
    email, near_email = cycler(chosen.emails), cycler(chosen.near_emails)

    def published(value: str) -> str:
        return catalog.published_as.get((EMAIL, value), value)

    return [
        LogSpec("proxy.log", 600, proxy_background, proxy_plants(d, m, parent)),
        LogSpec("dns.log", 500, dns_background, dns_plants(d, m, parent)),
        LogSpec("firewall.log", 500, firewall_background, firewall_plants(d, m, ip, near_ip)),
        LogSpec("mail.log", 300, mail_background, mail_plants(email, ip, d, near_email, m, published)),
        LogSpec("sysmon.jsonl", 600, sysmon_background, sysmon_plants(chosen.sysmon, d, m), json_lines=True),
    ]


def write_samples(bundle: Path, out: Path) -> dict[str, tuple[int, dict[str, int]]]:
    """Write every log and expected.jsonl; return {file: (lines, hits by kind)}."""
    catalog = Catalog.from_bundle(bundle)
    chosen = plan(catalog)
    finder = Finder(catalog)
    all_expected: list[Expected] = []
    logs: dict[str, list[str]] = {}
    for spec in specs(catalog, chosen):
        lines, expected, placements = write_log(spec, catalog)
        check_log(spec.name, lines, placements, catalog, finder)
        logs[spec.name] = lines
        all_expected += expected
    planted = {(e.kind, e.value) for e in all_expected}
    wanted = {(DOMAIN, v) for v in chosen.domains} | {(IPV4, v) for v in chosen.addresses}
    wanted |= {(EMAIL, v) for v in chosen.emails} | {(kind, v) for _, kind, v in chosen.sysmon.hashes}
    wanted |= {(REGISTRY_KEY, v) for v in chosen.sysmon.registry_keys} | catalog.playbook
    missing = wanted - planted
    if missing:
        raise SystemExit(f"chosen values never planted as a hit: {sorted(missing)}")
    check_with_library(bundle, logs, all_expected)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, tuple[int, dict[str, int]]] = {}
    for name, lines in logs.items():
        write_lines(out / name, lines)
        kinds: dict[str, int] = {}
        for e in all_expected:
            if e.file == name:
                kinds[e.kind] = kinds.get(e.kind, 0) + 1
        summary[name] = (len(lines), dict(sorted(kinds.items())))
    write_lines(out / "expected.jsonl", [json.dumps(vars(e), ensure_ascii=False) for e in all_expected])
    return summary


def write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(line + "\n" for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="STIX 2.1 bundle to plant from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory to write the samples to")
    args = parser.parse_args(argv)
    total = 0
    for name, (lines, kinds) in write_samples(args.bundle, args.out).items():
        hits = sum(kinds.values())
        total += hits
        detail = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
        print(f"{args.out / name}: {lines} lines, {hits} planted hits ({detail})", file=sys.stderr)
    print(f"{total} planted hits; the writer's own check and iocmatch agree with every one", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
