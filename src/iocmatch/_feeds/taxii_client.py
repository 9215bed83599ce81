"""Reading a TAXII 2.1 source with taxii2-client: all pages of each collection.

Whatever goes wrong (credentials refused, server unreachable or too slow, a
page that is no TAXII envelope, paging that never ends, a response too large,
a server that is no TAXII 2.1 server) becomes one SourceError naming the URL:
a feed that failed never reads as a feed with nothing in it.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import requests
import taxii2client  # type: ignore[import-untyped]
from taxii2client.exceptions import AccessError, TAXIIServiceException  # type: ignore[import-untyped]
from taxii2client.v21 import ApiRoot, Collection, as_pages  # type: ignore[import-untyped]
from urllib3.exceptions import MaxRetryError, ProtocolError

from .._common.errors import SourceError
from .._common.timestamps import parse_timestamp
from .objects import SourceObjects
from .taxii import DEFAULT_MAX_RESPONSE_BYTES, PASSWORD_VARIABLE, USER_VARIABLE, TaxiiSource
from .taxii_http import RETRY_STATUSES, Refused, connection, lower_response_limit

_COLLECTION_URL = re.compile(r"/collections/[^/]+/?$")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")]+")
_QUIET_LOGGERS = ("taxii2client", "urllib3", "requests")
_TAXII2CLIENT_FOLDER = os.path.dirname(taxii2client.__file__)


def read_taxii(source: TaxiiSource) -> list[SourceObjects]:
    """Every object of the source, all pages; SourceError naming the URL when anything goes wrong."""
    user = source.user or os.environ.get(USER_VARIABLE) or None
    password = source.password or os.environ.get(PASSWORD_VARIABLE) or None
    if user and password and not source.allow_plain_http:
        _refuse_plain_http(source.url)
    limit = source.max_response_bytes or DEFAULT_MAX_RESPONSE_BYTES
    conn = connection(user, password, timeout=source.timeout, retries=source.retries, max_response_bytes=limit)
    try:
        with _libraries_quiet():
            if source.max_response_bytes is None:
                _take_the_servers_limit(source.url, conn)
            if _COLLECTION_URL.search(source.url):
                with Collection(source.url, conn=conn) as collection:
                    return [_read_collection(collection, source, conn)]
            with ApiRoot(source.url, conn=conn) as root:
                readable = [collection for collection in root.collections if collection.can_read]
                if not readable:
                    raise SourceError(f"{source.url}: this API root has no collection these credentials can read")
                return [_read_collection(collection, source, conn) for collection in readable]
    except SourceError:
        raise
    except Refused as exc:
        raise SourceError(f"{source.url}: {exc}") from None
    except requests.Timeout as exc:
        raise SourceError(f"{source.url}: {_timeout_reason(exc, source.timeout)}") from None
    except requests.HTTPError as exc:
        raise SourceError(f"{source.url}: {_http_reason(exc, source.retries)}") from None
    except requests.ConnectionError as exc:
        raise SourceError(f"{source.url}: {_connection_reason(exc, source.retries)}") from None
    except requests.RequestException as exc:
        raise SourceError(f"{source.url}: {type(exc).__name__}: {_one_line(str(exc))}") from None
    except AccessError:
        raise SourceError(f"{source.url}: the collection is not readable with these credentials") from None
    except TAXIIServiceException as exc:
        raise SourceError(f"{source.url}: not a TAXII 2.1 server: {_one_line(str(exc))}") from None
    except RecursionError:
        raise SourceError(f"{source.url}: a response nested too deeply to read") from None
    except (KeyError, TypeError, ValueError, AttributeError):
        raise SourceError(f"{source.url}: not a TAXII 2.1 server: unexpected response") from None
    finally:
        conn.close()


def _take_the_servers_limit(url: str, conn: Any) -> None:
    """The API root's ``max_content_length``, when smaller, caps responses too.
    TAXII 2.1 defines it for request bodies, but a page larger than the
    server's own limit is no page it meant to send; ``max_response_bytes``
    overrides it. An API root that does not say leaves the default."""
    root_url = _COLLECTION_URL.sub("/", url)
    try:
        limit = ApiRoot(root_url, conn=conn).max_content_length
    except Exception:  # noqa: BLE001 - best effort: the collection itself is read next, and its errors reported
        return
    if isinstance(limit, int) and limit > 0:
        lower_response_limit(conn, limit, "the server's max_content_length; max_response_bytes to accept more")


def _refuse_plain_http(url: str) -> None:
    """Basic auth over plain http hands the password to anyone on the way;
    loopback never leaves the machine."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme.lower() != "http" or host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise SourceError(
        f"{url}: refusing to send credentials over plain http to {host}, where anyone on the way can read them: "
        f"use https, or allow it with allow_plain_http=True (--allow-plain-http)"
    )


