"""A TAXII 2.1 source: one collection, or every collection an API root lets
the caller read. Reading it is ``taxii_client``'s work."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .objects import SourceObjects

USER_VARIABLE = "IOCMATCH_TAXII_USER"
PASSWORD_VARIABLE = "IOCMATCH_TAXII_PASSWORD"


def is_taxii_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class TaxiiSource:
    """A TAXII 2.1 collection (``.../collections/<id>/``) or API root URL.

    ``user``/``password`` default to ``$IOCMATCH_TAXII_USER`` and
    ``$IOCMATCH_TAXII_PASSWORD``; ``added_after`` (a datetime or a STIX
    timestamp) asks only for objects the server added after it.
    """

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    added_after: datetime | str | None = None

    def read(self) -> list[SourceObjects]:
        # requests and taxii2client take a noticeable part of a second to import.
        from .taxii_client import read_taxii

        return read_taxii(self)
