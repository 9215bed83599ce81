"""STIX timestamps, read leniently: feeds write them in every RFC 3339 form."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?(Z|z|[+-]\d{2}:?\d{2})?")


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime; any fraction of a second; a bare date is midnight UTC.

    Raises ValueError quoting ``text`` when it is not a timestamp.
    """
    found = _TIMESTAMP.fullmatch(text.strip()) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"{text!r} is not a timestamp")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    stamp = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro)
    if zone and zone not in ("Z", "z"):
        offset = zone if ":" in zone else f"{zone[:3]}:{zone[3:]}"
        return datetime.fromisoformat(stamp.isoformat() + offset).astimezone(timezone.utc)
    return stamp.replace(tzinfo=timezone.utc)
