"""Reading a TAXII 2.1 source with taxii2-client: all pages of each collection.

Whatever goes wrong (credentials refused, server unreachable, a page that is
no TAXII envelope, a server that is no TAXII 2.1 server) becomes one
SourceError naming the URL.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import requests
from taxii2client.exceptions import AccessError, TAXIIServiceException  # type: ignore[import-untyped]
from taxii2client.v21 import ApiRoot, Collection, as_pages  # type: ignore[import-untyped]

from ..errors import SourceError
from .objects import SourceObjects
from .taxii import PASSWORD_VARIABLE, USER_VARIABLE, TaxiiSource

_COLLECTION_URL = re.compile(r"/collections/[^/]+/?$")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")


def read_taxii(source: TaxiiSource) -> list[SourceObjects]:
    """Every object of the source, all pages; SourceError naming the URL when anything goes wrong."""
    user = source.user or os.environ.get(USER_VARIABLE) or None
    password = source.password or os.environ.get(PASSWORD_VARIABLE) or None
    try:
        with _client_logging_quiet():
            if _COLLECTION_URL.search(source.url):
                with Collection(source.url, user=user, password=password) as collection:
                    return [_read_collection(collection, source.added_after)]
            with ApiRoot(source.url, user=user, password=password) as root:
                readable = [collection for collection in root.collections if collection.can_read]
                if not readable:
                    raise SourceError(f"{source.url}: this API root has no collection these credentials can read")
                return [_read_collection(collection, source.added_after) for collection in readable]
    except requests.HTTPError as exc:
        raise SourceError(f"{source.url}: {_http_reason(exc)}") from None
    except requests.ConnectionError as exc:
        found = _ERRNO.search(str(exc))
        reason = found.group(0) if found else "no connection"
        raise SourceError(f"{source.url}: cannot reach the server ({reason})") from None
    except requests.RequestException as exc:
        raise SourceError(f"{source.url}: {type(exc).__name__}: {_one_line(str(exc))}") from None
    except AccessError:
        raise SourceError(f"{source.url}: the collection is not readable with these credentials") from None
    except TAXIIServiceException as exc:
        raise SourceError(f"{source.url}: not a TAXII 2.1 server: {_one_line(str(exc))}") from None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SourceError(f"{source.url}: not a TAXII 2.1 server: unexpected response") from None


def _read_collection(collection: Collection, added_after: datetime | str | None) -> SourceObjects:
    objects: list[Any] = []
    for envelope in as_pages(collection.get_objects, per_request=0, added_after=added_after):
        page = envelope.get("objects", []) if isinstance(envelope, dict) else None
        if not isinstance(page, list):
            raise SourceError(f"{collection.url}: a page of objects is not a TAXII 2.1 envelope")
        if not page and envelope.get("more"):
            raise SourceError(f"{collection.url}: the server announces more objects but sends none")
        objects.extend(page)
    return SourceObjects(collection.url, objects)


def _http_reason(exc: requests.HTTPError) -> str:
    status = exc.response.status_code if exc.response is not None else 0
    if status == 401:
        return (
            f"credentials refused or missing (HTTP 401): give --user and --password, "
            f"or set {USER_VARIABLE} and {PASSWORD_VARIABLE}"
        )
    if status == 403:
        return "access refused for these credentials (HTTP 403)"
    if status == 404:
        return "not found (HTTP 404): not a TAXII 2.1 collection or API root"
    if status in (406, 415):
        return f"the server does not speak TAXII 2.1 (HTTP {status})"
    reason = exc.response.reason if exc.response is not None else ""
    return f"HTTP {status} {reason}".strip()


def _one_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


@contextmanager
def _client_logging_quiet() -> Iterator[None]:
    """taxii2client logs warnings (a page size the server chose) and, on HTTP
    406, calls ``logging.error``, which sets up logging to stderr when nothing
    else has: the error we raise says it all, in one line."""
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    try:
        yield
    finally:
        if guard is not None:
            root.removeHandler(guard)
