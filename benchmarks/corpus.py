#!/usr/bin/env python3
"""A seeded synthetic benchmark corpus: feed, literal list, mixed log and ground truth.

    python benchmarks/corpus.py --indicators 10000 --lines 200000 --seed 1 --out DIR

Writes into DIR:

* ``feed.stix21.json``: a STIX 2.1 bundle of N indicators, mostly domains, then
  SHA-256 and MD5 hashes, IPv4 addresses and IPv4 CIDRs (/16 to /30), each a
  ``[path = 'value']`` pattern (the library's fast path).
* ``literals.txt``: the same values one a line, for ``grep -F -f``; a CIDR is
  written as its network address, since grep cannot match a range.
* ``mixed.log``: squid, BIND, iptables and Sysmon JSON lines of background
  traffic with PLANTED true hits (a domain as host and as subdomain, a hash
  between non-hex characters, addresses inside ranges) and NEAR MISSES that
  must not hit (``<domain>.au``, ``x<domain>``, a hash inside a longer hex run,
  ``1.2.3.4.5``, an address just outside a range).
* ``truth.tsv``: every expected match, ``line start end value text`` (1-based
  line, 0-based half-open span), recorded while the line is written.
* ``lines.tsv``: every line that holds a hit or a literal:
  ``line hit literal_cs literal_ci label``; ``literal_cs`` says the line holds
  a literal as written (what ``grep -F`` prints), ``literal_ci`` ignoring case
  (``grep -iF``).
* ``summary.json``: the counts.

Background traffic uses reserved names (``*.example``), RFC 5737 and private
addresses (no indicator range comes near them), and hex runs of other lengths
(SHA-1, GUIDs, MACs). Pool values that hold a literal are dropped, and the
fields are joined by characters no literal holds (`` /=("``), so the only lines
holding a literal are planted ones. compare.py confirms it on every run:
``grep -F`` and ``grep -iF`` must print exactly the lines counted here.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import ahocorasick

# Bump when the output for a given seed and size changes: cached corpora are keyed by it.
GENERATOR_VERSION = 1

FEED = "feed.stix21.json"
LITERALS = "literals.txt"
LOG = "mixed.log"
TRUTH = "truth.tsv"
LINES = "lines.tsv"
SUMMARY = "summary.json"

# Share of each kind in the feed (domains are most of any real feed).
KIND_WEIGHTS = {"domain": 60, "sha256": 15, "md5": 10, "ipv4": 11, "cidr": 4}
TLDS = ("com", "net", "org", "info", "biz", "ru", "cn", "top", "xyz", "io", "online", "site", "club", "pw", "cc")
SUBDOMAIN_WORDS = ("update", "cdn", "mail", "api", "login", "secure", "static", "dl", "portal", "ns1")
LABEL_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
# /24 is the most common published network; the rest are spread evenly.
PREFIX_WEIGHTS = {prefix: (6 if prefix == 24 else 1) for prefix in range(16, 31)}
# First octets of indicator addresses: public space, far from every range the
# background uses (10/8, 172.16/12, 192.168/16, 192.0.2/24, 198.51.100/24,
# 203.0.113/24) and from loopback, CGNAT, link-local and multicast.
PUBLIC_FIRST_OCTETS = tuple(o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203))

CREATED = "2024-01-15T00:00:00.000Z"
IDENTITY_ID = "identity--5a2f6c1e-8b9d-4e3f-a1c7-0d2b4e6f8a9c"
CLOCK_START = 1_730_000_000.0


# --- the feed -----------------------------------------------------------------


@dataclass
class Feed:
    domains: list[str] = field(default_factory=list)
    md5: list[str] = field(default_factory=list)
    sha256: list[str] = field(default_factory=list)
    addresses: list[int] = field(default_factory=list)
    cidrs: list[tuple[int, int]] = field(default_factory=list)  # (network, prefix length)
    domain_set: set[str] = field(default_factory=set)
    # Disjoint ranges (first, last), sorted by first, for "is this address an indicator's?".
    range_firsts: list[int] = field(default_factory=list)
    range_lasts: list[int] = field(default_factory=list)

    def covering(self, address: int) -> bool:
        slot = bisect.bisect_right(self.range_firsts, address) - 1
        return slot >= 0 and self.range_lasts[slot] >= address

    def domains_hit(self, host: str) -> set[str]:
        """Indicator domains a host name hits: itself and its dot-suffixes."""
        labels = host.lower().split(".")
        return {d for d in (".".join(labels[i:]) for i in range(len(labels))) if d in self.domain_set}


def kind_counts(total: int) -> dict[str, int]:
    weight_sum = sum(KIND_WEIGHTS.values())
    counts = {kind: total * weight // weight_sum for kind, weight in KIND_WEIGHTS.items()}
    counts["domain"] += total - sum(counts.values())
    return counts


def make_feed(rng: random.Random, total: int) -> Feed:
    counts = kind_counts(total)
    feed = Feed()
    _add_domains(rng, feed, counts["domain"])
    feed.sha256 = [f"{rng.getrandbits(256):064x}" for _ in range(counts["sha256"])]
    feed.md5 = [f"{rng.getrandbits(128):032x}" for _ in range(counts["md5"])]
    _add_networks(rng, feed, counts["cidr"], counts["ipv4"])
    return feed


def _label(rng: random.Random) -> str:
    size = rng.randint(5, 14)
    body = "".join(rng.choices(LABEL_CHARS, k=size - 1))
    label = rng.choice(LETTERS) + body
    if rng.random() < 0.1:
        cut = rng.randint(2, size - 2)
        label = f"{label[:cut]}-{label[cut:]}"
    return label


def _add_domains(rng: random.Random, feed: Feed, count: int) -> None:
    """Unique domains, none a dot-suffix of another, so a planted subdomain
    hits exactly the one indicator it was planted for."""
    suffixes: set[str] = set()
    while len(feed.domains) < count:
        name = f"{_label(rng)}.{rng.choice(TLDS)}"
        if rng.random() < 0.25:
            name = f"{rng.choice(SUBDOMAIN_WORDS)}.{name}"
        labels = name.split(".")
        proper = [".".join(labels[i:]) for i in range(1, len(labels))]
        if name in feed.domain_set or name in suffixes or any(p in feed.domain_set for p in proper):
            continue
        feed.domains.append(name)
        feed.domain_set.add(name)
        suffixes.update(proper)


def _add_networks(rng: random.Random, feed: Feed, cidr_count: int, address_count: int) -> None:
    """Disjoint CIDRs and addresses, so an address hits at most one indicator."""
    taken: dict[int, list[tuple[int, int]]] = {}  # /16 block -> (first, last)

    def free(first: int, last: int) -> bool:
        return all(last < a or first > b for a, b in taken.get(first >> 16, ()))

    prefixes, weights = list(PREFIX_WEIGHTS), list(PREFIX_WEIGHTS.values())
    while len(feed.cidrs) < cidr_count:
        prefix = rng.choices(prefixes, weights)[0]
        size = 1 << (32 - prefix)
        first = (rng.choice(PUBLIC_FIRST_OCTETS) << 24 | rng.getrandbits(24)) & ~(size - 1)
        if free(first, first + size - 1):
            taken.setdefault(first >> 16, []).append((first, first + size - 1))
            feed.cidrs.append((first, prefix))
    while len(feed.addresses) < address_count:
        address = rng.choice(PUBLIC_FIRST_OCTETS) << 24 | rng.getrandbits(24)
        if address & 0xFF in (0, 255) or not free(address, address):
            continue
        taken.setdefault(address >> 16, []).append((address, address))
        feed.addresses.append(address)
    ranges = sorted(r for block in taken.values() for r in block)
    feed.range_firsts = [first for first, _ in ranges]
    feed.range_lasts = [last for _, last in ranges]


def quad(address: int) -> str:
    return f"{address >> 24}.{address >> 16 & 255}.{address >> 8 & 255}.{address & 255}"


def cidr_text(network: int, prefix: int) -> str:
    return f"{quad(network)}/{prefix}"


def indicator_entries(feed: Feed) -> Iterator[tuple[str, str, str]]:
    """(name, pattern, literal for grep) for every indicator, kinds interleaved
    as a feed would list them."""
    yield from ((d, f"[domain-name:value = '{d}']", d) for d in feed.domains)
    yield from ((h, f"[file:hashes.'SHA-256' = '{h}']", h) for h in feed.sha256)
    yield from ((h, f"[file:hashes.MD5 = '{h}']", h) for h in feed.md5)
    for address in feed.addresses:
        text = quad(address)
        yield text, f"[ipv4-addr:value = '{text}']", text
    for network, prefix in feed.cidrs:
        text = cidr_text(network, prefix)
        yield text, f"[ipv4-addr:value = '{text}']", quad(network)


def write_feed(rng: random.Random, feed: Feed, feed_path: Path, literals_path: Path) -> None:
    entries = list(indicator_entries(feed))
    rng.shuffle(entries)
    identity = {
        "type": "identity",
        "spec_version": "2.1",
        "id": IDENTITY_ID,
        "created": CREATED,
        "modified": CREATED,
        "name": "Synthetic Benchmark Feed",
        "identity_class": "organization",
    }
    with feed_path.open("w", encoding="ascii") as out, literals_path.open("w", encoding="ascii") as literals:
        bundle_id = f"bundle--{uuid.UUID(int=rng.getrandbits(128), version=4)}"
        out.write(f'{{"type": "bundle", "id": "{bundle_id}", "objects": [\n')
        out.write(json.dumps(identity))
        for name, pattern, literal in entries:
            out.write(",\n")
            out.write(json.dumps(_indicator(rng, name, pattern)))
            literals.write(literal + "\n")
        out.write("\n]}\n")


def _indicator(rng: random.Random, name: str, pattern: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}",
        "created": CREATED,
        "modified": CREATED,
        "created_by_ref": IDENTITY_ID,
        "name": name,
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": CREATED,
    }


# --- lines ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hit:
    """A planted piece of text that must match ``value``."""

    text: str
    value: str


Piece = str | Hit


def render(pieces: list[Piece]) -> tuple[str, list[tuple[int, int, str, str]]]:
    """The line, and the (start, end, value, text) of every Hit in it."""
    out: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    position = 0
    for piece in pieces:
        text = piece.text if isinstance(piece, Hit) else piece
        if isinstance(piece, Hit):
            spans.append((position, position + len(text), piece.value, text))
        out.append(text)
        position += len(text)
    return "".join(out), spans


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(4 * digits):0{digits}x}"


def _mixed_case(rng: random.Random, text: str) -> str:
    """As a resolver using 0x20 randomisation sends a query name."""
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


class Background:
    """Pools of ordinary values, and the four log formats built from them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        sites = [f"{_label(rng)}.example" for _ in range(400)] + ["example.com", "example.net", "example.org"]
        prefixes = ("www", "cdn", "api", "static", "img", "login", "telemetry", "update")
        self.hosts = [f"{rng.choice(prefixes)}{rng.choice(('', '2', '-eu'))}.{rng.choice(sites)}" for _ in range(3000)]
        self.paths = [self._path() for _ in range(2000)]
        self.clients = [f"10.{rng.randrange(20, 40)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(600)]
        self.clients += [f"192.168.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(200)]
        self.clients += [
            f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(200)
        ]
        self.servers = [
            f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}" for _ in range(700)
        ]
        self.users = [f"{_label(rng)}.{_label(rng)}" for _ in range(300)]
        self.images = (
            "C:\\\\Windows\\\\System32\\\\svchost.exe",
            "C:\\\\Windows\\\\explorer.exe",
            "C:\\\\Program Files\\\\Mozilla Firefox\\\\firefox.exe",
            "C:\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\powershell.exe",
            "C:\\\\Windows\\\\System32\\\\cmd.exe",
        )
        self.computers = [f"WS-{rng.randrange(10000):04d}.corp.example" for _ in range(300)]
        self.clock = CLOCK_START

    def _path(self) -> str:
        words = ("static", "js", "css", "img", "api", "v2", "news", "search", "assets", "login", "user", "data")
        extensions = (".js", ".css", ".png", ".html", ".php", ".json", "")
        parts = self.rng.choices(words, k=self.rng.randint(1, 3))
        query = f"?id={self.rng.randrange(100000)}" if self.rng.random() < 0.3 else ""
        return "/" + "/".join(parts) + f"/{_label(self.rng)}{self.rng.choice(extensions)}{query}"

    def drop_if(self, holds_literal: Callable[[str], bool]) -> None:
        """Remove pool values that hold a literal, so lines start clean."""
        for name in ("hosts", "paths", "clients", "servers", "users", "computers"):
            values = [v for v in getattr(self, name) if not holds_literal(v.lower())]
            setattr(self, name, values)

    def tick(self) -> float:
        self.clock += self.rng.random() * 0.02
        return self.clock

    # Each format takes its variable fields as lists of pieces (a Hit is planted text).

    def squid(self, host: list[Piece] | None = None, server: list[Piece] | None = None, path: str = "") -> list[Piece]:
        rng = self.rng
        host = host or [rng.choice(self.hosts)]
        server = server or [rng.choice(self.servers)]
        client = rng.choice(self.clients)
        head = f"{self.tick():.3f} {rng.randrange(1, 3000):6d} {client} TCP_MISS/200 {rng.randrange(200, 200000)} "
        if rng.random() < 0.15 and not path:
            return [head, "CONNECT ", *host, ":443 - HIER_DIRECT/", *server, " -"]
        return [head, "GET http://", *host, path or rng.choice(self.paths), " - HIER_DIRECT/", *server, " text/html"]

    def bind(self, name: list[Piece] | None = None) -> list[Piece]:
        rng = self.rng
        name = name or [rng.choice(self.hosts)]
        stamp = time.strftime("%d-%b-%Y %H:%M:%S", time.gmtime(self.tick()))
        client = f"@0x{_hex(rng, 12)} {rng.choice(self.clients)}#{rng.randrange(1024, 65536)}"
        head = f"{stamp}.{rng.randrange(1000):03d} queries: info: client {client} ("
        kind = rng.choice(("A", "AAAA", "HTTPS"))
        return [head, *name, "): query: ", *name, f" IN {kind} +E(0)K (10.20.0.53)"]

    def iptables(self, src: list[Piece] | None = None, dst: list[Piece] | None = None) -> list[Piece]:
        rng = self.rng
        src = src or [rng.choice(self.clients)]
        dst = dst or [rng.choice(self.servers)]
        stamp = time.strftime("%b %d %H:%M:%S", time.gmtime(self.tick()))
        mac = ":".join(f"{rng.getrandbits(8):02x}" for _ in range(14))
        head = (
            f"{stamp} fw01 kernel: [{rng.randrange(10**6)}.{rng.randrange(10**6):06d}] IN=eth0 OUT=eth1 MAC={mac} SRC="
        )
        tail = (
            f" LEN={rng.randrange(40, 1500)} TOS=0x00 PREC=0x00 TTL={rng.choice((53, 64, 128))}"
            f" ID={rng.randrange(65536)} DF"
            f" PROTO=TCP SPT={rng.randrange(1024, 65536)} DPT={rng.choice((80, 443, 22, 53, 8080))}"
            f" WINDOW={rng.randrange(1024, 65536)} RES=0x00 SYN URGP=0"
        )
        return [head, *src, " DST=", *dst, tail]

    def _sysmon_head(self, event: int) -> str:
        rng = self.rng
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.tick()))
        guid = f"{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 4)}-{_hex(rng, 12)}"
        return (
            f'{{"EventID": {event}, "UtcTime": "{stamp}.{rng.randrange(1000):03d}", '
            f'"Computer": "{rng.choice(self.computers)}", "ProcessGuid": "{{{guid}}}", '
            f'"ProcessId": {rng.randrange(4, 20000)}, "Image": "{rng.choice(self.images)}"'
        )

    def sysmon_process(self, hashes: list[Piece] | None = None) -> list[Piece]:
        rng = self.rng
        sha1 = _hex(self.rng, 40).upper()
        hashes = hashes or []
        user = rng.choice(self.users)
        return [
            self._sysmon_head(1),
            f', "User": "CORP\\\\{user}", "IntegrityLevel": "Medium", "Hashes": "SHA1={sha1}',
            *hashes,
            '", "ParentImage": "C:\\\\Windows\\\\explorer.exe"}',
        ]

    def sysmon_dns(self, name: list[Piece] | None = None) -> list[Piece]:
        name = name or [self.rng.choice(self.hosts)]
        answer = f"::ffff:{self.rng.choice(self.servers)};"
        return [
            self._sysmon_head(22),
            ', "QueryName": "',
            *name,
            f'", "QueryStatus": "0", "QueryResults": "{answer}"}}',
        ]

    def line(self) -> list[Piece]:
        """One line of background traffic, formats mixed as a SIEM sees them."""
        draw = self.rng.random()
        if draw < 0.35:
            return self.squid()
        if draw < 0.65:
            return self.bind()
        if draw < 0.90:
            return self.iptables()
        if draw < 0.96:
            return self.sysmon_process()
        return self.sysmon_dns()


