"""HTTP for TAXII with limits: taxii2client's connection, with a requests
adapter that bounds time, retries and size.

- Connecting and each wait for data time out after ``timeout`` seconds.
- One response, from the request to its last byte, has ``DEADLINE_FACTOR``
  times that in all: a watchdog shuts its socket down when the time is up,
  which is the only way to wake a read that a server feeds a byte at a time.
- HTTP 429 and 5xx answers, and connections that break, are tried again by
  urllib3's Retry (GET is idempotent); timeouts are not, since a server that
  did not answer in time rarely does on the next try.
- The body is read as it comes and refused once larger than the limit.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from taxii2client.common import _HTTPConnection  # type: ignore[import-untyped]
from urllib3 import BaseHTTPResponse, HTTPConnectionPool, HTTPResponse, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import DecodeError, InvalidHeader, MaxRetryError, ProtocolError, ReadTimeoutError
from urllib3.util.retry import Retry

from .taxii import DEADLINE_FACTOR, RETRY_AFTER_CAP

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self
    from urllib3.connectionpool import ConnectionPool

# 501 and 505 say the server never will; every other 5xx may pass.
RETRY_STATUSES = frozenset({429, *range(500, 600)} - {501, 505})
BACKOFF_SECONDS = 0.5  # urllib3 waits 0, then 1, 2, 4... seconds between tries
_CHUNK = 64 * 1024


class Refused(Exception):
    """A response iocmatch will not take; ``str()`` says why in one line."""


def connection(user: str | None, password: str | None, *, timeout: float, retries: int, max_response_bytes: int) -> Any:
    """A taxii2client connection (Basic auth when both ``user`` and
    ``password`` are given) whose every request keeps to the limits."""
    conn = _HTTPConnection(user, password, version="2.1")
    adapter = _BoundedAdapter(timeout, retries, max_response_bytes)
    conn.session.mount("http://", adapter)
    conn.session.mount("https://", adapter)
    return conn


def lower_response_limit(conn: Any, limit: int, reason: str) -> None:
    """Cap the responses of ``conn`` at ``limit`` bytes when that is lower."""
    for adapter in conn.session.adapters.values():
        if isinstance(adapter, _BoundedAdapter):
            adapter.lower_limit(limit, reason)


class _Watch:
    """The deadline of the response being read in this context."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._timer: threading.Timer | None = None

    def arm(self, sock: object) -> None:
        """A response starts on ``sock``: its time runs from now."""
        self.disarm()
        if self.expired:
            _shut(sock)
            return
        self._timer = threading.Timer(self.seconds, self._expire, args=(sock,))
        self._timer.daemon = True
        self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self, sock: object) -> None:
        self.expired = True
        _shut(sock)


# The connections urllib3 makes find the watch here: its pools build them.
_WATCH: ContextVar[_Watch | None] = ContextVar("iocmatch_taxii_watch", default=None)


def _shut(sock: object) -> None:
    """Shutting a socket down wakes a read blocked on it; closing would not."""
    plain = getattr(sock, "socket", sock)  # urllib3's SSLTransport (TLS through an HTTPS proxy) wraps one
    if isinstance(plain, socket.socket):  # an ssl.SSLSocket is one too
        with contextlib.suppress(OSError):
            plain.shutdown(socket.SHUT_RDWR)


def _watch_response(sock: object) -> None:
    watch = _WATCH.get()
    if watch is not None and sock is not None:
        watch.arm(sock)


def _pause_watch() -> None:
    watch = _WATCH.get()
    if watch is not None:
        watch.disarm()


