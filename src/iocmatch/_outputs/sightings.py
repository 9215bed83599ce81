"""STIX 2.1 sightings: what a scan saw, as a bundle a threat-intelligence
platform can take back.

One ``sighting`` per indicator hit: ``count`` is the number of log lines that
hit it, ``first_seen``/``last_seen`` the earliest and latest time of those lines
(the time a line carries, else when it was read), ``where_sighted_refs`` the
observer's ``identity``. A match of several records (a pattern with
observation operators) counts each of its records, and its records' times
are its first and last seen. The bundle is written when the scan ends.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .._scanning.hits import HitLine
from .ecs import timestamp

# The same observer name gives the same identity id on every run and machine.
_OBSERVER_NAMESPACE = uuid.UUID("5b1d7e3c-2f40-4c8e-9a51-6d0f3c1e7a22")
_MAX_COUNT = 999_999_999  # STIX 2.1's bound on a sighting's count


@dataclass(slots=True)
class _Seen:
    count: int
    first: datetime
    last: datetime


class SightingCounter:
    def __init__(self) -> None:
        self._seen: dict[str, _Seen] = {}
        # The last line counted for each indicator: a line longer than the
        # line window comes as several hit lines, and is still one line.
        self._last_line: dict[str, tuple[str, int]] = {}

    def add(self, hit: HitLine) -> None:
        """Count the line once for every indicator hit on it."""
        moment = hit.logged_at or hit.read_at
        where = (hit.file, hit.number)
        for found in hit.matches:
            if found.events:
                for indicator_id in found.match.indicators:
                    self._add_events(indicator_id, [event.time for event in found.events])
        ids = dict.fromkeys(
            indicator for found in hit.matches if not found.events for indicator in found.match.indicators
        )
        for indicator_id in ids:
            seen = self._seen.get(indicator_id)
            if seen is None:
                self._seen[indicator_id] = _Seen(1, moment, moment)
            elif not (hit.continues and self._last_line.get(indicator_id) == where):
                seen.count += 1
                seen.first = min(seen.first, moment)
                seen.last = max(seen.last, moment)
            self._last_line[indicator_id] = where

    def _add_events(self, indicator_id: str, times: list[datetime]) -> None:
        """A match of several records: each is one sighting of the indicator."""
        seen = self._seen.get(indicator_id)
        if seen is None:
            self._seen[indicator_id] = _Seen(len(times), min(times), max(times))
            return
        seen.count += len(times)
        seen.first = min(seen.first, *times)
        seen.last = max(seen.last, *times)

    @property
    def counts(self) -> dict[str, int]:
        return {indicator_id: seen.count for indicator_id, seen in self._seen.items()}

    def bundle(self, observer: str, now: datetime) -> dict[str, Any]:
        created = timestamp(now)
        identity = observer_identity(observer, created)
        sightings = [
            {
                "type": "sighting",
                "spec_version": "2.1",
                "id": f"sighting--{uuid.uuid4()}",
                "created": created,
                "modified": created,
                "created_by_ref": identity["id"],
                "sighting_of_ref": indicator_id,
                "count": min(seen.count, _MAX_COUNT),
                "first_seen": timestamp(seen.first),
                "last_seen": timestamp(seen.last),
                "where_sighted_refs": [identity["id"]],
            }
            for indicator_id, seen in sorted(self._seen.items())
        ]
        return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": [identity, *sightings]}


def default_observer() -> str:
    """Without ``--observer``, the sightings are this host's."""
    return socket.gethostname() or "iocmatch"


def observer_identity(name: str, created: str) -> dict[str, Any]:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid5(_OBSERVER_NAMESPACE, name)}",
        "created": created,
        "modified": created,
        "name": name,
        "identity_class": "system",
    }
