"""Validity at event time: each log line is judged at the time it carries, so
an indicator hits only the events of its valid_from..valid_until, on every
scanning path; revoked indicators never hit; a line without a time is judged
at the reference time (``as_of``, else now)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._cli.scan_run import Scan
from iocmatch._outputs.formats import output_format
from iocmatch._scanning import parallel
from tests.conftest import bundle, indicator

C2 = "c2.badcorp.example"
C2_ID = f"indicator--{uuid.UUID(int=1, version=4)}"
OLD = "old.badcorp.example"  # live only in January 2025: expired when loaded
REVOKED = "revoked.badcorp.example"
SHARED = "shared.badcorp.example"  # in two indicators, live in March and in June 2026

MARCH = datetime(2026, 3, 15, 9, 14, 2, tzinfo=timezone.utc)  # inside C2's window
JUNE = datetime(2026, 6, 15, 9, 14, 2, tzinfo=timezone.utc)  # outside it
JANUARY_2025 = datetime(2025, 1, 15, 9, 14, 2, tzinfo=timezone.utc)


def _ids(number: int) -> str:
    return str(indicator("", number)["id"])


WINDOW_2026 = {"valid_from": "2026-03-01T00:00:00Z", "valid_until": "2026-04-01T00:00:00Z"}
FEED = bundle(
    indicator(f"[domain-name:value = '{C2}']", 1, **WINDOW_2026),
    indicator("[ipv4-addr:value = '198.51.100.23']", 2, **WINDOW_2026),
    indicator(
        f"[domain-name:value = '{OLD}']", 3, valid_from="2025-01-01T00:00:00Z", valid_until="2025-02-01T00:00:00Z"
    ),
    indicator(f"[domain-name:value = '{REVOKED}']", 4, revoked=True),
    indicator(f"[domain-name:value = '{SHARED}']", 5, **WINDOW_2026),
    indicator(
        f"[domain-name:value = '{SHARED}']", 6, valid_from="2026-06-01T00:00:00Z", valid_until="2026-07-01T00:00:00Z"
    ),
)


def event_matcher(**options: Any) -> iocmatch.Matcher:
    loaded = iocmatch.load(FEED, at_event_time=True, **options)
    return iocmatch.compile(loaded).with_log_clock(year=2026)


def log_lines(when: datetime, value: str = C2) -> dict[str, str]:
    """The same event (a look-up of ``value``) as each common log writes it at ``when``."""
    epoch = f"{when.timestamp():.3f}"
    labels = "".join(f"({len(part)}){part}" for part in value.split("."))
    hour = when.hour % 12 or 12
    zeek_fields = [
        "CHhAvVGS1DHFjwGM9",
        "10.1.2.3",
        "53211",
        "10.1.2.53",
        "53",
        "udp",
        "8410",
        "-",
        value,
        "1",
        "C_INTERNET",
        "1",
        "A",
        "0",
        "NOERROR",
        "F",
        "F",
        "T",
        "T",
        "0",
        "203.0.113.9",
        "300.000000",
        "F",
    ]
    return {
        "syslog": f"{when:%b %d %H:%M:%S} ns1 named[812]: client @0x7f3a 10.1.2.3#53211 ({value}): "
                  f"query: {value} IN A +E(0)K (10.1.2.53)",
        "squid": f"{epoch}    210 10.1.2.3 TCP_MISS/200 1532 GET http://{value}/gate.php - "
                 "HIER_DIRECT/203.0.113.9 text/html",
        "zeek": "\t".join([f"{epoch}456", *zeek_fields]),
        "apache": f'10.1.2.3 - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "GET /track HTTP/1.1" 302 512 '
                  f'"http://{value}/" "Mozilla/5.0"',
        "dns-debug": f"{when.month}/{when.day}/{when.year} {hour}:{when:%M:%S} {'AM' if when.hour < 12 else 'PM'} "
                     f"0E58 PACKET  000000D4F5A2B1C0 UDP Rcv 10.1.2.3        8a1f   Q [0001   D   NOERROR] A      "
                     f"{labels}(0)",
        "iso": f"{when:%Y-%m-%dT%H:%M:%S}.512+00:00 fw01 kernel: DROP OUT=eth0 SRC=10.1.2.3 DST=203.0.113.9 "
               f"host={value}",
        "ecs": json.dumps({"@timestamp": f"{when:%Y-%m-%dT%H:%M:%S}.000Z", "event": {"kind": "event"},
                           "source": {"ip": "10.1.2.3"}, "dns": {"question": {"name": value}}}),
    }  # fmt: skip


FORMS = list(log_lines(MARCH))


@pytest.mark.parametrize("form", FORMS)
def test_a_value_hits_an_event_inside_its_window_and_not_outside(form: str) -> None:
    matcher = event_matcher()
    inside = matcher.scan_line(log_lines(MARCH)[form])
    assert [(m.value, m.indicators) for m in inside] == [(C2, (C2_ID,))] * len(inside)
    assert inside  # one match, or two where the line names the value twice
    assert matcher.scan_line(log_lines(JUNE)[form]) == []
    # The same line hits without event time whenever the indicator is live at load.
    plain = iocmatch.compile(iocmatch.load(FEED, as_of="2026-03-20T00:00:00Z"))
    assert [m.value for m in plain.scan_line(log_lines(JUNE)[form])] == [m.value for m in inside]


def test_an_indicator_expired_at_load_still_hits_the_events_of_its_live_time() -> None:
    loaded = iocmatch.load(FEED, at_event_time=True)
    assert loaded.report.at_event_time
    assert {i.id for i in loaded.indicators} == {_ids(n) for n in (1, 2, 3, 5, 6)}
    old = next(i for i in loaded.indicators if i.id == _ids(3))
    assert old.valid_from == datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert old.valid_until == datetime(2025, 2, 1, tzinfo=timezone.utc)
    matcher = event_matcher()
    for form, line in log_lines(JANUARY_2025, OLD).items():
        clock = matcher.with_log_clock(year=2025) if form == "syslog" else matcher
        assert [m.value for m in clock.scan_line(line)][:1] == [OLD], form
    assert all(matcher.scan_line(line) == [] for line in log_lines(MARCH, OLD).values())
    # Judged once, now, the same indicator is out.
    assert "expired" in {p.reason.split(" ")[0] for p in iocmatch.load(FEED).report.problems}


def test_a_revoked_indicator_never_hits_at_any_time() -> None:
    matcher = event_matcher()
    for when in (JANUARY_2025, MARCH, JUNE):
        assert all(matcher.scan_line(line) == [] for line in log_lines(when, REVOKED).values())
    problems = iocmatch.load(FEED, at_event_time=True).report.problems
    assert [(p.id, p.reason) for p in problems] == [(_ids(4), "revoked")]


def test_a_value_in_two_indicators_reports_only_those_live_at_the_event() -> None:
    matcher = event_matcher()
    (march,) = matcher.scan_line(log_lines(MARCH, SHARED)["iso"])
    (june,) = matcher.scan_line(log_lines(JUNE, SHARED)["iso"])
    assert march.indicators == (_ids(5),)
    assert june.indicators == (_ids(6),)
    assert matcher.scan_line(log_lines(JANUARY_2025, SHARED)["iso"]) == []


def test_an_and_clause_fires_only_inside_its_window() -> None:
    pattern = "[network-traffic:dst_ref.value = '198.51.100.77' AND network-traffic:dst_port = 8443]"
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern, 7, **WINDOW_2026)), at_event_time=True))
    line = "{:%Y-%m-%dT%H:%M:%S}Z fw01 allow tcp 10.1.2.3:50122 -> 198.51.100.77:8443"
    assert {m.value for m in matcher.scan_line(line.format(MARCH))} == {"198.51.100.77", "8443"}
    assert matcher.scan_line(line.format(JUNE)) == []
    assert matcher.scan_line(line.format(MARCH).replace(":8443", ":443")) == []


def test_an_event_at_valid_until_is_out_and_at_valid_from_is_in() -> None:
    matcher = event_matcher()
    assert matcher.scan_line(f"2026-03-01T00:00:00Z dns query {C2}")
    assert matcher.scan_line(f"2026-03-31T23:59:59.999Z dns query {C2}")
    assert matcher.scan_line(f"2026-04-01T00:00:00Z dns query {C2}") == []
    assert matcher.scan_line(f"2026-02-28T23:59:59Z dns query {C2}") == []


NO_TIME = f"dns query for {C2} from 10.1.2.3"


def test_a_line_without_a_time_is_judged_at_as_of_else_now() -> None:
    inside = iocmatch.compile(iocmatch.load(FEED, at_event_time=True, as_of="2026-03-20T00:00:00Z"))
    outside = iocmatch.compile(iocmatch.load(FEED, at_event_time=True, as_of="2026-06-20T00:00:00Z"))
    assert [m.value for m in inside.scan_line(NO_TIME)] == [C2]
    assert outside.scan_line(NO_TIME) == []
    # Without as_of: now, when the window is long past.
    assert event_matcher().scan_line(NO_TIME) == []
    assert event_matcher().judged_at(NO_TIME) is not None
    # A line's own time wins over as_of; a time given by the caller wins over the line's.
    assert outside.scan_line(log_lines(MARCH)["iso"])
    assert outside.scan_line(NO_TIME, at=MARCH)
    assert inside.scan_line(log_lines(MARCH)["iso"], at=JUNE) == []


def test_validity_windows_mean_nothing_without_event_time() -> None:
    matcher = iocmatch.compile(iocmatch.load(FEED, as_of="2026-03-20T00:00:00Z"))
    assert not matcher.at_event_time
    assert matcher.judged_at(NO_TIME) is None
    for when in (JANUARY_2025, MARCH, JUNE):
        assert [m.value for m in matcher.scan_line(log_lines(when)["iso"])] == [C2]
        assert matcher.scan_line(log_lines(when)["iso"], at=JUNE)  # at is only for event time
    assert iocmatch.load(FEED, ignore_validity=True).report.compiled == 5


def test_event_time_and_ignore_validity_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="ignore_validity"):
        iocmatch.load(FEED, at_event_time=True, ignore_validity=True)


def test_an_indicator_whose_window_is_empty_is_excluded_with_the_reason() -> None:
    feed = bundle(indicator(f"[domain-name:value = '{C2}']", 1, valid_from="2026-03-01T00:00:00Z",
                            valid_until="2026-03-01T00:00:00Z"))  # fmt: skip
    report = iocmatch.load(feed, at_event_time=True).report
    assert report.compiled == 0
    assert [p.status for p in report.problems] == ["excluded"]
    assert report.problems[0].reason.startswith("never valid")


# -- every scanning path


def _mixed_log() -> tuple[list[str], set[int]]:
    """Each form inside and outside the window, and lines without a time;
    the line numbers that hit (judged without as_of: now, outside)."""
    lines: list[str] = []
    expected: set[int] = set()
    for inside, outside in zip(log_lines(MARCH).values(), log_lines(JUNE).values(), strict=True):
        lines += [inside, "quiet line without any value", outside, NO_TIME]
        expected.add(len(lines) - 3)
    # A line longer than the line window: judged at the time at its start.
    padding = " x" * 6000
    lines += [
        f"{MARCH:%Y-%m-%dT%H:%M:%S}Z proxy{padding} GET http://{C2}/",
        f"{JUNE:%Y-%m-%dT%H:%M:%S}Z proxy{padding} GET http://{C2}/",
    ]
    expected.add(len(lines) - 1)
    return lines, expected


def _hit_numbers(matches: Any) -> set[int]:
    return {match.line for match in matches}


def test_every_scanning_path_judges_each_line_at_its_own_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lines, expected = _mixed_log()
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(lines) + "\n")
    matcher = event_matcher()
    assert _hit_numbers(matcher.scan(lines)) == expected
    assert {n for n, line in enumerate(lines, 1) if matcher.scan_line(line, n)} == expected
    with log.open("rb") as stream:  # small blocks and a small line window: the long lines in windows
        assert {n for n, *_ in matcher.hit_lines(stream, block_size=4096, line_window=4096)} == expected
    assert _hit_numbers(matcher.scan_file(log)) == expected
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    assert _hit_numbers(matcher.scan_file(log, workers=3)) == expected
    # The command's paths: files (one process and several), stdin, JSON events, following.
    for jobs in (1, 3):
        assert _command_hits(matcher, jobs=jobs, scan=lambda s: s.scan_file(str(log))) == expected
    with log.open("rb") as stream:
        assert _command_hits(matcher, scan=lambda s: s.scan_stdin(stream.fileno())) == expected
    assert _command_hits(matcher, json_fields=[], scan=lambda s: s.scan_file(str(log))) == expected
    assert _command_hits(matcher, scan=lambda s: s.follow(str(log), 0), following=True) == expected


def _command_hits(
    matcher: iocmatch.Matcher, scan: Any, jobs: int = 1, json_fields: list[str] | None = None, following: bool = False
) -> set[int]:
    """The lines the command's scan reports (a followed file: read once, then stopped)."""
    out = io.StringIO()
    run = Scan(matcher, output_format("jsonl", colour=False, catalog={}, observer=None), out, jobs=jobs,
               json_fields=json_fields, line_window=4096, stopped=lambda: following, log_year=2026)  # fmt: skip
    scan(run)
    run.finish()
    return {json.loads(record)["line"] for record in out.getvalue().splitlines()}


