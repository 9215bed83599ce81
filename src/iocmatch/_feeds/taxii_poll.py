"""A TAXII source kept current by asking only for what its server added.

The first read takes every object of each collection. Each ``fetch()`` then
asks each collection for the objects added after the last one it sent
(``added_after``, from the server's ``X-TAXII-Date-Added-Last``), and adds
them to those held: a new version of an indicator (revised, revoked) is
added beside the old, and loading keeps the newest. A collection whose
server sends no such date is read again whole. Objects deleted from a
collection are not seen by ``added_after``: a source read again whole
(a restart) drops them.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from .objects import SourceObjects
from .taxii import TaxiiSource


class TaxiiPoll:
    def __init__(self, source: TaxiiSource) -> None:
        self.source = source
        self._held: list[SourceObjects] | None = None
        self._seen: list[set[str]] = []

    def read(self) -> list[SourceObjects]:
        """Every object held, by collection (the first call reads the source)."""
        if self._held is None:
            self._held = self._read(self.source)
            self._seen = [{_version(obj) for obj in held.objects} for held in self._held]
        return list(self._held)

    def fetch(self) -> bool:
        """Ask for what was added since the last read; whether anything new came."""
        if self._held is None:
            self.read()
            return True
        fresh = False
        for index, held in enumerate(self._held):
            since = held.added_last
            if not since:  # the server dates nothing: all of it again
                (again,) = self._read(dataclasses.replace(self.source, url=held.label, added_after=None))
                fresh |= {_version(obj) for obj in again.objects} != self._seen[index]
                self._held[index], self._seen[index] = again, {_version(obj) for obj in again.objects}
                continue
            (added,) = self._read(dataclasses.replace(self.source, url=held.label, added_after=since))
            new = [obj for obj in added.objects if _version(obj) not in self._seen[index]]
            self._seen[index].update(_version(obj) for obj in new)
            self._held[index] = dataclasses.replace(
                held, objects=[*held.objects, *new], added_last=added.added_last or since, digest=""
            )
            fresh |= bool(new)
        return fresh

    @staticmethod
    def _read(source: TaxiiSource) -> list[SourceObjects]:
        from .taxii_client import read_taxii  # requests and taxii2client are slow to import

        return read_taxii(source)


def _version(obj: Any) -> str:
    """What tells one version of an object from another."""
    if isinstance(obj, dict) and isinstance(obj.get("id"), str):
        return f"{obj['id']} {obj.get('modified', '')}"
    return json.dumps(obj, sort_keys=True, default=str)
