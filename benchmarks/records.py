#!/usr/bin/env python3
"""``iocmatch scan`` as text against ``iocmatch scan --events auto``, side by side on structured logs.

    .venv/bin/python benchmarks/records.py [--conn-lines 200000] [--sysmon-lines 100000] [--repeat 3]

Generates, from ``--seed``, a feed and two logs in a temporary folder (or ``--work``):

* ``feed.stix21.json``: a STIX 2.1 bundle of 2,000 IPv4 addresses and 2,000
  domains (``[path = 'value']``), and four patterns only records can judge
  in full: an address with its destination port (AND), the same for another
  address with ``dst_port != 80``, ``[process:command_line LIKE '%-enc %']``
  and ``([address AND port 4444] FOLLOWEDBY [network-traffic:dst_port = 22])
  WITHIN 60 SECONDS``.
* ``conn.log``: a Zeek conn.log (TSV, with Zeek's ``#`` header and
  ``#close``), a connection every 50 ms on average (a smaller log
  spans 1,000 s all the same, for the ``FOLLOWEDBY`` pairs);
* ``sysmon.ndjson``: Sysmon process creations, network connections and DNS
  queries as Winlogbeat writes them (``winlog.event_data`` and ECS fields,
  ``message``).

Background traffic holds no feed value. ``--plants`` lines of every kind are
planted, and the generator records what each must give (the ground truth):

* hits both modes report: a feed address as destination, a feed domain
  queried, the address and port pair as destination;
* hits only records can judge: the address with ``dst_port != 80`` (443), an
  encoded PowerShell command line (``-enc``), and one connection to port 22
  30 s after a connection to the ``FOLLOWEDBY`` address and port (one hit of
  two records, on the second's line);
* near misses, which ``--events`` must not report: the pair's port as the
  SOURCE port, a subdomain of a feed domain (text mode hits both, as text
  semantics say), the ``!=`` address on port 80, ``-encodedcommand``, and a
  ``FOLLOWEDBY`` pair 90 s apart.

Every run is checked: ``--events`` must report exactly the planted field hits
(file, line, indicator) and the one hit of several records (its records'
lines), nothing as text; text mode must hit at least the planted lines it can
see, and no background line. The lines text mode hits that ``--events`` does
not are counted (all planted near misses). Any mismatch: exit 1.

Each command runs as a process (``python -m iocmatch scan --format jsonl``,
output to a file), ``--repeat`` times, the runs taking turns; the same
command on an empty log gives the load (start-up, loading, compiling), so the
per-line rate is lines / (median wall - median load). Peak memory is each
child's ``ru_maxrss`` (``os.wait4``). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import random
import shlex
import statistics
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

from compare import Run, host, iocmatch_env, run_process, warm

START = datetime(2024, 5, 31, 16, 0, 0, tzinfo=timezone.utc)
PAIR = ("203.0.113.9", 8060)  # [dst_ref.value = .. AND dst_port = 8060]
NOT_80 = "203.0.113.77"  # [dst_ref.value = .. AND dst_port != 80]
BEACON = ("198.51.100.23", 4444)  # the first observation of the FOLLOWEDBY pattern
SSH = 22
LIKE_ENC = "[process:command_line LIKE '%-enc %']"
TLDS = ("com", "net", "info", "xyz", "top", "biz")
WORDS = ("update", "cdn", "login", "secure", "mail", "sync", "cloud", "static", "api", "portal")
# Background ports: never the pair's, the beacon's or SSH, so only planted lines hold them.
PORTS = (443, 443, 443, 80, 53, 123, 8080, 3389, 445, 993)
BACKGROUND_DOMAINS = (
    "www.microsoft.com", "login.live.com", "settings-win.data.microsoft.com", "ctldl.windowsupdate.com",
    "www.google.com", "outlook.office365.com", "github.com", "slack.com", "zoom.us", "s3.amazonaws.com",
)  # fmt: skip
PROGRAMS = (
    ("C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule"),
    ("C:\\Windows\\System32\\conhost.exe", "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"),
    ("C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
     '"C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe" --type=renderer --lang=en-US'),
    ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\ProgramData\\inventory.ps1"),
    ("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
     "powershell.exe -NoProfile -Command Get-Content C:\\logs\\app.log -Encoding UTF8"),
    ("C:\\Windows\\System32\\cmd.exe", 'cmd.exe /c "C:\\Windows\\Temp\\cleanup.bat"'),
)  # fmt: skip
POWERSHELL = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"
ZEEK_COLUMNS = {
    "ts": "time", "uid": "string", "id.orig_h": "addr", "id.orig_p": "port", "id.resp_h": "addr",
    "id.resp_p": "port", "proto": "enum", "service": "string", "duration": "interval", "orig_bytes": "count",
    "resp_bytes": "count", "conn_state": "string", "local_orig": "bool", "local_resp": "bool",
    "missed_bytes": "count", "history": "string", "orig_pkts": "count", "orig_ip_bytes": "count",
    "resp_pkts": "count", "resp_ip_bytes": "count", "tunnel_parents": "set[string]",
}  # fmt: skip
SERVICES = {443: "ssl", 80: "http", 53: "dns", 123: "ntp", 8080: "http", 3389: "-", 445: "-", 993: "ssl", SSH: "ssh"}


# --- the feed and the ground truth --------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    addresses: list[str]
    domains: list[str]
    ids: dict[str, str]  # pattern -> indicator id
    bundle: dict[str, Any]

    def pattern_id(self, pattern: str) -> str:
        return self.ids[pattern]


def pair_pattern(address: str, port: int) -> str:
    return f"[network-traffic:dst_ref.value = '{address}' AND network-traffic:dst_port = {port}]"


NOT_80_PATTERN = f"[network-traffic:dst_ref.value = '{NOT_80}' AND network-traffic:dst_port != 80]"
FOLLOWEDBY = f"({pair_pattern(*BEACON)} FOLLOWEDBY [network-traffic:dst_port = {SSH}]) WITHIN 60 SECONDS"


def make_feed(rng: random.Random, count: int = 2000) -> Feed:
    addresses: set[str] = set()
    while len(addresses) < count:  # 185/8: no background address is in it
        addresses.add(f"185.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randint(1, 254)}")
    domains: set[str] = set()
    while len(domains) < count:  # a dash and six hex digits: no background name has them
        domains.add(f"{rng.choice(WORDS)}-{rng.getrandbits(24):06x}.{rng.choice(TLDS)}")
    patterns = [
        *(f"[ipv4-addr:value = '{a}']" for a in sorted(addresses)),
        *(f"[domain-name:value = '{d}']" for d in sorted(domains)),
        pair_pattern(*PAIR), NOT_80_PATTERN, LIKE_ENC, FOLLOWEDBY,
    ]  # fmt: skip
    ids = {pattern: f"indicator--{uuid.UUID(int=rng.getrandbits(128), version=4)}" for pattern in patterns}
    objects = [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": ids[pattern],
            "created": "2024-01-02T00:00:00.000Z",
            "modified": "2024-01-02T00:00:00.000Z",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2024-01-02T00:00:00Z",
        }
        for pattern in patterns
    ]
    bundle = {"type": "bundle", "id": f"bundle--{uuid.UUID(int=rng.getrandbits(128), version=4)}", "objects": objects}
    return Feed(sorted(addresses), sorted(domains), ids, bundle)


def address_id(feed: Feed, address: str) -> str:
    return feed.ids[f"[ipv4-addr:value = '{address}']"]


def domain_id(feed: Feed, domain: str) -> str:
    return feed.ids[f"[domain-name:value = '{domain}']"]


@dataclass
class Truth:
    """What one log must give, recorded as its lines are written."""

    path: Path
    lines: int = 0
    kinds: dict[int, str] = field(default_factory=dict)  # planted line -> kind
    fields: set[tuple[int, str]] = field(default_factory=set)  # --events: (line, indicator), one record
    joined: set[tuple[int, str, tuple[int, ...]]] = field(default_factory=set)  # (line, indicator, records' lines)
    text: set[int] = field(default_factory=set)  # lines text mode must hit
    near_misses: set[int] = field(default_factory=set)  # planted lines --events must not hit

    def plant(self, line: int, kind: str, *, hit: str | None = None, text: bool = False) -> None:
        self.kinds[line] = kind
        if hit:
            self.fields.add((line, hit))
        else:
            self.near_misses.add(line)
        if text:
            self.text.add(line)

    def events_lines(self) -> set[int]:
        return {line for line, _ in self.fields} | {line for line, _, _ in self.joined}


# --- the logs --------------------------------------------------------------------------------


def times(rng: random.Random, count: int) -> list[float]:
    """Seconds from START, increasing; at least 1,000 s in all, so that FOLLOWEDBY pairs fit."""
    gap = max(0.05, 1000 / max(count, 1))
    at, out = 0.0, []
    for _ in range(count):
        at += rng.expovariate(1 / gap)
        out.append(at)
    return out


def plan(rng: random.Random, count: int, kinds: list[str], plants: int, taken: set[int]) -> dict[int, str]:
    """Record index -> kind, ``plants`` of each kind, on records not ``taken``."""
    free = [index for index in range(count) if index not in taken]
    chosen = rng.sample(free, min(len(free), plants * len(kinds)))
    return {index: kinds[n % len(kinds)] for n, index in enumerate(chosen)}


def first_after(seconds: list[float], at: float) -> int:
    return next(index for index, value in enumerate(seconds) if value >= at)


def write_conn(path: Path, feed: Feed, count: int, plants: int, rng: random.Random) -> Truth:
    truth = Truth(path)
    seconds = times(rng, count)
    # FOLLOWEDBY: port 22 30 s after the beacon (one hit), then 90 s after it (none), far apart.
    beacon, beacon_late = first_after(seconds, seconds[-1] * 0.25), first_after(seconds, seconds[-1] * 0.55)
    ssh, ssh_late = first_after(seconds, seconds[beacon] + 30), first_after(seconds, seconds[beacon_late] + 90)
    joins = {beacon: "beacon", ssh: "ssh 30 s after", beacon_late: "beacon", ssh_late: "ssh 90 s after"}
    kinds = ["address", "pair", "pair port as source", "!= 80 on 443", "!= 80 on 80"]
    planted = {**plan(rng, count, kinds, plants, set(joins)), **joins}
    header = [
        "#separator \\x09", "#set_separator\t,", "#empty_field\t(empty)", "#unset_field\t-", "#path\tconn",
        f"#open\t{START:%Y-%m-%d-%H-%M-%S}", "\t".join(["#fields", *ZEEK_COLUMNS]),
        "\t".join(["#types", *ZEEK_COLUMNS.values()]),
    ]  # fmt: skip
    with path.open("w", encoding="ascii") as out:
        out.write("\n".join(header) + "\n")
        line = len(header)
        for index, at in enumerate(seconds):
            line += 1
            kind = planted.get(index)
            source, source_port = f"10.20.{rng.randint(0, 3)}.{rng.randint(2, 254)}", rng.randint(49152, 65535)
            target, port = background_address(rng), rng.choice(PORTS)
            if kind == "address":
                target = rng.choice(feed.addresses)
                truth.plant(line, kind, hit=address_id(feed, target), text=True)
            elif kind == "pair":
                target, port = PAIR
                truth.plant(line, kind, hit=feed.pattern_id(pair_pattern(*PAIR)), text=True)
            elif kind == "pair port as source":
                (target, source_port), port = PAIR, 443
                truth.plant(line, kind, text=True)
            elif kind in ("!= 80 on 443", "!= 80 on 80"):
                target, port = NOT_80, 443 if kind.endswith("443") else 80
                truth.plant(line, kind, hit=feed.pattern_id(NOT_80_PATTERN) if port == 443 else None)
            elif kind == "beacon":
                target, port = BEACON
                truth.kinds[line] = kind  # a hit only with its SSH connection, below
            elif kind in ("ssh 30 s after", "ssh 90 s after"):
                target, port = f"10.20.0.{rng.randint(2, 254)}", SSH
                truth.kinds[line] = kind
            out.write(conn_line(rng, at, source, source_port, target, port) + "\n")
        out.write(f"#close\t{START + timedelta(seconds=seconds[-1] + 1):%Y-%m-%d-%H-%M-%S}\n")
        truth.lines = line + 1
    first_line, late_line = len(header) + 1 + beacon, len(header) + 1 + beacon_late
    ssh_line, ssh_late_line = len(header) + 1 + ssh, len(header) + 1 + ssh_late
    truth.joined.add((ssh_line, feed.pattern_id(FOLLOWEDBY), (first_line, ssh_line)))
    truth.near_misses |= {late_line, ssh_late_line}
    return truth


def background_address(rng: random.Random) -> str:
    return (
        rng.choice(("93.184", "151.101", "142.250", "52.96", "104.16")) + f".{rng.randrange(256)}.{rng.randint(1, 254)}"
    )


def conn_line(rng: random.Random, at: float, source: str, source_port: int, target: str, port: int) -> str:
    ts = (START + timedelta(seconds=at)).timestamp()
    sent, received = rng.randint(0, 4000), rng.randint(0, 90000)
    packets_out, packets_in = rng.randint(1, 40), rng.randint(1, 80)
    proto = "udp" if port in (53, 123) else "tcp"
    uid = "C" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(17))
    return "\t".join([
        f"{ts:.6f}", uid, source, str(source_port), target, str(port), proto, SERVICES.get(port, "-"),
        f"{rng.uniform(0.001, 30):.6f}", str(sent), str(received), "SF", "T", "F", "0",
        "ShADadFf" if proto == "tcp" else "Dd", str(packets_out), str(sent + 40 * packets_out),
        str(packets_in), str(received + 40 * packets_in), "(empty)",
    ])  # fmt: skip


def write_sysmon(path: Path, feed: Feed, count: int, plants: int, rng: random.Random) -> Truth:
    truth = Truth(path)
    enc = feed.pattern_id(LIKE_ENC)
    kinds = ["encoded command", "-encodedcommand", "address", "domain", "subdomain"]
    planted = plan(rng, count, kinds, plants, set())
    with path.open("w", encoding="ascii") as out:
        for line, at in enumerate(times(rng, count), 1):
            kind = planted.get(line - 1)
            when = START + timedelta(seconds=at)
            if kind in ("encoded command", "-encodedcommand"):
                payload = base64.b64encode(
                    f"IEX (New-Object Net.WebClient).DownloadString('{line}')".encode("utf-16-le")
                )
                flag = "-enc" if kind == "encoded command" else "-encodedcommand"
                command = f"powershell.exe -nop -w hidden {flag} {payload.decode()}"
                event = process_creation(rng, when, POWERSHELL, command)
                truth.plant(line, kind, hit=enc if kind == "encoded command" else None)
            elif kind == "address":
                target = rng.choice(feed.addresses)
                event = network_connection(rng, when, target, 443)
                truth.plant(line, kind, hit=address_id(feed, target), text=True)
            elif kind in ("domain", "subdomain"):
                domain = rng.choice(feed.domains)
                event = dns_query(rng, when, domain if kind == "domain" else f"cdn.{domain}")
                truth.plant(line, kind, hit=domain_id(feed, domain) if kind == "domain" else None, text=True)
            else:
                event = background_event(rng, when)
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
        truth.lines = count
    return truth


def background_event(rng: random.Random, when: datetime) -> dict[str, Any]:
    draw = rng.random()
    if draw < 0.5:
        return process_creation(rng, when, *rng.choice(PROGRAMS))
    if draw < 0.8:
        return network_connection(rng, when, background_address(rng), rng.choice(PORTS))
    return dns_query(rng, when, rng.choice(BACKGROUND_DOMAINS))


def _winlogbeat(
    when: datetime, event_id: int, action: str, category: str, data: dict[str, str], message: str
) -> dict[str, Any]:
    stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "@timestamp": stamp,
        "agent": {"type": "winlogbeat", "version": "8.13.4", "name": "WS-042"},
        "ecs": {"version": "8.0.0"},
        "event": {
            "code": str(event_id),
            "kind": "event",
            "category": [category],
            "module": "sysmon",
            "provider": "Microsoft-Windows-Sysmon",
            "action": action,
            "created": stamp,
        },
        "host": {"name": "WS-042", "os": {"family": "windows", "version": "10.0"}},
        "log": {"level": "information"},
        "message": message,
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": str(event_id),
            "provider_name": "Microsoft-Windows-Sysmon",
            "computer_name": "WS-042.corp.example",
            "record_id": str(int(when.timestamp() * 10) % 10_000_000),
            "event_data": data,
        },
    }


def _utc(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.") + f"{when.microsecond // 1000:03d}"


def process_creation(rng: random.Random, when: datetime, image: str, command: str) -> dict[str, Any]:
    pid, parent = rng.randint(1000, 20000), rng.randint(500, 9000)
    digest = "".join(rng.choice("0123456789ABCDEF") for _ in range(64))
    data = {
        "RuleName": "-", "UtcTime": _utc(when), "ProcessGuid": f"{{{uuid.UUID(int=rng.getrandbits(128))}}}",
        "ProcessId": str(pid), "Image": image, "CommandLine": command, "CurrentDirectory": "C:\\Windows\\system32\\",
        "User": "CORP\\alice", "IntegrityLevel": "Medium", "Hashes": f"SHA256={digest}",
        "ParentImage": "C:\\Windows\\explorer.exe", "ParentCommandLine": "C:\\Windows\\Explorer.EXE",
    }  # fmt: skip
    event = _winlogbeat(
        when, 1, "Process Create (rule: ProcessCreate)", "process", data, _message("Process Create", data)
    )
    name = image.rsplit("\\", 1)[-1]
    event["process"] = {"pid": pid, "executable": image, "name": name, "command_line": command,
                        "parent": {"pid": parent, "name": "explorer.exe", "command_line": "C:\\Windows\\Explorer.EXE"},
                        "hash": {"sha256": digest.lower()}}  # fmt: skip
    event["user"] = {"name": "alice", "domain": "CORP"}
    return event


def network_connection(rng: random.Random, when: datetime, target: str, port: int) -> dict[str, Any]:
    source, source_port = f"10.20.1.{rng.randint(2, 254)}", rng.randint(49152, 65535)
    image = PROGRAMS[2][0]
    data = {
        "RuleName": "-", "UtcTime": _utc(when), "ProcessId": str(rng.randint(1000, 20000)), "Image": image,
        "User": "CORP\\alice", "Protocol": "tcp", "Initiated": "true", "SourceIsIpv6": "false", "SourceIp": source,
        "SourcePort": str(source_port), "DestinationIsIpv6": "false", "DestinationIp": target,
        "DestinationPort": str(port),
    }  # fmt: skip
    event = _winlogbeat(when, 3, "Network connection detected (rule: NetworkConnect)", "network", data,
                        _message("Network connection detected", data))  # fmt: skip
    event["source"] = {"ip": source, "port": source_port}
    event["destination"] = {"ip": target, "port": port}
    event["network"] = {"transport": "tcp", "direction": "egress"}
    return event


def dns_query(rng: random.Random, when: datetime, name: str) -> dict[str, Any]:
    data = {
        "RuleName": "-", "UtcTime": _utc(when), "ProcessId": str(rng.randint(1000, 20000)), "QueryName": name,
        "QueryStatus": "0", "QueryResults": f"::ffff:{background_address(rng)};", "Image": PROGRAMS[2][0],
    }  # fmt: skip
    event = _winlogbeat(when, 22, "Dns query (rule: DnsQuery)", "network", data, _message("Dns query", data))
    event["dns"] = {"question": {"name": name}}
    return event


def _message(title: str, data: dict[str, str]) -> str:
    return title + ":\n" + "\n".join(f"{key}: {value}" for key, value in data.items())


# --- running and checking --------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    reported: str
    expected: str
    ok: bool
    text_only: int | None = None  # lines text mode hits that --events does not
    detail: str = ""


@dataclass
class Measured:
    log: str
    mode: str
    lines: int
    walls: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def read_hits(run: Run) -> Iterator[dict[str, Any]]:
    with run.stdout.open(encoding="utf-8") as stream:
        for row in stream:
            yield json.loads(row)


def check_events(truth: Truth, run: Run) -> Check:
    fields: Counter[tuple[int, str]] = Counter()
    joined: Counter[tuple[int, str, tuple[int, ...]]] = Counter()
    strays = 0
    for hit in read_hits(run):
        if hit["kind"] != "fields" or Path(hit["file"]).name != truth.path.name or len(hit["indicators"]) != 1:
            strays += 1
        elif "events" in hit:
            joined[(hit["line"], hit["indicators"][0], tuple(event["line"] for event in hit["events"]))] += 1
        else:
            fields[(hit["line"], hit["indicators"][0])] += 1
    problems = [
        *_differences("field", fields, Counter(truth.fields)),
        *_differences("joined", joined, Counter(truth.joined)),
        *([f"{strays} hits not by fields, of another file or of several indicators"] if strays else []),
    ]
    return Check(
        reported=f"{sum(fields.values())} + {sum(joined.values())} joined",
        expected=f"{len(truth.fields)} + {len(truth.joined)} joined",
        ok=not problems and run.code == 0,
        detail="; ".join(problems),
    )


def _differences(name: str, found: Counter[Any], expected: Counter[Any]) -> list[str]:
    if found == expected:
        return []
    return [f"{name}: unexpected {sorted(found - expected)[:5]}, missing {sorted(expected - found)[:5]}"]


def check_text(truth: Truth, run: Run) -> Check:
    found = {hit["line"] for hit in read_hits(run)}
    missing = truth.text - found
    background = found - truth.kinds.keys()
    problems = []
    if missing:
        problems.append(f"missing planted lines {sorted(missing)[:5]}")
    if background:
        problems.append(f"hit background lines {sorted(background)[:5]}")
    return Check(
        reported=f"{len(found)} l",
        expected=f"≥ {len(truth.text)} l",
        ok=not problems and run.code == 0,
        text_only=len((found - truth.events_lines()) & truth.near_misses),
        detail="; ".join(problems),
    )


def check_empty(run: Run) -> Check:
    nothing = not run.stdout.read_text(encoding="utf-8")
    return Check("0 hits", "0 hits", nothing and run.code == 1, detail="" if nothing else "hits on an empty log")


@dataclass(frozen=True)
class Job:
    measured: Measured
    argv: list[str]
    check: Callable[[Run], Check]
    env: dict[str, str] = field(default_factory=dict)


def schedule(feed: Path, logs: dict[str, Truth], empty: Path, revisions: list[tuple[str, dict[str, str]]]) -> list[Job]:
    """Every run, for each revision (named in the mode when there are several)."""
    base = [sys.executable, "-m", "iocmatch", "scan", "--format", "jsonl", "-i", str(feed)]
    events = ["--events", "auto"]
    jobs = []
    for label, env in revisions:
        at = f" @ {label}" if len(revisions) > 1 else ""
        text_mode, events_mode = f"text{at}", f"--events auto{at}"
        jobs += [
            Job(Measured("empty (load only)", text_mode, 0), [*base, str(empty)], check_empty, env),
            Job(Measured("empty (load only)", events_mode, 0), [*base, *events, str(empty)], check_empty, env),
        ]
        for name, truth in logs.items():
            text: Callable[[Run], Check] = partial(check_text, truth)
            by_fields: Callable[[Run], Check] = partial(check_events, truth)
            jobs.append(Job(Measured(name, text_mode, truth.lines), [*base, str(truth.path)], text, env))
            jobs.append(
                Job(Measured(name, events_mode, truth.lines), [*base, *events, str(truth.path)], by_fields, env)
            )
    return jobs


def measure(jobs: list[Job], work: Path, repeat: int) -> None:
    numbered = list(enumerate(jobs))
    for repetition in range(repeat):
        shift = repetition % len(jobs)  # take turns, starting from a different run each time
        for number, job in numbered[shift:] + numbered[:shift]:
            label = f"{job.measured.log}, {job.measured.mode}"
            print(f"  [{repetition + 1}/{repeat}] {label}", file=sys.stderr, flush=True)
            run = run_process(job.argv, work / f"run-{number}.{repetition}.jsonl", job.env)
            check = job.check(run)
            job.measured.walls.append(run.wall)
            job.measured.rss.append(run.rss_mib)
            job.measured.checks.append(check)
            if not check.ok:
                print(f"  FAILED {label}: {check.detail}", file=sys.stderr, flush=True)


# --- the report ------------------------------------------------------------------------------


HEADER = "| log | mode | reported | expected | near misses hit | ok | wall s | load s | lines/s | peak MiB | × text |"
SEPARATOR = "|---|---|---:|---:|---:|:-:|---:|---:|---:|---:|---:|"
LEGEND = """\
* reported / expected: `--events`, hits of one record + hits of several records, exactly the planted ones
  (file, line, indicator; for the joined hit its records' lines); text mode, lines hit, at least the planted
  lines it can see and no background line. near misses hit: planted near-miss lines text mode hits and
  `--events` does not (the pair's port as source port, a subdomain of a feed domain).
* wall s: median whole-process wall time (min–max over the repetitions); load s: median of the same mode on an
  empty log (start-up, loading, compiling); lines/s: lines over (wall s − load s); peak MiB: the child's
  `ru_maxrss`; × text: `--events` over text mode, median wall time / time per line (from lines/s); "–" where
  the scan takes under 50 ms beyond the load.
"""


def report(results: list[Measured], header: list[str]) -> list[str]:
    loads = {r.mode: statistics.median(r.walls) for r in results if not r.lines}
    walls = {(r.log, r.mode): statistics.median(r.walls) for r in results}
    rates = {(r.log, r.mode): _rate(r.lines, walls[r.log, r.mode] - loads[r.mode]) for r in results if r.lines}
    rows = [*header, HEADER, SEPARATOR]
    for result in results:
        key, text = (result.log, result.mode), (result.log, result.mode.replace("--events auto", "text"))
        wall, check = walls[key], result.checks[0]
        ok = all(c.ok for c in result.checks) and len({c.reported for c in result.checks}) == 1
        spread = f" ({min(result.walls):.2f}–{max(result.walls):.2f})" if len(result.walls) > 1 else ""
        rate, text_rate = rates.get(key), rates.get(text)
        per_line = f"{text_rate / rate:,.1f}" if rate and text_rate else "–"
        cells = [
            result.log + (f", {result.lines:,} lines" if result.lines else ""), result.mode, check.reported,
            check.expected, "–" if check.text_only is None else f"{check.text_only:,}", "✓" if ok else "✗",
            f"{wall:.2f}{spread}", f"{loads[result.mode]:.2f}", f"{rate:,.0f}" if rate else "–",
            f"{max(result.rss):,.0f}", f"{wall / walls[text]:,.1f} / {per_line}" if result.lines else "–",
        ]  # fmt: skip
        rows.append("| " + " | ".join(cells) + " |")
    return [*rows, "", LEGEND]


def _rate(lines: int, seconds: float) -> float | None:
    """Lines per second of the scan alone; None when it is lost in the noise of the load (under 50 ms)."""
    return lines / seconds if seconds >= 0.05 else None


def machine(argv: list[str], revision: str) -> list[str]:
    """The report's header: when, where, which iocmatch (``revision``: the labels of those run), how."""
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", "benchmarks/records.py", *argv])
    return [
        f"* date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        host(),
        f"* Python {platform.python_version()}; iocmatch {revision}",
        f"* command: `{command}`",
        "",
    ]


def describe(feed: Feed, logs: dict[str, Truth]) -> list[str]:
    count = len(feed.bundle["objects"])
    planted = "; ".join(
        f"{name}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(Counter(truth.kinds.values()).items()))
        for name, truth in logs.items()
    )
    summary = (
        f"Feed: {count:,} indicators ({len(feed.addresses):,} IPv4 addresses, {len(feed.domains):,} domains, "
        "an address and port, an address with `dst_port != 80`, a command line `LIKE '%-enc %'`, "
        "`([address AND port] FOLLOWEDBY [network-traffic:dst_port = 22]) WITHIN 60 SECONDS`). "
        f"Planted lines: {planted}."
    )
    return [summary, ""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conn-lines", type=int, default=200_000, help="Zeek conn.log records (default 200,000)")
    parser.add_argument("--sysmon-lines", type=int, default=100_000, help="Winlogbeat Sysmon events (default 100,000)")
    parser.add_argument("--plants", type=int, default=24, help="planted lines of each kind (default 24)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, help="folder for the feed, logs and outputs (default: a temporary one)")
    parser.add_argument(
        "--iocmatch",
        action="append",
        metavar="REV",
        help="a git revision of iocmatch to run, side by side with the others (repeatable; default: the installed "
        "one, 'installed')",
    )
    args = parser.parse_args()
    if min(args.conn_lines, args.sysmon_lines) < 10 * 5 * args.plants:
        parser.error(f"--plants {args.plants} needs logs of at least {50 * args.plants} lines")
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        rng = random.Random(args.seed)
        feed = make_feed(rng)
        feed_path = work / "feed.stix21.json"
        feed_path.write_text(json.dumps(feed.bundle), encoding="utf-8")
        logs = {
            "Zeek conn.log": write_conn(work / "conn.log", feed, args.conn_lines, args.plants, rng),
            "Sysmon (Winlogbeat)": write_sysmon(work / "sysmon.ndjson", feed, args.sysmon_lines, args.plants, rng),
        }
        empty = work / "empty.log"
        empty.write_bytes(b"")
        for truth in logs.values():
            warm(truth.path)
        cache = Path(tempfile.gettempdir()) / "iocmatch-bench"
        revisions = [iocmatch_env(revision, cache) for revision in args.iocmatch or ["installed"]]
        jobs = schedule(feed_path, logs, empty, revisions)
        measure(jobs, work, args.repeat)
    results = [job.measured for job in jobs]
    labels = ", ".join(label for label, _ in revisions)
    print("\n".join(report(results, [*machine(sys.argv[1:], labels), *describe(feed, logs)])))
    return 0 if all(check.ok for result in results for check in result.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
