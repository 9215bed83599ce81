"""STIX timestamps, read leniently: feeds write them in every RFC 3339 form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone, tzinfo

_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?(Z|z|[+-]\d{2}:?\d{2})?")


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime; any fraction of a second; a bare date is midnight UTC.

    Raises ValueError quoting ``text`` when it is not a timestamp, or names
    an instant outside datetime's range.
    """
    found = _TIMESTAMP.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"{text!r} is not a timestamp")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    stamp = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    if zone and zone not in ("Z", "z"):
        offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        try:
            return datetime.fromisoformat(stamp.isoformat() + offset).astimezone(timezone.utc)
        except OverflowError:  # year 1 in a zone ahead of UTC falls before datetime's first day
            raise ValueError(f"{text!r} is out of the range of dates") from None
    return stamp.replace(tzinfo=timezone.utc)


# When an event happened, read from a log line, in this order; the first that
# fits wins. A JSON event (a line that is a JSON object) names its time in a
# field. Otherwise the forms a log writes at the start of its lines (after a
# syslog priority), then the same forms anywhere in the line: a time inside a
# message or a URL (a certificate's expiry, a query string) is not the
# event's when the line starts with one, and a message is often the sender's.
_JSON_TIME_FIELDS = tuple(
    re.compile(rf'"{name}"\s*:\s*(?:"([^"\\]{{8,40}})"|(\d{{10}}(?:\.\d{{1,9}})?|\d{{13}})(?![\d.]))')
    for name in ("@timestamp", "UtcTime", "timestamp", "ts", "time", "eventTime")
)
_UTC_FIELD = 1  # Sysmon's UtcTime says UTC in its name
_PRIORITY = re.compile(r"(?:<\d{1,3}>(?:1 )?)?")
_ISO = r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}(?::?\d{2})?)?(?![\d:])"
_ISO_IN_LINE = re.compile(r"(?<!\d)" + _ISO)
_BIND = re.compile(r"(?<!\d)(\d{2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?!\d)")
_SYSLOG = re.compile(r"([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})(?!\d)")
# Epoch seconds (Squid, Zeek) are ten digits from 2001 to 2286: nine would take process ids for times.
_EPOCH = re.compile(r"(\d{10})(?:\.(\d{1,9}))?(?![\d.])")
_APACHE = re.compile(r"\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? ([+-]\d{4})\]")
# Apache and NCSA logs write the client, ident and user before the time.
_APACHE_START = re.compile(r"\S+ \S+ \S+ (?=\[)")
# Windows event exports and DNS debug logs, in the en-US form: month/day/year, 12-hour clock.
_WINDOWS = re.compile(r"(?<![\d/])(\d{1,2})/(\d{1,2})/(\d{4}),? (\d{1,2}):(\d{2}):(\d{2})(?: ?([AaPp][Mm]))?(?![\d:])")
# CEF's receipt time (ArcSight) after a CEF header: epoch milliseconds, or "Jun 10 2024 12:00:01(.123)" with
# an optional zone (UTC, GMT, Z, or an offset); ``end`` when there is no ``rt``.
_CEF_HEADER = re.compile(r"CEF:\d+\|")
_CEF_TIMES = tuple(
    re.compile(
        rf"(?:^|[ |]){key}=(?:(\d{{13}})|([A-Z][a-z]{{2}}) (\d{{1,2}}) (\d{{4}}) (\d{{2}}):(\d{{2}}):(\d{{2}})"
        r"(?:\.(\d{1,3}))?(?: (UTC|GMT|Z|[+-]\d{2}:?\d{2}))?)(?= [A-Za-z0-9_]+=|$)"
    )
    for key in ("rt", "end")
)
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


