"""Option values read when a command runs: durations, sizes, timestamps. A bad
one is an IocmatchError naming the option (exit 2)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._common.errors import IocmatchError
from .._common.timestamps import parse_timestamp

_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration(text: str) -> timedelta:
    found = _DURATION.fullmatch(text)
    try:
        if found is None:
            raise ValueError(text)
        return timedelta(seconds=float(found.group(1)) * _SECONDS[found.group(2).lower()])
    except (ValueError, OverflowError):
        raise IocmatchError(f"--max-age {text!r} is not a duration (a number with s, m, h, d or w: 36h, 7d)") from None


_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)i?b?\s*", re.IGNORECASE)
_BYTES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(text: str, option: str, least: int) -> int:
    found = _SIZE.fullmatch(text)
    value = int(found.group(1)) * _BYTES[found.group(2).lower()] if found else 0
    if value < least:
        raise IocmatchError(f"{option} {text!r} is not a size of at least {least} bytes (bytes, or with K, M, G)")
    return value


def timestamp(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise IocmatchError(f"{option} {value!r} is not an ISO 8601 timestamp") from None


_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def zone(text: str | None, option: str) -> tzinfo:
    """UTC, an offset (+01:00) or an IANA zone name (Europe/Berlin)."""
    if not text or text.upper() in ("UTC", "Z"):
        return timezone.utc
    offset = _OFFSET.fullmatch(text.strip())
    if offset:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta < timedelta(hours=24):
            return timezone(-delta if sign == "-" else delta)
    else:
        try:
            return ZoneInfo(text.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise IocmatchError(f"{option} {text!r} is not a time zone (an IANA name such as Europe/Berlin, or +01:00)")
