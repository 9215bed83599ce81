"""Output formats: text (coloured only on a terminal), ECS records, STIX
sightings; log timestamps; the progress bar only on a terminal."""

from __future__ import annotations

import io
import json
import os
import pty
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import stix2

import iocmatch
from iocmatch._cli.scan_run import Scan
from iocmatch._common.timestamps import log_timestamp
from iocmatch._outputs.formats import SightingsFormat
from tests.conftest import bundle, indicator

CAMPAIGN = {
    "type": "campaign",
    "spec_version": "2.1",
    "id": "campaign--00000000-0000-4000-8000-000000000001",
    "created": "2020-01-01T00:00:00.000Z",
    "modified": "2020-01-01T00:00:00.000Z",
    "name": "Operation Test",
}
DOMAIN_INDICATOR = indicator(
    "[domain-name:value = 'evil.example']",
    1,
    name="evil C2",
    description="C2 of the test campaign",
    external_references=[{"source_name": "report", "url": "https://reports.example/evil"}],
)
FEED = bundle(
    DOMAIN_INDICATOR,
    indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']", 2),
    CAMPAIGN,
    {
        "type": "relationship",
        "spec_version": "2.1",
        "id": "relationship--00000000-0000-4000-8000-000000000002",
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "relationship_type": "indicates",
        "source_ref": DOMAIN_INDICATOR["id"],
        "target_ref": CAMPAIGN["id"],
    },
)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "iocmatch", *args], input=stdin, capture_output=True, check=False)


def on_terminal(args: list[str], *, tty: str, env: dict[str, str] | None = None) -> tuple[bytes, bytes]:
    """Run with stdout or stderr (``tty``) on a pseudo-terminal: (terminal output, other stream)."""
    master, slave = pty.openpty()
    streams = {"stdout": slave, "stderr": subprocess.PIPE} if tty == "stdout" else {"stdout": subprocess.PIPE}
    if tty == "stderr":
        streams["stderr"] = slave
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", *args],
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **(env or {})},
        **streams,  # type: ignore[call-overload]
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal's other end is closed
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    other = result.stderr if tty == "stdout" else result.stdout
    return seen, other or b""


# -- text