# --- planting -------------------------------------------------------------------


class Planter:
    """Builds lines with planted true hits, or near misses that must not hit."""

    def __init__(self, rng: random.Random, feed: Feed, background: Background) -> None:
        self.rng = rng
        self.feed = feed
        self.bg = background
        self.hits: list[tuple[float, Callable[[], list[Piece]]]] = _cumulative(
            (15, self.domain_in_url),
            (15, self.subdomain_in_url),
            (22, self.dns_query),
            (5, self.sysmon_query),
            (15, self.firewall_address),
            (5, self.squid_address),
            (18, self.sysmon_hashes),
        )
        self.misses: list[tuple[float, Callable[[], list[Piece]]]] = _cumulative(
            (20, self.domain_au),
            (20, self.domain_prefixed),
            (25, self.hash_in_longer_run),
            (20, self.address_with_fifth_part),
            (15, self.address_outside_range),
        )

    def hit(self) -> tuple[list[Piece], str]:
        return _pick(self.rng, self.hits)

    def miss(self) -> tuple[list[Piece], str]:
        return _pick(self.rng, self.misses)

    # Addresses and hosts to plant.

    def _address(self) -> tuple[str, str]:
        """(text, value): an indicator address, or any address inside an indicator CIDR."""
        feed, rng = self.feed, self.rng
        if feed.cidrs and (not feed.addresses or rng.random() < 0.4):
            network, prefix = rng.choice(feed.cidrs)
            return quad(network + rng.randrange(1 << (32 - prefix))), cidr_text(network, prefix)
        text = quad(rng.choice(feed.addresses))
        return text, text

    def _subdomain_of(self, domain: str) -> str:
        while True:
            host = f"{self.rng.choice(('www', 'mail', 'cdn', 'a1', 'login', 'x-7'))}.{domain}"
            if self.feed.domains_hit(host) == {domain}:
                return host

    # True hits.

    def domain_in_url(self) -> list[Piece]:
        domain = self.rng.choice(self.feed.domains)
        return self.bg.squid(host=[Hit(domain, domain)])

    def subdomain_in_url(self) -> list[Piece]:
        domain = self.rng.choice(self.feed.domains)
        prefix = self._subdomain_of(domain)[: -len(domain)]
        return self.bg.squid(host=[prefix, Hit(domain, domain)])

    def dns_query(self) -> list[Piece]:
        domain = self.rng.choice(self.feed.domains)
        host = self._subdomain_of(domain) if self.rng.random() < 0.5 else domain
        if self.rng.random() < 0.3:
            host = _mixed_case(self.rng, host)
        prefix, text = host[: -len(domain)], host[-len(domain) :]
        return self.bg.bind(name=[prefix, Hit(text, domain)])

    def sysmon_query(self) -> list[Piece]:
        domain = self.rng.choice(self.feed.domains)
        return self.bg.sysmon_dns(name=[Hit(domain, domain)])

    def firewall_address(self) -> list[Piece]:
        text, value = self._address()
        if self.rng.random() < 0.3:  # inbound
            return self.bg.iptables(src=[Hit(text, value)])
        return self.bg.iptables(dst=[Hit(text, value)])

    def squid_address(self) -> list[Piece]:
        text, value = self._address()
        # Squid writes the address twice: in the URL and as the peer.
        return self.bg.squid(host=[Hit(text, value)], server=[Hit(text, value)], path="/" + _label(self.rng))

    def sysmon_hashes(self) -> list[Piece]:
        rng, feed = self.rng, self.feed
        upper = rng.random() < 0.7  # Sysmon writes upper case
        md5 = rng.choice(feed.md5) if feed.md5 and rng.random() < 0.5 else None
        sha256 = rng.choice(feed.sha256) if feed.sha256 and (md5 is None or rng.random() < 0.3) else None

        def piece(value: str | None, digits: int) -> Piece:
            if value is None:
                return _hex(rng, digits).upper()
            return Hit(value.upper() if upper else value, value)

        return self.bg.sysmon_process(hashes=[",MD5=", piece(md5, 32), ",SHA256=", piece(sha256, 64)])

    # Near misses.

    def domain_au(self) -> list[Piece]:
        domain = self.rng.choice(self.feed.domains)
        host = f"{domain}.au" if self.rng.random() < 0.5 else f"www.{domain}.au"
        return self.bg.squid(host=[self._no_hit(host)])

    def domain_prefixed(self) -> list[Piece]:
        domain = self.rng.choice(self.feed.domains)
        return self.bg.bind(name=[self._no_hit(f"x{domain}")])

    def hash_in_longer_run(self) -> list[Piece]:
        rng, feed = self.rng, self.feed
        if feed.md5 and (not feed.sha256 or rng.random() < 0.5):
            run = _hex(rng, 16) + rng.choice(feed.md5) + _hex(rng, 16)  # an MD5 inside a 64-digit run
        else:
            run = rng.choice("0123456789abcdef") + rng.choice(feed.sha256)  # 65 digits
        md5 = _hex(rng, 32)
        return self.bg.sysmon_process(hashes=[f",MD5={md5.upper()},SHA256={run.upper()}"])

    def address_with_fifth_part(self) -> list[Piece]:
        text, _ = self._address()
        path = f"/agent/v{text}.{self.rng.randrange(10)}/setup.zip"
        return self.bg.squid(path=path)

    def address_outside_range(self) -> list[Piece]:
        feed, rng = self.feed, self.rng
        while True:
            network, prefix = rng.choice(feed.cidrs)
            outside = network - 1 if rng.random() < 0.5 else network + (1 << (32 - prefix))
            if 0 < outside < 1 << 32 and not feed.covering(outside):
                return self.bg.iptables(dst=[quad(outside)])

    def _no_hit(self, host: str) -> str:
        if self.feed.domains_hit(host):
            raise AssertionError(f"near miss {host!r} would hit {self.feed.domains_hit(host)}")
        return host