@dataclass(frozen=True, slots=True)
class LogClock:
    """How the time a log line carries is read.

    ``zone`` is the zone of times written without one (UTC unless told).
    Syslog writes no year: ``year`` is taken as given; without it, the year
    of ``written_by`` (when the log was last written: the file's modification
    time, else now), and the year before when the date would lie more than a
    day after ``written_by`` (December lines read in January).
    """

    year: int | None = None
    zone: tzinfo = timezone.utc
    written_by: datetime | None = None

    def time_of(self, line: str) -> datetime | None:
        """When the event of ``line`` happened (aware, UTC), or None when the
        line carries no time in a form we know. Never raises."""
        try:
            return _first_timestamp(line, self)
        except (ValueError, OverflowError):  # a date that does not exist (31-Feb)
            return None


def log_timestamp(line: str, year: int | None = None) -> datetime | None:
    """When the event of ``line`` happened (aware, UTC), or None when the line
    carries no timestamp in a form we know.

    Forms: a JSON event's ``"@timestamp"``, Sysmon's ``"UtcTime"``,
    ``"timestamp"`` or ``"ts"`` (a time or epoch seconds); at the start of the
    line Squid's and Zeek's epoch seconds ``1730000000.061`` and syslog's
    ``Oct 27 03:33:20`` (``year`` is the year it was written: the file's
    modification year, else the current one); in a CEF record (after its
    ``CEF:0|`` header) its ``rt=`` (else ``end=``), epoch milliseconds or
    ``Oct 27 2024 03:33:20``; anywhere in the line Apache's
    ``[27/Oct/2024:03:33:20 +0000]``, ISO 8601, BIND's ``27-Oct-2024
    03:33:20.768`` and Windows' ``10/27/2024 3:33:20 AM``. A time without a
    zone is UTC. Never raises.
    """
    return LogClock(year).time_of(line)


def _first_timestamp(line: str, clock: LogClock) -> datetime | None:
    if line.lstrip().startswith("{"):
        stamp = _json_time(line, clock)
        if stamp is not None:
            return stamp
    start = _PRIORITY.match(line)
    at = start.end() if start else 0
    for form in _FORMS:
        stamp = form(line, clock, at)
        if stamp is not None:
            return stamp
    apache = _APACHE_START.match(line)
    if apache:
        stamp = _apache(line, clock, apache.end())
        if stamp is not None:
            return stamp
    for form in _FORMS:
        stamp = form(line, clock, None)
        if stamp is not None:
            return stamp
    return _apache(line, clock, None)


def _json_time(line: str, clock: LogClock) -> datetime | None:
    for number, field in enumerate(_JSON_TIME_FIELDS):
        found = field.search(line)
        if found:
            text, seconds = found.groups()
            if seconds and len(seconds) == 13 and "." not in seconds:  # milliseconds (Java, CloudTrail, Elastic)
                seconds = f"{seconds[:10]}.{seconds[10:]}"
            zone = timezone.utc if number == _UTC_FIELD else clock.zone
            stamp = _epoch(*seconds.partition(".")[::2]) if seconds else _iso(text, zone)
            if stamp is not None:  # else a value of another shape: the next field is tried
                return stamp
    return None


def _found(pattern: re.Pattern[str], line: str, at: int | None) -> re.Match[str] | None:
    """``pattern`` at ``at`` (the start of the line), or anywhere when ``at`` is None."""
    return pattern.search(line) if at is None else pattern.match(line, at)


def _epoch_form(line: str, _clock: LogClock, at: int | None) -> datetime | None:
    if at is None:
        return None  # ten digits inside a line are an id or a size as often as a time
    found = _EPOCH.match(line, at)
    return _epoch(*found.groups()) if found else None


def _syslog_form(line: str, clock: LogClock, at: int | None) -> datetime | None:
    if at is None:
        return None
    found = _SYSLOG.match(line, at)
    if found is None or found.group(1) not in _MONTHS:
        return None
    month, day, hour, minute, second = found.groups()
    return _syslog_time(_MONTHS[month], int(day), hour, minute, second, clock)


def _iso_form(line: str, clock: LogClock, at: int | None) -> datetime | None:
    found = _found(_ISO_IN_LINE, line, at)
    return _iso(found.group(0), clock.zone) if found else None