@pytest.mark.slow
def test_text_is_coloured_on_a_terminal_unless_no_color(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("GET evil.example\n")
    args = ["scan", "-i", str(feed), str(log)]
    coloured, _ = on_terminal(args, tty="stdout", env={"NO_COLOR": ""})
    assert b"\x1b[1;31mevil.example\x1b[0m" in coloured
    plain, _ = on_terminal(args, tty="stdout", env={"NO_COLOR": "1"})
    assert b"\x1b[" not in plain
    assert b"evil.example" in plain
    assert b"\x1b[" not in run(*args).stdout  # a pipe


# -- ECS


def test_ecs_record_per_hit_line_with_enrichments(feed: Path) -> None:
    lines = [
        "2024-10-27T03:33:20.150Z GET http://evil.example/ md5=0123456789ABCDEF0123456789ABCDEF",
        json.dumps({"process": {"command_line": "curl evil.example"}}),
    ]
    data = ("\n".join(lines) + "\n").encode()
    result = run("scan", "-i", str(feed), "--format", "ecs", "--json", "--observer", "sensor-7", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["@timestamp"] == "2024-10-27T03:33:20.150Z"
    assert first["event"]["kind"] == "enrichment"
    assert first["event"]["original"] == first["message"] == lines[0]
    assert first["log"] == {"file": {"path": "-"}, "offset": 0}
    assert first["observer"] == {"name": "sensor-7"}
    assert first["threat"]["group"] == {"name": ["Operation Test"]}
    domain, md5 = first["threat"]["enrichments"]
    assert domain["indicator"] == {
        "id": DOMAIN_INDICATOR["id"],
        "type": "domain-name",
        "provider": str(feed),
        "name": "evil C2",
        "description": "C2 of the test campaign",
        "reference": "https://reports.example/evil",
        "url": {"domain": "evil.example"},
    }
    assert domain["matched"] == {
        "atomic": "evil.example",
        "field": "message",
        "id": DOMAIN_INDICATOR["id"],
        "occurred": "2024-10-27T03:33:20.150Z",
        "type": "indicator_match_rule",
    }
    assert md5["indicator"]["type"] == "file"
    assert md5["indicator"]["file"] == {"hash": {"md5": "0123456789abcdef0123456789abcdef"}}
    assert md5["matched"]["atomic"] == "0123456789ABCDEF0123456789ABCDEF"
    assert second["log"]["offset"] == len(lines[0]) + 1
    assert second["event"]["sequence"] == 2
    (enrichment,) = second["threat"]["enrichments"]
    assert enrichment["matched"]["field"] == "process.command_line"


@pytest.mark.slow
def test_ecs_from_a_file_locates_each_line(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    content = b"quiet\r\n" * 3 + b"GET evil.example\r\n" + b"x" * 5000 + b"\nlast evil.example"
    log.write_bytes(content)
    result = run("scan", "-i", str(feed), "--format", "ecs", str(log))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["event"]["sequence"], r["event"]["original"]) for r in records] == [
        (4, "GET evil.example"),
        (6, "last evil.example"),
    ]
    for record in records:
        offset = record["log"]["offset"]
        assert content[offset:].startswith(record["event"]["original"].encode())
        assert record["log"]["file"]["path"] == str(log)


# -- sightings


VALUES = [f"c2-{n}.planted.example" for n in range(6)] + ["198.51.100.7"]
NOISE = ["GET", "POST", "/index.html", "200", "www.example.org", "10.0.0.1", "client", "ok"]


def _stamp(moment: datetime, rng: random.Random) -> str:
    form = rng.choice(["iso", "bind", "squid", "sysmon"])
    if form == "iso":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if form == "bind":
        return moment.strftime("%d-%b-%Y %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
    if form == "squid":
        return f"{int(moment.timestamp())}.{moment.microsecond // 1000:03d}"
    return '{"UtcTime": "' + moment.strftime("%Y-%m-%d %H:%M:%S.") + f'{moment.microsecond // 1000:03d}"}}'


def _planted_log(seed: int) -> tuple[list[str], dict[str, int], dict[str, tuple[datetime, datetime]]]:
    """Random lines, some with planted indicator values; the lines and times per value."""
    rng = random.Random(seed)
    start = datetime(2024, 10, 27, 3, 0, tzinfo=timezone.utc)
    lines: list[str] = []
    counts: dict[str, int] = {}
    seen: dict[str, tuple[datetime, datetime]] = {}
    for _ in range(300):
        moment = start + timedelta(milliseconds=rng.randrange(10**8))
        planted = rng.sample(VALUES, rng.choice([0, 0, 0, 1, 1, 2, 3]))
        words = [rng.choice(NOISE) for _ in range(rng.randrange(1, 6))] + planted * rng.choice([1, 2])
        rng.shuffle(words)
        lines.append(_stamp(moment, rng) + " " + " ".join(words))
        for value in planted:
            counts[value] = counts.get(value, 0) + 1
            first, last = seen.get(value, (moment, moment))
            seen[value] = (min(first, moment), max(last, moment))
    return lines, counts, seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sighting_counts_are_the_lines_that_hit_each_indicator(seed: int, tmp_path: Path) -> None:
    objects = [indicator(f"[domain-name:value = '{v}']", n) for n, v in enumerate(VALUES[:-1], 1)]
    objects.append(indicator(f"[ipv4-addr:value = '{VALUES[-1]}']", 99))
    ids = {obj["id"]: value for obj, value in zip(objects, VALUES, strict=False)}
    matcher = iocmatch.compile(iocmatch.load(bundle(*objects)))
    lines, counts, seen = _planted_log(seed)
    log = tmp_path / "planted.log"
    log.write_text("\n".join(lines) + "\n")
    for scan_input in ("file", "stdin"):
        output = SightingsFormat("sensor-1")
        written = io.StringIO()
        scan = Scan(matcher, output, written)
        if scan_input == "file":
            scan.scan_file(str(log))
        else:
            with log.open("rb") as stdin:
                scan.scan_stdin(stdin.fileno())
        scan.finish()
        document = json.loads(written.getvalue())
        parsed = stix2.parse(document, allow_custom=False)
        identity = next(obj for obj in parsed.objects if obj.type == "identity")
        assert identity.name == "sensor-1"
        sightings = {obj.sighting_of_ref: obj for obj in parsed.objects if obj.type == "sighting"}
        assert {ids[ref]: sighting.count for ref, sighting in sightings.items()} == counts
        for ref, sighting in sightings.items():
            first, last = seen[ids[ref]]
            assert (sighting.first_seen, sighting.last_seen) == (first, last)
            assert sighting.where_sighted_refs == [identity.id]


def test_sightings_without_log_times_take_the_time_of_reading(feed: Path) -> None:
    before = datetime.now(timezone.utc)
    result = run("scan", "-i", str(feed), "--format", "sightings", "-", stdin=b"evil.example\nevil.example\n")
    after = datetime.now(timezone.utc)
    parsed = stix2.parse(json.loads(result.stdout), allow_custom=False)
    (sighting,) = [obj for obj in parsed.objects if obj.type == "sighting"]
    assert sighting.count == 2
    assert before - timedelta(seconds=1) <= sighting.first_seen <= sighting.last_seen <= after


# -- timestamps


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2024-10-27T03:33:20.150Z host GET /", "2024-10-27T03:33:20.150000+00:00"),
        ("2024-10-27 05:33:20+02:00 fw deny", "2024-10-27T03:33:20+00:00"),
        ("Oct 27 03:33:20 mx1 postfix/smtpd[1]: connect", "2023-10-27T03:33:20+00:00"),
        ("Nov  2 08:00:02 asa01 : %ASA-6-302013", "2023-11-02T08:00:02+00:00"),
        ("27-Oct-2024 03:33:20.768 queries: info: client", "2024-10-27T03:33:20.768000+00:00"),
        ("1730000000.061    679 10.0.0.1 TCP_MISS/200", "2024-10-27T03:33:20.061000+00:00"),
        ('{"EventID": 1, "UtcTime": "2024-10-27 03:33:20.150", "x": "2020-01-01T00:00:00Z"}',
         "2024-10-27T03:33:20.150000+00:00"),
        ("GET /index.html 200 1234", None),
        ("31-Feb-2024 03:33:20 impossible date", None),
        ("2024-13-45T99:99:99Z not a time", None),
    ],
)  # fmt: skip
def test_log_timestamps_in_common_forms(line: str, expected: str | None) -> None:
    found = log_timestamp(line, year=2023)
    assert (found.isoformat() if found else None) == expected