def test_json_events_are_judged_at_their_own_time_whatever_the_fields_chosen() -> None:
    from iocmatch._scanning.events import EventScanner

    matcher = event_matcher()
    events = EventScanner(matcher, ["dns.question.name"])
    inside, scanned = events.scan(log_lines(MARCH)["ecs"], 1)
    assert scanned
    assert [(found.field, found.match.value) for found in inside] == [("dns.question.name", C2)]
    assert events.scan(log_lines(JUNE)["ecs"], 2) == ([], True)
    zeek_json = json.dumps({"ts": MARCH.timestamp(), "uid": "CHhAvVGS1DHFjwGM9", "query": C2})
    assert [found.match.value for found in events.scan(zeek_json, 3)[0]] == []  # query is not a field chosen
    assert [found.match.value for found in EventScanner(matcher).scan(zeek_json, 3)[0]] == [C2]


def test_a_matcher_file_keeps_event_time(tmp_path: Path) -> None:
    path = tmp_path / "event.iocm"
    iocmatch.save_matcher(iocmatch.compile(iocmatch.load(FEED, at_event_time=True)), path)
    loaded = iocmatch.load_matcher(path)
    assert loaded.at_event_time
    assert loaded.origin.at_event_time
    assert [m.value for m in loaded.scan_line(log_lines(MARCH)["squid"])] == [C2]
    assert loaded.scan_line(log_lines(JUNE)["squid"]) == []


