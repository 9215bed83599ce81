#!/usr/bin/env python3
"""Write small deterministic sample logs with APT10 indicators planted in them.

    python tools/write_sample_logs.py [--bundle data/apt10.stix21.json] [--out data/samples]

Writes proxy.log (squid access.log), dns.log (BIND query log), firewall.log
(iptables kern.log and Cisco ASA lines) and sysmon.jsonl (one Sysmon event per
line), made of ordinary background traffic to well-known sites and documentation
or private addresses, with real indicator values from the bundle planted on some
lines, next to near misses that must not hit (SEMANTICS.md, "Boundaries, by kind").

expected.jsonl lists every planted true hit, one JSON object per occurrence:
file, line (1-based), start/end (0-based, half-open, in characters), kind, value
(the indicator's canonical value) and text (as it stands in the line). It is
ground truth by construction: spans are recorded while the lines are written.

Standard library only; the same bundle always gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import string
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BUNDLE = REPO / "data" / "apt10.stix21.json"
DEFAULT_OUT = REPO / "data" / "samples"
START = datetime(2026, 11, 2, 8, 0, 0, tzinfo=timezone.utc)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Kind names, as the library reports them.
DOMAIN = "domain-name"
SHA256 = "sha256"
REGISTRY_KEY = "windows-registry-key"

HOST_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
HEX_DIGITS = frozenset(string.hexdigits)


# --- indicators from the bundle ---------------------------------------------


@dataclass(frozen=True)
class Indicators:
    """Canonical indicator values by kind, sorted."""

    domains: tuple[str, ...]
    sha256: tuple[str, ...]
    registry_keys: tuple[str, ...]


_PATTERNS = {
    DOMAIN: re.compile(r"\[domain-name:value = '([^'\\]+)'\]"),
    SHA256: re.compile(r"\[file:hashes\.'SHA-256' = '([0-9A-Fa-f]{64})'\]"),
    REGISTRY_KEY: re.compile(r"\[windows-registry-key:key = '((?:[^'\\]|\\.)+)'\]"),
}


def load_indicators(bundle_path: Path) -> Indicators:
    found: dict[str, set[str]] = {kind: set() for kind in _PATTERNS}
    bundle = json.loads(bundle_path.read_text(encoding="utf-8"))
    for obj in bundle["objects"]:
        if obj["type"] != "indicator":
            continue
        for kind, regex in _PATTERNS.items():
            match = regex.fullmatch(obj["pattern"])
            if match:
                found[kind].add(canonical(kind, match.group(1)))
                break
        else:
            raise SystemExit(f"{obj['id']}: pattern not understood: {obj['pattern']}")
    return Indicators(tuple(sorted(found[DOMAIN])), tuple(sorted(found[SHA256])), tuple(sorted(found[REGISTRY_KEY])))


def canonical(kind: str, literal: str) -> str:
    if kind == REGISTRY_KEY:
        return re.sub(r"\\(.)", r"\1", literal)  # undo the pattern's string escapes
    return literal.lower()


# --- lines with recorded spans ----------------------------------------------


@dataclass(frozen=True)
class Hit:
    """A planted true hit; ``text`` is as planted, before the log format escapes it."""

    kind: str
    value: str
    text: str


@dataclass(frozen=True)
class Miss:
    """A planted near miss: holds an indicator's text, but must not hit."""

    text: str


Piece = Hit | Miss


@dataclass(frozen=True)
class Placed:
    piece: Piece
    start: int
    end: int
    text: str


_MARK = re.compile("\ue000(\\d+)\ue001")


@dataclass
class Ctx:
    """What a line writer gets: the random source, the line's time, and a way
    to plant pieces (each returns a marker, replaced when the line is rendered)."""

    rng: random.Random
    when: datetime
    pieces: list[Piece] = field(default_factory=list)

    def hit(self, kind: str, value: str, text: str | None = None) -> str:
        return self._mark(Hit(kind, value, value if text is None else text))

    def miss(self, text: str) -> str:
        return self._mark(Miss(text))

    def _mark(self, piece: Piece) -> str:
        self.pieces.append(piece)
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
        placed.append(Placed(piece, position, position + len(text), text))
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