def test_syslog_without_a_year_is_never_in_the_future() -> None:
    tomorrow = datetime.now(timezone.utc) + timedelta(days=2)
    found = log_timestamp(tomorrow.strftime("%b %d %H:%M:%S") + " host x")
    assert found is not None
    assert found < datetime.now(timezone.utc)
    assert found.year == tomorrow.year - 1


# -- progress


@pytest.mark.slow
def test_a_progress_bar_only_on_a_terminal(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("GET evil.example\n" + "quiet line\n" * 20_000)
    args = ["scan", "-i", str(feed), "--format", "jsonl", str(log)]
    terminal, stdout = on_terminal(args, tty="stderr")
    assert b"big.log" in terminal
    assert b"B/s" in terminal
    assert [json.loads(line)["line"] for line in stdout.splitlines()] == [1]
    piped = run(*args)
    assert piped.stderr == b""
    assert piped.stdout == stdout


def test_ecs_puts_no_pattern_in_a_value_field(tmp_path: Path) -> None:
    """A LIKE or MATCHES indicator names no one value: ECS gets its type, not a
    ``url.domain`` or ``url.full`` that would read as one."""
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(
            bundle(
                indicator("[domain-name:value MATCHES '^[a-z0-9]{8}\\\\.dgaevil\\\\.net$']", 1),
                indicator("[url:value LIKE 'http://evil.example/%/gate.php']", 2),
                indicator("[domain-name:value LIKE '%.evil.example']", 3),
            )
        )
    )
    data = b"GET http://q7x9k2m4.dgaevil.net/ http://evil.example/a/gate.php a.evil.example\n"
    result = run("scan", "-i", str(feed), "--format", "ecs", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    (record,) = (json.loads(line) for line in result.stdout.splitlines())
    enrichments = record["threat"]["enrichments"]
    assert len(enrichments) == 3
    for enrichment in enrichments:
        assert "url" not in enrichment["indicator"], enrichment
