"""STIX timestamps: any RFC 3339 form is read, anything else is a ValueError. The time
a log line carries, in the forms common logs write it."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from iocmatch._common.timestamps import LogClock, parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-12-20T00:00:00Z", datetime(2018, 12, 20, tzinfo=timezone.utc)),
        ("2018-12-20t01:02:03.123456789+0100", datetime(2018, 12, 20, 0, 2, 3, 123456, tzinfo=timezone.utc)),
        ("2018-12-20", datetime(2018, 12, 20, tzinfo=timezone.utc)),
        ("0001-01-01T00:00:00-01:00", datetime(1, 1, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_rfc_3339_forms_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "2018-02-30T00:00:00Z", "yesterday", "2018-12-20T25:00"])
def test_what_is_no_instant_is_a_value_error(text: str) -> None:
    # The loader reports a ValueError on its object; an OverflowError would stop the whole load.
    with pytest.raises(ValueError, match=r"timestamp|range"):
        parse_timestamp(text)


# -- the time a log line carries

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"@timestamp":"2026-12-06T09:14:02.123Z","url":{"domain":"x"},"x":"2020-01-01T00:00:00Z"}',
         "2026-12-06T09:14:02.123000+00:00"),
        ('{"ts":1733476442.5,"uid":"C1","query":"x"}', "2024-12-06T09:14:02.500000+00:00"),
        ('{"timestamp": "2026-12-06T10:14:02+01:00", "src_ip": "10.0.0.1"}', "2026-12-06T09:14:02+00:00"),
        ("1733476442.123456\tCHhAvVGS1DHFjwGM9\t10.1.2.3\t53211", "2024-12-06T09:14:02.123456+00:00"),
        ('10.1.2.3 - - [06/Dec/2026:10:14:02 +0100] "GET /a HTTP/1.1" 200 5', "2026-12-06T09:14:02+00:00"),
        ("12/6/2026 9:14:02 AM 0E58 PACKET  000000D4F5A2B1C0 UDP Rcv 10.1.2.3", "2026-12-06T09:14:02+00:00"),
        ("12/6/2026 9:14:02 PM 0E58 PACKET", "2026-12-06T21:14:02+00:00"),
        ("12/6/2026 12:14:02 AM 0E58 PACKET", "2026-12-06T00:14:02+00:00"),
        ("Information\t12/6/2026 21:14:02\tMicrosoft-Windows-Sysmon\t1", "2026-12-06T21:14:02+00:00"),
        ("<34>1 2026-12-06T09:14:02.003Z mymachine su - ID47 - 'su root' failed", "2026-12-06T09:14:02.003000+00:00"),
        ("12/6/2026 13:14:02 PM no such hour", None),
        # CEF's receipt time, in epoch milliseconds or ArcSight's date, before an ISO date in the message.
        ("CEF:0|Squid|Proxy|4.0|TCP_MISS|request|3|rt=1765012442123 src=10.1.2.3 msg=2020-01-01T00:00:00Z",
         "2025-12-06T09:14:02.123000+00:00"),
        ("CEF:0|Vendor|FW|1|100|deny|5|src=10.1.2.3 rt=Dec 06 2026 09:14:02.250 UTC dpt=443",
         "2026-12-06T09:14:02.250000+00:00"),
        ("CEF:0|Vendor|FW|1|100|deny|5|src=10.1.2.3 end=Dec 6 2026 09:14:02", "2026-12-06T09:14:02+00:00"),
        ("CEF:0|Vendor|FW|1|100|deny|5|cs1=rt=1765012442123 in a label", None),
        # The receipt time wins over the end, wherever each stands; a zone by offset counts, one by name does not.
        ("CEF:0|V|P|1|100|n|5|start=1765012400000 end=1765012430000 rt=1765012442000", "2025-12-06T09:14:02+00:00"),
        ("CEF:0|V|P|1|100|n|5|src=10.1.2.3 rt=Dec 06 2026 10:14:02 +0100 dpt=443", "2026-12-06T09:14:02+00:00"),
        ("CEF:0|V|P|1|100|n|5|src=10.1.2.3 rt=Dec 06 2026 10:14:02 CET dpt=443", None),
        # No CEF header: the line's own ISO time, not a key in its query string.
        ("GET /q?x=CEF: end=1600000000000 at 2026-12-06T09:14:02Z 200", "2026-12-06T09:14:02+00:00"),
    ],
)  # fmt: skip
def test_common_log_forms_carry_their_time(line: str, expected: str | None) -> None:
    found = LogClock().time_of(line)
    assert (found.isoformat() if found else None) == expected


def test_a_time_without_a_zone_is_utc_unless_the_clock_says_otherwise() -> None:
    line = "2026-07-01 12:00:00 fw01 allow"
    assert LogClock().time_of(line) == datetime(2026, 7, 1, 12, tzinfo=timezone.utc)
    assert LogClock(zone=BERLIN).time_of(line) == datetime(2026, 7, 1, 10, tzinfo=timezone.utc)  # summer time
    assert LogClock(2027, BERLIN).time_of("Jan 10 12:00:00 host x") == datetime(2027, 1, 10, 11, tzinfo=timezone.utc)
    # A time that says its zone, and Sysmon's UtcTime, are not moved.
    assert LogClock(zone=BERLIN).time_of("2026-07-01T12:00:00Z x") == datetime(2026, 7, 1, 12, tzinfo=timezone.utc)
    sysmon = '{"EventID": 3, "UtcTime": "2026-07-01 12:00:00.000"}'
    assert LogClock(zone=BERLIN).time_of(sysmon) == datetime(2026, 7, 1, 12, tzinfo=timezone.utc)


def test_syslog_takes_the_year_it_was_written_in() -> None:
    line = "Dec 31 23:59:58 ns1 named[812]: query evil.example"
    january = datetime(2027, 1, 2, 8, tzinfo=timezone.utc)  # the file's modification time
    assert LogClock(written_by=january).time_of(line) == datetime(2026, 12, 31, 23, 59, 58, tzinfo=timezone.utc)
    assert LogClock(written_by=january).time_of("Jan  2 07:00:00 ns1 x") == datetime(2027, 1, 2, 7, tzinfo=timezone.utc)
    # A year given is taken as it is.
    assert LogClock(2027, written_by=january).time_of(line) == datetime(2027, 12, 31, 23, 59, 58, tzinfo=timezone.utc)


def test_the_time_at_the_start_of_a_line_wins_over_one_in_its_message() -> None:
    line = "Dec  6 09:14:02 mx1 app[7]: certificate for evil.example expires 2027-01-01T00:00:00Z"
    assert LogClock(2026).time_of(line) == datetime(2026, 12, 6, 9, 14, 2, tzinfo=timezone.utc)
    squid = "1733476442.123    210 10.1.2.3 TCP_MISS/200 GET http://x.example/?since=2020-01-01T00:00:00Z -"
    assert LogClock().time_of(squid) == datetime(2024, 12, 6, 9, 14, 2, 123000, tzinfo=timezone.utc)


UTC = timezone.utc


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # A JSON payload after a syslog header is the message, not the event's time.
        ('Jun 15 09:14:02 host app: {"ts": 1773565242} c2.bad.example', datetime(2026, 6, 15, 9, 14, 2, tzinfo=UTC)),
        (
            '2026-12-06T09:14:02Z app body {"timestamp":"2020-01-01T00:00:00Z"}',
            datetime(2026, 12, 6, 9, 14, 2, tzinfo=UTC),
        ),
        ('1765012442.1 85 10.0.0.5 TCP_MISS/200 "ts":1000000000', datetime(2025, 12, 6, 9, 14, 2, 100000, tzinfo=UTC)),
        # An Apache time inside a URL, an ISO date inside a message: the line's own time wins.
        (
            "2026-06-15T09:14:02Z GET http://c2.bad.example/?d=[15/Mar/2026:00:00:00 +0000]",
            datetime(2026, 6, 15, 9, 14, 2, tzinfo=UTC),
        ),
        ("6/15/2026 9:14:02 AM 0E5C PACKET note 2026-03-15 00:00:00", datetime(2026, 6, 15, 9, 14, 2, tzinfo=UTC)),
        ("06-Dec-2026 09:14:02.768 query: 2020-01-01 00:00:00", datetime(2026, 12, 6, 9, 14, 2, 768000, tzinfo=UTC)),
        # Apache writes client, ident and user before its time.
        (
            '10.0.0.5 - - [06/Dec/2026:09:14:02 +0100] "GET /?t=2020-01-01T00:00:00Z HTTP/1.1" 200 5',
            datetime(2026, 12, 6, 8, 14, 2, tzinfo=UTC),
        ),
        # Milliseconds since the epoch in a JSON event.
        (
            '{"ts":1781514842000,"query":"c2.bad.example","msg":"cert 2026-03-15 00:00:00"}',
            datetime(2026, 6, 15, 9, 14, 2, tzinfo=UTC),
        ),
        # Seconds with two decimals are seconds, however long the text.
        ('{"ts": 1717171545.25, "id.resp_p": 443}', datetime(2024, 5, 31, 16, 5, 45, 250000, tzinfo=UTC)),
        # An offset in hours only (PostgreSQL), a day not padded, a process id that is no epoch.
        ("2026-12-06 09:14:02.123-05 LOG: connection", datetime(2026, 12, 6, 14, 14, 2, 123000, tzinfo=UTC)),
        ("Dec 6 09:14:02 host sshd[7]: accepted", datetime(2026, 12, 6, 9, 14, 2, tzinfo=UTC)),
        ("123456789 GET http://x.example/", None),
    ],
)
def test_the_events_own_time_is_read_not_one_in_its_message(line: str, expected: datetime | None) -> None:
    assert LogClock(2026).time_of(line) == expected


def test_the_syslog_year_is_counted_in_the_logs_zone() -> None:
    """East of UTC, New Year comes first: a log written at 00:30 on 1 January
    in Auckland was written on 31 December UTC."""
    clock = LogClock(zone=ZoneInfo("Pacific/Auckland"), written_by=datetime(2026, 12, 31, 12, 0, tzinfo=UTC))
    assert clock.time_of("Jan  1 00:30:00 host app: x") == datetime(2026, 12, 31, 11, 30, tzinfo=UTC)