def proxy_plants(d: Callable[[], str], m: Callable[[], str]) -> list[Callable[[Ctx], str]]:
    """Each call of ``d`` names the next domain to plant as a hit, of ``m`` as a near miss."""

    def exact_url(ctx: Ctx) -> str:
        dom = d()
        return squid_line(ctx, "GET", f"http://{ctx.hit(DOMAIN, dom)}/index.php?id=2016", 200, "text/html")

    def www_url(ctx: Ctx) -> str:
        dom = d()
        return squid_line(ctx, "GET", f"http://www.{ctx.hit(DOMAIN, dom)}/images/logo.gif")

    def connect(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"{ctx.hit(DOMAIN, d())}:443")

    def upper_url(ctx: Ctx) -> str:
        dom = d()
        return squid_line(ctx, "GET", f"HTTP://{ctx.hit(DOMAIN, dom, dom.upper())}/", 200)

    def fqdn_dot(ctx: Ctx) -> str:  # a trailing root dot still ends the name
        return squid_line(ctx, "CONNECT", f"{ctx.hit(DOMAIN, d())}.:443")

    def two_hits(ctx: Ctx) -> str:
        first, second = d(), d()
        target = f"http://{ctx.hit(DOMAIN, first)}/r?u=http://{ctx.hit(DOMAIN, second)}/update"
        return squid_line(ctx, "GET", target, 302)

    def in_query(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://www.google.com/search?q={ctx.hit(DOMAIN, d())}", 200)

    def mixed_case_subdomain(ctx: Ctx) -> str:
        dom = d()
        return squid_line(ctx, "GET", f"http://WWW.{ctx.hit(DOMAIN, dom, dom.title())}/", 200)

    def suffix_extended(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.miss(m() + '.au')}/", 200)

    def prefixed(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"{ctx.miss('x' + m())}:443")

    def cdn_suffix(ctx: Ctx) -> str:
        return squid_line(ctx, "GET", f"http://{ctx.miss(m() + '-cdn')}.example.net/lib.js", 200)

    def parent(ctx: Ctx) -> str:  # an indicator does not hit its parent domain
        return squid_line(ctx, "GET", f"http://{m().split('.', 1)[1]}/", 404)

    def sibling(ctx: Ctx) -> str:
        return squid_line(ctx, "CONNECT", f"osaka.{m().split('.', 1)[1]}:443")

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
        suffix_extended,
        prefixed,
        cdn_suffix,
        parent,
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


def dns_plants(d: Callable[[], str], m: Callable[[], str]) -> list[Callable[[Ctx], str]]:
    def hits(ctx: Ctx, value: str, text: str, prefix: str = "") -> Callable[[], str]:
        return lambda: prefix + ctx.hit(DOMAIN, value, text)

    def exact(ctx: Ctx) -> str:
        dom = d()
        return bind_query(ctx, hits(ctx, dom, dom))

    def subdomain(ctx: Ctx) -> str:
        dom = d()
        return bind_query(ctx, hits(ctx, dom, dom, "www."))

    def upper(ctx: Ctx) -> str:
        dom = d()
        return bind_query(ctx, hits(ctx, dom, dom.upper()))

    def aaaa(ctx: Ctx) -> str:
        dom = d()
        return bind_query(ctx, hits(ctx, dom, dom), "AAAA")

    def failure(ctx: Ctx) -> str:
        dom = d()
        return bind_failure(ctx, hits(ctx, dom, dom))

    def near(make: Callable[[str], str]) -> Callable[[Ctx], str]:
        def line(ctx: Ctx) -> str:
            text = make(m())
            return bind_query(ctx, lambda: ctx.miss(text))

        return line

    return [
        exact,
        subdomain,
        upper,
        aaaa,
        failure,
        exact,
        near(lambda dom: dom + ".au"),
        near(lambda dom: "x" + dom),
        near(lambda dom: dom + "-cdn.example.net"),
        near(lambda dom: dom + ".local"),
        near(lambda dom: dom.split(".", 1)[1]),  # the parent domain
    ]


# --- firewall.log: iptables (kern.log) and Cisco ASA -------------------------


def iptables_line(ctx: Ctx) -> str:
    rng = ctx.rng
    uptime = 86_400 + (ctx.when - START).total_seconds()
    outbound = rng.random() < 0.7
    if rng.random() < 0.15:  # IPv6, RFC 3849 documentation prefix
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
        action, interfaces, src, dst = "FW-OUT-ACCEPT", "IN=eth1 OUT=eth0", inside, outside
    else:
        action, interfaces, src, dst = "FW-IN-DROP", "IN=eth0 OUT=", outside, inside
    ports = f"SPT={rng.randint(1024, 65535)} DPT={dpt}"
    if proto == "TCP":
        ports += f" WINDOW={rng.choice((64240, 65535, 29200))} RES=0x00 SYN URGP=0"
    else:
        ports += f" LEN={rng.randint(16, 512)}"
    return (
        f"{syslog_time(ctx.when)} fw01 kernel: [{uptime:.6f}] {action} {interfaces} "
        f"SRC={src} DST={dst} {header} PROTO={proto} {ports}"
    )


def asa_line(ctx: Ctx, message: str) -> str:
    return f"{syslog_time(ctx.when)} asa01 : {message}"


def asa_connection(ctx: Ctx) -> str:
    rng = ctx.rng
    conn, inside, outside = rng.randint(100_000, 999_999), client_ip(rng), doc_ip(rng)
    sport, dport = rng.randint(1024, 65535), rng.choice((443, 443, 80, 53))
    if rng.random() < 0.5:
        return asa_line(
            ctx,
            f"%ASA-6-302013: Built outbound TCP connection {conn} for outside:{outside}/{dport} "
            f"({outside}/{dport}) to inside:{inside}/{sport} (192.0.2.10/{sport})",
        )
    if rng.random() < 0.6:
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


def firewall_background(ctx: Ctx) -> str:
    roll = ctx.rng.random()
    if roll < 0.5:
        return iptables_line(ctx)
    if roll < 0.85:
        return asa_connection(ctx)
    return asa_url(ctx, f"http://{ctx.rng.choice(BENIGN_SITES)}{ctx.rng.choice(PATHS)}")


def firewall_plants(d: Callable[[], str], m: Callable[[], str]) -> list[Callable[[Ctx], str]]:
    def exact_url(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.hit(DOMAIN, d())}/index.html")

    def www_url(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://www.{ctx.hit(DOMAIN, d())}/")

    def upper_url(ctx: Ctx) -> str:
        dom = d()
        return asa_url(ctx, f"HTTP://{ctx.hit(DOMAIN, dom, dom.upper())}/DEFAULT.ASPX")

    def dynamic_filter(ctx: Ctx) -> str:
        return asa_dynamic_filter(ctx, ctx.hit(DOMAIN, d()))

    def suffix_extended(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.miss(m() + '.au')}/")

    def prefixed(ctx: Ctx) -> str:
        return asa_url(ctx, f"http://{ctx.miss('x' + m())}/")

    def cdn_suffix(ctx: Ctx) -> str:
        return asa_dynamic_filter(ctx, ctx.miss(m() + "-cdn.example.net"))

    return [exact_url, www_url, upper_url, dynamic_filter, exact_url, suffix_extended, prefixed, cdn_suffix]


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
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


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


def registry_event(ctx: Ctx, image: str, target: str, details: str) -> dict[str, object]:
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
    if roll < 0.6:
        return network_event(ctx, image, rng.choice(BENIGN_SITES))
    if roll < 0.75:
        target, details = rng.choice(background_registry_values(user))
        return registry_event(ctx, image, target, details)
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


def sysmon_plants(
    ind: Indicators, d: Callable[[], str], m: Callable[[], str]
) -> list[Callable[[Ctx], dict[str, object]]]:
    plants: list[Callable[[Ctx], dict[str, object]]] = []

    def with_hash(value: str, lower: bool, command_domain: bool) -> Callable[[Ctx], dict[str, object]]:
        def event(ctx: Ctx) -> dict[str, object]:
            user = ctx.rng.choice(USERS)
            image = dropped_image(ctx, user)
            text = value if lower else value.upper()
            hashes = hashes_field(image_hashes(image), SHA256=ctx.hit(SHA256, value, text))
            command = f'"{image}"'
            if command_domain:  # a second, different hit on the same line
                command += f" -u https://{ctx.hit(DOMAIN, d())}/ChChes -p 443"
            return process_event(ctx, image, hashes, command, user)

        return event

    # Every SHA-256 once; Sysmon writes upper case, a few pipelines lower it.
    for index, value in enumerate(ind.sha256):
        plants.append(with_hash(value, lower=index % 8 == 7, command_domain=index in (0, 11)))

    def near_hash(ctx: Ctx, *, embedded: bool) -> dict[str, object]:
        user = ctx.rng.choice(USERS)
        image = dropped_image(ctx, user)
        value = ctx.rng.choice(ind.sha256).upper()
        if embedded:  # the value inside a longer run of hex digits is not that hash
            command = f'"{image}" --blob {ctx.miss("9F3C" + value + "77E1")}'
            return process_event(ctx, image, hashes_field(image_hashes(image)), command, user)
        changed = value[:31] + ("0" if value[31] != "0" else "1") + value[32:]  # one digit off
        return process_event(ctx, image, hashes_field(image_hashes(image), SHA256=changed), f'"{image}"', user)

    plants.append(lambda ctx: near_hash(ctx, embedded=False))
    plants.append(lambda ctx: near_hash(ctx, embedded=True))

    for key in ind.registry_keys:
        plants.extend(registry_plants(key))

    def hostname(ctx: Ctx, prefix: str = "", upper: bool = False) -> dict[str, object]:
        dom = d()
        text = dom.upper() if upper else dom
        image = ctx.rng.choice(BENIGN_IMAGES[4:8])
        return network_event(ctx, image, prefix + ctx.hit(DOMAIN, dom, text))

    def query(ctx: Ctx, prefix: str = "") -> dict[str, object]:
        return dns_event(ctx, ctx.rng.choice(BENIGN_IMAGES[4:8]), prefix + ctx.hit(DOMAIN, d()))

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


def registry_plants(key: str) -> list[Callable[[Ctx], dict[str, object]]]:
    """The Run-key value as Sysmon writes it for a user (HKU\\<SID>\\...), as HKCU\\...,
    and near misses: a longer value name, and the same name under RunOnce."""
    hive, rest = key.split("\\", 1)
    if hive not in ("HKEY_CURRENT_USER", "HKCU"):
        raise SystemExit(f"registry key outside HKCU not planned for: {key}")

    def set_value(ctx: Ctx, target: Callable[[str], str]) -> dict[str, object]:
        user = ctx.rng.choice(USERS[:3])
        image = dropped_image(ctx, user)
        return registry_event(ctx, image, target(user), image)

    def hku(ctx: Ctx) -> dict[str, object]:
        return set_value(ctx, lambda user: ctx.hit(REGISTRY_KEY, key, f"HKU\\{sid_for(user)}\\{rest}"))

    def hku_upper_software(ctx: Ctx) -> dict[str, object]:  # keys compare case-insensitively
        upper = rest.replace("Software", "SOFTWARE", 1)
        return set_value(ctx, lambda user: ctx.hit(REGISTRY_KEY, key, f"HKU\\{sid_for(user)}\\{upper}"))

    def hkcu(ctx: Ctx) -> dict[str, object]:
        return set_value(ctx, lambda user: ctx.hit(REGISTRY_KEY, key, f"HKCU\\{rest}"))

    def longer_name(ctx: Ctx) -> dict[str, object]:
        return set_value(ctx, lambda user: ctx.miss(f"HKU\\{sid_for(user)}\\{rest}2"))

    def run_once(ctx: Ctx) -> dict[str, object]:
        other = rest.replace("\\Run\\", "\\RunOnce\\", 1)
        return set_value(ctx, lambda user: f"HKU\\{sid_for(user)}\\{other}")

    return [hku, hku_upper_software, hkcu, longer_name, run_once]


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


def write_log(spec: LogSpec) -> tuple[list[str], list[Expected], list[list[Placed]]]:
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
        ctx = Ctx(rng, when)
        made = planted.get(index, spec.background)(ctx)
        if spec.json_lines:
            text, placed = render(json.dumps(made, ensure_ascii=False), ctx.pieces, json_string_body)
        else:
            text, placed = render(str(made), ctx.pieces, plain)
        lines.append(text)
        placements.append(placed)
        expected += [
            Expected(spec.name, index + 1, p.start, p.end, p.piece.kind, p.piece.value, p.text)
            for p in placed
            if isinstance(p.piece, Hit)
        ]
    return lines, expected, placements


# --- checking what was written against the contract -------------------------


def needles(ind: Indicators) -> list[tuple[str, str]]:
    """(kind, lower-case text) for every indicator, as it can stand in a line."""
    out = [(DOMAIN, dom) for dom in ind.domains] + [(SHA256, value) for value in ind.sha256]
    for key in ind.registry_keys:
        rest = "\\" + key.split("\\", 1)[1].lower()
        out += [(REGISTRY_KEY, rest), (REGISTRY_KEY, json_string_body(rest))]
    return out


def counts(kind: str, line: str, start: int, end: int) -> bool:
    """SEMANTICS.md's boundary rule at one occurrence (the hive is checked by construction)."""
    before = line[start - 1] if start > 0 else ""
    after = line[end] if end < len(line) else ""
    following = line[end + 1] if end + 1 < len(line) else ""
    if kind == DOMAIN:
        return before not in HOST_CHARS and after not in HOST_CHARS and not (after == "." and following in HOST_CHARS)
    if kind == SHA256:
        return before not in HEX_DIGITS and after not in HEX_DIGITS
    return not (after.isalnum() or after == "_")


def check_log(name: str, lines: list[str], placements: list[list[Placed]], ind: Indicators) -> None:
    """Every occurrence of an indicator's text is a planted piece: a hit where the
    contract says it counts, a near miss where it says it does not."""
    problems: list[str] = []
    for number, (line, placed) in enumerate(zip(lines, placements, strict=True), start=1):
        low = line.lower()
        for kind, needle in needles(ind):
            start = low.find(needle)
            while start != -1:
                end = start + len(needle)
                owner = next((p for p in placed if p.start <= start and end <= p.end), None)
                verdict = counts(kind, line, start, end)
                if owner is None:
                    problems.append(f"{name}:{number}: unplanned {needle!r}")
                elif isinstance(owner.piece, Hit) and not verdict:
                    problems.append(f"{name}:{number}: planted hit {owner.text!r} would not count")
                elif isinstance(owner.piece, Miss) and verdict:
                    problems.append(f"{name}:{number}: near miss {owner.text!r} would hit")
                start = low.find(needle, start + 1)
        for p in placed:
            if isinstance(p.piece, Hit) and line[p.start : p.end] != p.text:
                problems.append(f"{name}:{number}: span of {p.text!r} is off")
    if problems:
        raise SystemExit("sample check failed:\n  " + "\n  ".join(problems))


# --- main --------------------------------------------------------------------


def cycler(values: tuple[str, ...]) -> Callable[[], str]:
    """The next value on each call, round and round, so every value gets planted."""
    state = {"next": 0}

    def pick() -> str:
        value = values[state["next"] % len(values)]
        state["next"] += 1
        return value

    return pick


def specs(ind: Indicators) -> list[LogSpec]:
    # Hits and near misses draw from separate cycles, so every domain gets hit.
    d, m = cycler(ind.domains), cycler(ind.domains[::-1])
    return [
        LogSpec("proxy.log", 600, proxy_background, proxy_plants(d, m)),
        LogSpec("dns.log", 500, dns_background, dns_plants(d, m)),
        LogSpec("firewall.log", 400, firewall_background, firewall_plants(d, m)),
        LogSpec("sysmon.jsonl", 450, sysmon_background, sysmon_plants(ind, d, m), json_lines=True),
    ]


def write_samples(bundle: Path, out: Path) -> dict[str, tuple[int, int]]:
    """Write every log and expected.jsonl; return {file: (lines, hits)}."""
    ind = load_indicators(bundle)
    out.mkdir(parents=True, exist_ok=True)
    all_expected: list[Expected] = []
    summary: dict[str, tuple[int, int]] = {}
    for spec in specs(ind):
        lines, expected, placements = write_log(spec)
        check_log(spec.name, lines, placements, ind)
        write_lines(out / spec.name, lines)
        all_expected += expected
        summary[spec.name] = (len(lines), len(expected))
    missing = set(ind.domains + ind.sha256 + ind.registry_keys) - {e.value for e in all_expected}
    if missing:
        raise SystemExit(f"indicators never planted as a hit: {sorted(missing)}")
    records = [json.dumps(vars(e), ensure_ascii=False) for e in all_expected]
    write_lines(out / "expected.jsonl", records)
    return summary


def write_lines(path: Path, lines: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.writelines(line + "\n" for line in lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="STIX 2.1 bundle to plant from")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory to write the samples to")
    args = parser.parse_args(argv)
    for name, (lines, hits) in write_samples(args.bundle, args.out).items():
        print(f"{args.out / name}: {lines} lines, {hits} planted hits", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