def _bind_form(line: str, clock: LogClock, at: int | None) -> datetime | None:
    found = _found(_BIND, line, at)
    if found is None or found.group(2) not in _MONTHS:
        return None
    day, month, year, hour, minute, second, fraction = found.groups()
    return _in_zone(_local(int(year), _MONTHS[month], int(day), hour, minute, second, fraction), clock.zone)


def _windows_form(line: str, clock: LogClock, at: int | None) -> datetime | None:
    found = _found(_WINDOWS, line, at)
    if found is None:
        return None
    month, day, year, hour, minute, second, half = found.groups()
    hours = int(hour)
    if half:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half.upper() == "PM" else 0)
    return _in_zone(_local(int(year), int(month), int(day), str(hours), minute, second, None), clock.zone)


def _cef_form(line: str, clock: LogClock, at: int | None) -> datetime | None:
    """A CEF record's ``rt=`` (else ``end=``), after its header: its key says what it is.
    A time in a zone not named as UTC or an offset is no time (it cannot be placed)."""
    header = _CEF_HEADER.search(line) if at is None else None
    if header is None:
        return None
    for times in _CEF_TIMES:
        found = times.search(line, header.end())
        if found is None:
            continue
        millis, month, day, year, hour, minute, second, fraction, zone = found.groups()
        if millis:
            return _epoch(millis[:10], millis[10:])
        if month not in _MONTHS:
            return None
        local = _local(int(year), _MONTHS[month], int(day), hour, minute, second, fraction)
        if zone and zone[0] in "+-":
            return parse_timestamp(local.isoformat() + (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"))
        return _in_zone(local, timezone.utc if zone else clock.zone)
    return None


def _apache(line: str, _clock: LogClock, at: int | None) -> datetime | None:
    found = _found(_APACHE, line, at)
    if found is None or found.group(2) not in _MONTHS:
        return None
    day, month, year, hour, minute, second, fraction, offset = found.groups()
    local = _local(int(year), _MONTHS[month], int(day), hour, minute, second, fraction)
    return parse_timestamp(local.isoformat() + offset)


_FORMS = (_epoch_form, _syslog_form, _cef_form, _iso_form, _bind_form, _windows_form)


def _iso(text: str, zone: tzinfo) -> datetime | None:
    """An ISO 8601 time found in a line; without its own zone, in ``zone``."""
    found = _ISO_IN_LINE.fullmatch(text.strip())
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = found.groups()
    if offset:
        if len(offset) == 3:  # hours only (PostgreSQL's -05)
            offset += "00"
        text = f"{year}-{month}-{day}T{hour}:{minute}:{second}" + (f".{fraction}" if fraction else "") + offset
        return parse_timestamp(text)
    return _in_zone(_local(int(year), int(month), int(day), hour, minute, second, fraction), zone)


def _epoch(seconds: str, fraction: str | None) -> datetime:
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime.fromtimestamp(int(seconds), timezone.utc).replace(microsecond=micro)


def _local(year: int, month: int, day: int, hour: str, minute: str, second: str, fraction: str | None) -> datetime:
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(year, month, day, int(hour), int(minute), int(second), micro)


def _in_zone(local: datetime, zone: tzinfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(timezone.utc)


def _syslog_time(month: int, day: int, hour: str, minute: str, second: str, clock: LogClock) -> datetime:
    """Syslog writes no year: the clock's, else that of when the log was
    written, and the year before when the date would lie more than a day
    after it (December lines read in January)."""
    written_by = clock.written_by or datetime.now(timezone.utc)
    # The year as the log's own zone counts it (New Year comes earlier east of UTC).
    local = _local(clock.year or written_by.astimezone(clock.zone).year, month, day, hour, minute, second, None)
    if clock.year is None and (_in_zone(local, clock.zone) - written_by).days >= 1:
        local = local.replace(year=local.year - 1)
    return _in_zone(local, clock.zone)