def _read_collection(collection: Collection, source: TaxiiSource, conn: Any) -> SourceObjects:
    objects: list[Any] = []
    seen: set[int] = set()
    # The server says when the last object it sent was added (a header taxii2-client does not hand back).
    added: list[str] = []

    def note_added(response: requests.Response, *_: Any, **__: Any) -> None:
        if value := response.headers.get("X-TAXII-Date-Added-Last"):
            added.append(value)

    hooks = conn.session.hooks["response"]
    hooks.append(note_added)
    try:
        pages = as_pages(collection.get_objects, per_request=0, added_after=source.added_after)
        for number, envelope in enumerate(pages, start=1):
            page = envelope.get("objects", []) if isinstance(envelope, dict) else None
            if not isinstance(page, list):
                raise SourceError(f"{collection.url}: a page of objects is not a TAXII 2.1 envelope")
            objects.extend(page)
            if envelope.get("more", False):
                _check_more(collection.url, envelope, page, number, source.max_pages, seen)
    finally:
        hooks.remove(note_added)
    return SourceObjects(collection.url, objects, added_last=_latest(added))


def _latest(stamps: list[str]) -> str:
    """The latest of the timestamps a server sent ("" when none could be read)."""
    dated = []
    for stamp in stamps:
        try:
            dated.append((parse_timestamp(stamp), stamp))
        except ValueError:
            continue
    return max(dated)[1] if dated else ""


def _check_more(
    url: str, envelope: dict[str, Any], page: list[Any], number: int, max_pages: int, seen: set[int]
) -> None:
    """Before asking for the page after ``page``: paging that would never end,
    or end only past the limit, is an error rather than a loop or a cut."""
    if not page:
        raise SourceError(f"{url}: the server announces more objects but sends none")
    token = envelope.get("next")
    if not isinstance(token, str) or not token:
        raise SourceError(f"{url}: the server announces more objects but gives no next token")
    if number >= max_pages:
        raise SourceError(f"{url}: more than {max_pages} pages (max_pages)")
    # A server may send the same token on every page (medallion does: the token
    # names its paging session), or a new token on every page. The loop is a
    # page sent again, the same objects in the same versions, whatever its token.
    key = _fingerprint(page)
    if key in seen:
        raise SourceError(f"{url}: the server sends a page it sent before (next token {token[:40]!r}): paging loops")
    seen.add(key)


def _fingerprint(page: list[Any]) -> int:
    return hash(tuple(f"{obj.get('id')} {obj.get('modified')}" if isinstance(obj, dict) else repr(obj) for obj in page))


def _timeout_reason(exc: requests.Timeout, seconds: float) -> str:
    waiting = "connecting to the server" if isinstance(exc, requests.ConnectTimeout) else "waiting for the server"
    return f"timed out after {seconds:g} s {waiting}"


def _http_reason(exc: requests.HTTPError, retries: int) -> str:
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
    answer = f"HTTP {status} {reason}".strip()
    if status in RETRY_STATUSES and retries:
        return f"gave up after {retries} retries, the last answer {answer}"
    return answer


def _connection_reason(exc: requests.ConnectionError, retries: int) -> str:
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, MaxRetryError) and isinstance(cause.reason, ProtocolError):
        broken = f"the connection broke ({_innermost(cause.reason)})"
        return f"{broken}; gave up after {retries} retries" if retries else broken
    found = _ERRNO.search(str(exc))
    return f"cannot reach the server ({found.group(0) if found else 'no connection'})"


def _innermost(error: BaseException) -> str:
    """'Connection reset by peer' out of ProtocolError('Connection aborted.', ConnectionResetError(...))."""
    inner = error.args[-1] if error.args and isinstance(error.args[-1], BaseException) else error
    if isinstance(inner, OSError) and inner.strerror:
        return inner.strerror
    return _one_line(str(inner))


def _one_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no reason given"


@contextmanager
def _libraries_quiet() -> Iterator[None]:
    """No log line of taxii2client, urllib3 or requests reaches stderr, whatever
    logging the program set up: taxii2client prints its warnings (a page size
    the server chose) through a handler of its own and, on HTTP 406, calls
    ``logging.error``, which would set up logging to stderr when nothing else
    has; urllib3 logs each retry. The SourceError we raise says what matters,
    in one line. The levels are restored afterwards."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    root = logging.getLogger()
    guard = logging.NullHandler() if not root.handlers else None
    if guard is not None:
        root.addHandler(guard)
    root.addFilter(_not_from_taxii2client)
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        root.removeFilter(_not_from_taxii2client)
        if guard is not None:
            root.removeHandler(guard)


def _not_from_taxii2client(record: logging.LogRecord) -> bool:
    return not record.pathname.startswith(_TAXII2CLIENT_FOLDER)