def _cumulative(*entries: tuple[int, Callable[[], list[Piece]]]) -> list[tuple[float, Callable[[], list[Piece]]]]:
    total = sum(weight for weight, _ in entries)
    out, running = [], 0
    for weight, make in entries:
        running += weight
        out.append((running / total, make))
    return out


def _pick(rng: random.Random, table: list[tuple[float, Callable[[], list[Piece]]]]) -> tuple[list[Piece], str]:
    draw = rng.random()
    for bound, make in table:
        if draw < bound:
            return make(), make.__name__
    return table[-1][1](), table[-1][1].__name__


# --- writing --------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    directory: Path

    @property
    def feed(self) -> Path:
        return self.directory / FEED

    @property
    def literals(self) -> Path:
        return self.directory / LITERALS

    @property
    def log(self) -> Path:
        return self.directory / LOG

    @property
    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.directory / SUMMARY).read_text())
        return result

    def truth(self) -> list[tuple[int, int, int, str]]:
        """Every expected match as (line, start, end, value)."""
        out = []
        with (self.directory / TRUTH).open(encoding="ascii") as stream:
            for row in stream:
                line, start, end, value, _ = row.rstrip("\n").split("\t")
                out.append((int(line), int(start), int(end), value))
        return out

    def line_flags(self) -> dict[int, tuple[bool, bool, bool, str]]:
        """line -> (holds a true hit, holds a literal as written, ignoring case, label)."""
        out = {}
        with (self.directory / LINES).open(encoding="ascii") as stream:
            for row in stream:
                line, hit, cs, ci, label = row.rstrip("\n").split("\t")
                out[int(line)] = (hit == "1", cs == "1", ci == "1", label)
        return out


