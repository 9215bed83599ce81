"""A TAXII source kept current by asking only for what its server added.

The first read takes every object of each collection. Each ``fetch()`` then
asks each collection for the objects added after the last one it sent
(``added_after``, from the server's ``X-TAXII-Date-Added-Last``, less a
second: a server that dates two objects alike, or lets one become visible
late, loses none, and what comes twice is dropped), and adds them to those
held, each id kept in its newest version only (a revised or revoked
indicator replaces the one before). A collection whose server dates
nothing is read again whole. Objects deleted from a collection are not
seen by ``added_after``: a source read again whole (a restart) drops them.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta
from typing import Any

from .._common.errors import IocmatchError
from .._common.timestamps import parse_timestamp
from .objects import SourceObjects
from .taxii import TaxiiSource, is_taxii_url

OVERLAP = timedelta(seconds=1)


class PolledReader:
    """``read_source`` for a long scan: a TAXII source is read through a
    ``TaxiiPoll`` kept for it (its objects held, asked for more by
    ``fetch()``), any other source read again at each call."""

    def __init__(self) -> None:
        self.polls: dict[str, TaxiiPoll] = {}

    def __call__(self, source: Any) -> list[SourceObjects]:
        if isinstance(source, str) and is_taxii_url(source):
            source = TaxiiSource(source)
        if isinstance(source, TaxiiSource):
            return self.polls.setdefault(source.url, TaxiiPoll(source)).read()
        from .reading import read_source  # reading imports the readers; this module stays light

        return read_source(source)

    def fetch(self) -> bool:
        """Ask every polled source for what it added; whether any holds
        objects no build has read. A source that fails does not stop the
        others; its error is raised once all were asked (what they gave stays
        held, and is built at the next check)."""
        fresh, failed = False, None
        for poll in self.polls.values():
            try:
                fresh |= poll.fetch()
            except (IocmatchError, OSError) as exc:
                failed = failed or exc
        if failed is not None:
            raise failed
        return fresh


class TaxiiPoll:
    def __init__(self, source: TaxiiSource) -> None:
        self.source = source
        self._held: list[SourceObjects] | None = None
        self._seen: list[set[str]] = []
        # New objects fetched and not yet read by a build: a failed poll or build must not lose them.
        self.unbuilt = False

    def read(self) -> list[SourceObjects]:
        """Every object held, by collection (the first call reads the source)."""
        if self._held is None:
            self._held = self._read(self.source)
            self._seen = [{_version(obj) for obj in held.objects} for held in self._held]
        self.unbuilt = False
        return list(self._held)

    def fetch(self) -> bool:
        """Ask for what was added since the last read; whether anything is
        held that no build has read yet."""
        if self._held is None:
            self.read()
            self.unbuilt = True
            return True
        for index, held in enumerate(self._held):
            since = held.added_last
            if not since:  # the server dates nothing: all of it again, as first asked
                (again,) = self._read(dataclasses.replace(self.source, url=held.label))
                versions = {_version(obj) for obj in again.objects}
                self.unbuilt |= versions != self._seen[index]
                self._held[index], self._seen[index] = again, versions
                continue
            (added,) = self._read(dataclasses.replace(self.source, url=held.label, added_after=_before(since)))
            new = [obj for obj in added.objects if _version(obj) not in self._seen[index]]
            if not new:
                continue
            self._seen[index].update(_version(obj) for obj in new)
            self._held[index] = dataclasses.replace(
                held,
                objects=_newest([*held.objects, *new]),
                warnings=held.warnings + added.warnings,
                problems=held.problems + added.problems,
                added_last=added.added_last or since,
                digest="",
            )
            self.unbuilt = True
        return self.unbuilt

    @staticmethod
    def _read(source: TaxiiSource) -> list[SourceObjects]:
        from .taxii_client import read_taxii  # requests and taxii2client are slow to import

        return read_taxii(source)


def _before(stamp: str) -> str:
    try:
        return (parse_timestamp(stamp) - OVERLAP).isoformat().replace("+00:00", "Z")
    except ValueError:
        return stamp


def _newest(objects: list[Any]) -> list[Any]:
    """Each id once, in its newest version (by ``modified``; the later read
    among equals); objects without an id or a readable ``modified`` are kept."""
    dated = [_dated(obj) for obj in objects]
    latest: dict[str, tuple[datetime, int]] = {}
    for position, entry in enumerate(dated):
        if entry is not None and (entry[0] not in latest or entry[1] >= latest[entry[0]][0]):
            latest[entry[0]] = (entry[1], position)
    kept = {position for _, position in latest.values()}
    return [obj for position, obj in enumerate(objects) if dated[position] is None or position in kept]


def _dated(obj: Any) -> tuple[str, datetime] | None:
    ident = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(ident, str):
        return None
    try:
        return ident, parse_timestamp(obj.get("modified") or obj.get("created") or "")
    except (ValueError, TypeError):
        return None


def _version(obj: Any) -> str:
    """What tells one version of an object from another."""
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return f"{obj['id']} {obj.get('modified', '')}"
    return json.dumps(obj, sort_keys=True, default=str)
