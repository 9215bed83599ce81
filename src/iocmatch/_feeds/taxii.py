"""A TAXII 2.1 source: one collection, or every collection an API root lets
the caller read. Reading it is ``taxii_client``'s work.

The limits below keep a misbehaving server from hanging a scan, filling the
memory or passing a failed feed off as an empty one: each one, when reached,
is a SourceError naming the URL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from .._common.errors import SourceError

USER_VARIABLE = "IOCMATCH_TAXII_USER"
PASSWORD_VARIABLE = "IOCMATCH_TAXII_PASSWORD"  # noqa: S105 - the variable's name, not a password

DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_MAX_PAGES = 100_000
DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024
# One response, from the request to its last byte, may take this many times
# the timeout: room for a large page on a slow link, while a server that
# sends a byte now and then (each read well within the timeout) holds a
# scan for minutes at most, not for ever.
DEADLINE_FACTOR = 4
# A longer Retry-After is an error at once: waiting less than the server
# asks only earns another refusal, and waiting longer stalls the scan.
RETRY_AFTER_CAP = 60.0


def is_taxii_url(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


@dataclass(frozen=True)
class TaxiiSource:
    """A TAXII 2.1 collection (``.../collections/<id>/``) or API root URL.

    ``user``/``password`` default to ``$IOCMATCH_TAXII_USER`` and
    ``$IOCMATCH_TAXII_PASSWORD``; they are never sent over plain ``http://``
    to a host other than loopback unless ``allow_plain_http``. ``added_after``
    (a datetime or a STIX timestamp) asks only for objects the server added
    after it.

    ``timeout`` bounds connecting and each wait for data, in seconds; a whole
    response gets ``DEADLINE_FACTOR`` times that. HTTP 429 and 5xx answers and
    broken connections are tried again up to ``retries`` times, with
    exponential backoff or the server's ``Retry-After`` (at most
    ``RETRY_AFTER_CAP`` seconds). More than ``max_pages`` pages in one
    collection, or one response larger than ``max_response_bytes``, is an
    error rather than a silent truncation. Without ``max_response_bytes``
    the cap is ``DEFAULT_MAX_RESPONSE_BYTES``, or the API root's
    ``max_content_length`` when that is smaller.
    """

    url: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    added_after: datetime | str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    max_pages: int = DEFAULT_MAX_PAGES
    max_response_bytes: int | None = None
    allow_plain_http: bool = False

    def __post_init__(self) -> None:
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise SourceError(f"{self.url}: timeout must be a number of seconds above 0, not {timeout!r}")
        for name, least in (("retries", 0), ("max_pages", 1), ("max_response_bytes", 1)):
            value = getattr(self, name)
            if name == "max_response_bytes" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise SourceError(f"{self.url}: {name} must be a whole number of at least {least}, not {value!r}")