def literal_automaton(literals: list[str]) -> Callable[[str], bool]:
    """A test 'does this text hold any literal' (grep -F's question)."""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_LENGTH)
    for literal in literals:
        automaton.add_word(literal)
    automaton.make_automaton()

    def holds(text: str) -> bool:
        return next(automaton.iter(text), None) is not None

    return holds


@dataclass
class Tally:
    lines: int = 0
    matches: int = 0
    hit_lines: int = 0
    literal_lines_cs: int = 0
    literal_lines_ci: int = 0
    labels: Counter[str] = field(default_factory=Counter)


def write_log(
    rng: random.Random,
    feed: Feed,
    holds: Callable[[str], bool],
    directory: Path,
    lines: int,
    hit_rate: float,
    miss_rate: float,
) -> Tally:
    background = Background(rng)
    background.drop_if(holds)
    planter = Planter(rng, feed, background)
    tally = Tally(lines=lines)
    with (
        (directory / LOG).open("w", encoding="ascii", newline="\n") as log,
        (directory / TRUTH).open("w", encoding="ascii") as truth,
        (directory / LINES).open("w", encoding="ascii") as flags,
    ):
        for number in range(1, lines + 1):
            draw = rng.random()
            if draw < hit_rate:
                pieces, label = planter.hit()
            elif draw < hit_rate + miss_rate:
                pieces, label = planter.miss()
            else:
                # Background pieces are plain text: no spans to keep.
                log.write("".join(cast(list[str], background.line())) + "\n")
                continue
            text, spans = render(pieces)
            log.write(text + "\n")
            _record(number, text, spans, label, holds, truth, flags, tally)
    return tally