def _deadline_passed() -> bool:
    watch = _WATCH.get()
    return watch is not None and watch.expired


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        _watch_response(self.sock)
        return super().getresponse()


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]  # as urllib3's own
        _watch_response(self.sock)
        return super().getresponse()


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Retry(Retry):
    """urllib3's Retry, except that a timeout or a response past its deadline
    is not tried again, the time between tries is not counted in a deadline,
    and a Retry-After above RETRY_AFTER_CAP is an error (an unreadable one
    falls back to the backoff)."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        if error is not None and (isinstance(error, ReadTimeoutError) or _deadline_passed()):
            raise error.with_traceback(_stacktrace)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        _pause_watch()
        super().sleep(response)

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            seconds = super().get_retry_after(response)
        except InvalidHeader:
            return None
        if seconds is not None and seconds > RETRY_AFTER_CAP:
            raise Refused(
                f"HTTP {response.status}, and the server asks to wait longer than the {RETRY_AFTER_CAP:g} s "
                f"iocmatch waits (Retry-After: {response.headers['Retry-After']})"
            )
        return seconds


class _BoundedAdapter(HTTPAdapter):
    """Sends each request with the timeouts and retries, then reads the whole
    body under the size limit and the deadline, trying again when the
    connection breaks half-way. Used by one reader at a time."""

    def __init__(self, timeout: float, retries: int, max_response_bytes: int) -> None:
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._limit_reason = "max_response_bytes"
        self._policy = _Retry(
            total=retries,
            connect=0,  # a refused or unreachable server is not flaky
            status_forcelist=RETRY_STATUSES,
            backoff_factor=BACKOFF_SECONDS,
            raise_on_status=False,  # the last answer, so the error can quote its status
        )
        super().__init__(max_retries=self._policy)

    def lower_limit(self, limit: int, reason: str) -> None:
        """A smaller cap on responses from now on, and what to say when one is refused."""
        if limit < self._max_bytes:
            self._max_bytes, self._limit_reason = limit, reason

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools get the timeouts, not the deadline
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,  # noqa: ARG002 - requests' signature: the body is always streamed under the cap
        timeout: Any = None,  # noqa: ARG002 - requests' signature: the source's own timeout is used
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        watch = _Watch(self._timeout * DEADLINE_FACTOR)
        token = _WATCH.set(watch)
        try:
            return self._send_and_read(request, watch, verify=verify, cert=cert, proxies=proxies)
        except Exception:
            if watch.expired:  # whatever broke, the watchdog broke it
                raise _too_slow(watch) from None
            raise
        finally:
            watch.disarm()
            _WATCH.reset(token)

    def _send_and_read(self, request: requests.PreparedRequest, watch: _Watch, **options: Any) -> requests.Response:
        retry: Retry = self._policy
        while True:
            self.max_retries = retry  # what is left of the tries after a body that broke off
            response = super().send(request, stream=True, timeout=self._timeout, **options)
            try:
                body = _read_body(response, self._max_bytes, self._limit_reason)
            except ProtocolError as broken:
                response.close()
                if watch.expired:
                    raise
                retry = _after_broken_body(response, request, broken)
                retry.sleep()
                continue
            except BaseException:
                response.close()
                raise
            watch.disarm()
            if watch.expired:  # the watchdog may have cut a body that ends with the connection
                raise _too_slow(watch)
            # What requests keeps once it has read a body: the caller gets it as if unstreamed.
            response._content = body
            response._content_consumed = True
            return response


def _too_slow(watch: _Watch) -> Refused:
    return Refused(f"the server took more than {watch.seconds:g} s to send one response")


def _after_broken_body(response: requests.Response, request: requests.PreparedRequest, broken: ProtocolError) -> Retry:
    used: Retry = response.raw.retries or Retry(0)
    try:
        return used.increment(request.method, request.url, error=broken)
    except MaxRetryError as exhausted:
        raise requests.ConnectionError(exhausted, request=request) from None


def _read_body(response: requests.Response, limit: int, reason: str) -> bytes:
    """The decoded body; Refused as soon as it is known to exceed ``limit``."""
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise Refused(f"the response is larger than {limit} bytes ({reason}; Content-Length: {declared})")
    body = bytearray()
    try:
        for chunk in response.raw.stream(_CHUNK, decode_content=True):
            body += chunk
            if len(body) > limit:
                raise Refused(f"the response is larger than {limit} bytes ({reason})")
    except ReadTimeoutError as exc:
        raise requests.ReadTimeout(exc, request=response.request) from None
    except DecodeError as exc:
        raise requests.exceptions.ContentDecodingError(exc, request=response.request) from None
    response.raw.release_conn()
    return bytes(body)
