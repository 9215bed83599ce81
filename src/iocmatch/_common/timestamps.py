"""STIX timestamps, read leniently: feeds write them in every RFC 3339 form."""

from __future__ import annotations

import re
from datetime import datetime, timezone

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


# When an event happened, read from a log line. Tried in this order; the first
# that fits wins. Times without a zone are taken as UTC.
_SYSMON_UTC = re.compile(r'"UtcTime"\s*:\s*"(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?)"')
_ISO_IN_LINE = re.compile(
    r"(?<!\d)(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|z|[+-]\d{2}:?\d{2})?(?![\d:])"
)
_BIND = re.compile(r"(?<!\d)(\d{2})-([A-Z][a-z]{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?!\d)")
_SYSLOG = re.compile(r"^(?:<\d{1,3}>)?([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2})(?!\d)")
_EPOCH = re.compile(r"^(\d{9,10})(?:\.(\d{1,6}))?(?![\d.])")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}


def log_timestamp(line: str, year: int | None = None) -> datetime | None:
    """When the event of ``line`` happened (aware, UTC), or None when the line
    carries no timestamp in a form we know.

    Forms: Sysmon's ``"UtcTime": "2024-10-27 03:33:20.150"``, ISO 8601 anywhere
    in the line, BIND's ``27-Oct-2024 03:33:20.768``, syslog's ``Oct 27
    03:33:20`` at the start of the line (``year`` is the year it was written:
    the file's modification year, else the current one) and Squid's epoch
    seconds ``1730000000.061`` at the start of the line. Never raises.
    """
    try:
        return _first_timestamp(line, year)
    except (ValueError, OverflowError):  # a date that does not exist (31-Feb)
        return None


def _first_timestamp(line: str, year: int | None) -> datetime | None:
    found = _SYSMON_UTC.search(line)
    if found:
        return parse_timestamp(found.group(1))
    iso = _ISO_IN_LINE.search(line)
    if iso:
        year_, month, day, hour, minute, second, fraction, zone = iso.groups()
        text = f"{year_}-{month}-{day}T{hour}:{minute}:{second}" + (f".{fraction}" if fraction else "") + (zone or "")
        return parse_timestamp(text)
    bind = _BIND.search(line)
    if bind and bind.group(2) in _MONTHS:
        day, month, year_, hour, minute, second, fraction = bind.groups()
        return _utc(int(year_), _MONTHS[month], int(day), hour, minute, second, fraction)
    syslog = _SYSLOG.match(line)
    if syslog and syslog.group(1) in _MONTHS:
        month, day, hour, minute, second = syslog.groups()
        return _syslog_time(_MONTHS[month], int(day), hour, minute, second, year)
    epoch = _EPOCH.match(line)
    if epoch:
        seconds, fraction = epoch.groups()
        micro = int((fraction or "0").ljust(6, "0"))
        return datetime.fromtimestamp(int(seconds), timezone.utc).replace(microsecond=micro)
    return None


def _utc(year: int, month: int, day: int, hour: str, minute: str, second: str, fraction: str | None) -> datetime:
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(year, month, day, int(hour), int(minute), int(second), micro, tzinfo=timezone.utc)


def _syslog_time(month: int, day: int, hour: str, minute: str, second: str, year: int | None) -> datetime:
    """Syslog writes no year: take the one given, and the year before when the
    date would otherwise lie more than a day ahead of now (December lines read
    in January)."""
    now = datetime.now(timezone.utc)
    stamp = _utc(year or now.year, month, day, hour, minute, second, None)
    if year is None and (stamp - now).days >= 1:
        stamp = stamp.replace(year=stamp.year - 1)
    return stamp