def _record(
    number: int,
    text: str,
    spans: list[tuple[int, int, str, str]],
    label: str,
    holds: Callable[[str], bool],
    truth: IO[str],
    flags: IO[str],
    tally: Tally,
) -> None:
    for start, end, value, hit_text in spans:
        truth.write(f"{number}\t{start}\t{end}\t{value}\t{hit_text}\n")
    cs, ci = holds(text), holds(text.lower())
    flags.write(f"{number}\t{int(bool(spans))}\t{int(cs)}\t{int(ci)}\t{label}\n")
    tally.matches += len(spans)
    tally.hit_lines += bool(spans)
    tally.literal_lines_cs += cs
    tally.literal_lines_ci += ci
    tally.labels[label] += 1


def build(
    directory: Path,
    indicators: int,
    lines: int,
    seed: int = 1,
    hit_rate: float = 0.005,
    miss_rate: float = 0.005,
) -> Corpus:
    """Write a corpus into ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rng = random.Random(seed)
    feed = make_feed(rng, indicators)
    write_feed(rng, feed, directory / FEED, directory / LITERALS)
    holds = literal_automaton((directory / LITERALS).read_text(encoding="ascii").split())
    tally = write_log(rng, feed, holds, directory, lines, hit_rate, miss_rate)
    summary = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "indicators": indicators,
        "kinds": kind_counts(indicators),
        "lines": tally.lines,
        "log_bytes": (directory / LOG).stat().st_size,
        "matches": tally.matches,
        "hit_lines": tally.hit_lines,
        "literal_lines_cs": tally.literal_lines_cs,
        "literal_lines_ci": tally.literal_lines_ci,
        "planted": dict(sorted(tally.labels.items())),
        "seconds": round(time.perf_counter() - started, 1),
    }
    (directory / SUMMARY).write_text(json.dumps(summary, indent=2) + "\n")
    return Corpus(directory)


def cache_key(indicators: int, lines: int, seed: int, hit_rate: float, miss_rate: float) -> str:
    return f"v{GENERATOR_VERSION}-seed{seed}-n{indicators}-l{lines}-h{hit_rate:g}-m{miss_rate:g}"


def ensure(
    cache: Path, indicators: int, lines: int, seed: int = 1, hit_rate: float = 0.005, miss_rate: float = 0.005
) -> Corpus:
    """The cached corpus for these parameters, built first if missing."""
    directory = cache / cache_key(indicators, lines, seed, hit_rate, miss_rate)
    if (directory / SUMMARY).exists():
        return Corpus(directory)
    partial = directory.with_name(directory.name + ".partial")
    build(partial, indicators, lines, seed, hit_rate, miss_rate)
    partial.rename(directory)  # only a finished corpus is ever reused
    return Corpus(directory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indicators", type=lambda s: int(float(s)), default=10_000)
    parser.add_argument("--lines", type=lambda s: int(float(s)), default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hit-rate", type=float, default=0.005, help="share of lines with a planted true hit")
    parser.add_argument("--miss-rate", type=float, default=0.005, help="share of lines with a planted near miss")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    corpus = build(args.out, args.indicators, args.lines, args.seed, args.hit_rate, args.miss_rate)
    json.dump(corpus.summary, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