# -- the command


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iocmatch", *args], input=stdin, capture_output=True, text=True,
                          check=False)  # fmt: skip


@pytest.mark.slow
def test_the_command_scans_compiles_and_describes_at_event_time(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))
    log = tmp_path / "proxy.log"
    log.write_text("\n".join([log_lines(MARCH)["squid"], log_lines(JUNE)["squid"], NO_TIME]) + "\n")
    scanned = run("scan", "-i", str(feed), "--at-event-time", "--as-of", "2026-03-20T00:00:00Z", "--stats",
                  "--format", "jsonl", str(log))  # fmt: skip
    assert scanned.returncode == 0, scanned.stderr
    assert [json.loads(line)["line"] for line in scanned.stdout.splitlines()] == [1, 3]
    assert "1 hit lines without a time, judged at --as-of 2026-03-20 00:00:00 UTC" in scanned.stderr
    matcher = tmp_path / "event.iocm"
    assert run("compile", "-i", str(feed), "--at-event-time", "-o", str(matcher)).returncode == 0
    from_file = run("scan", "-m", str(matcher), "--format", "jsonl", str(log))
    assert [json.loads(line)["line"] for line in from_file.stdout.splitlines()] == [1]
    described = run("check", "-m", str(matcher))
    assert described.returncode == 0, described.stderr
    assert "validity at each line's time (lines without one: the time of the scan)" in described.stdout
    refused = run("scan", "-m", str(matcher), "--at-event-time", str(log))
    assert refused.returncode == 2
    assert "--at-event-time" in refused.stderr
    both = run("scan", "-i", str(feed), "--at-event-time", "--ignore-validity", str(log))
    assert both.returncode == 2
    assert "not with --ignore-validity" in both.stderr
    assert "--at-event-time" in run("scan", "--help").stdout
    assert "--at-event-time" in run("compile", "--help").stdout


@pytest.mark.slow
def test_the_command_reads_zoneless_times_in_the_log_timezone(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(bundle(indicator(f"[domain-name:value = '{C2}']", 1,
                                                valid_from="2026-03-15T09:00:00Z"))))  # fmt: skip
    log = tmp_path / "fw.log"
    log.write_text(f"2026-03-15 09:30:00 fw01 allow dns {C2}\n")
    utc = run("scan", "-i", str(feed), "--at-event-time", str(log))
    berlin = run("scan", "-i", str(feed), "--at-event-time", "--log-timezone", "Europe/Berlin", str(log))
    assert (utc.returncode, berlin.returncode) == (0, 1)  # 09:30 in Berlin is 08:30 UTC: before valid_from
    bad = run("scan", "-i", str(feed), "--log-timezone", "Mars/Olympus", str(log))
    assert bad.returncode == 2
    assert "is not a time zone" in bad.stderr
