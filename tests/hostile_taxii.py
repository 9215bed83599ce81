"""A TAXII 2.1 server on 127.0.0.1 that misbehaves on demand: it serves one
collection properly, and answers its objects endpoint the way a test says,
down to the socket (resets, bytes sent one at a time, answers that never come).
"""

from __future__ import annotations

import json
import socket
import ssl
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import indicator

TAXII = "application/taxii+json;version=2.1"
STIX = "application/stix+json;version=2.1"
COLLECTION = str(uuid.UUID(int=21, version=4))
OBJECTS = [indicator(f"[domain-name:value = 'c2-{n}.hostile.example']", 700 + n) for n in range(6)]
# The longest the server holds anything back: code without limits fails
# after this, it does not hang the test run.
HOLD = 10.0


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float  # time.monotonic()


class Handler(BaseHTTPRequestHandler):
    server: TaxiiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  # the name http.server gives it
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)  # a full URL when the server serves as a proxy
        request = Request(parts.path, parse_qs(parts.query), dict(self.headers), time.monotonic())
        self.server.requests.append(request)
        if parts.path.endswith("/objects/"):
            self.server.answer(self, len(self.server.objects_requests()) - 1)
        elif parts.path.endswith(f"/collections/{COLLECTION}/"):
            self.send_json(_COLLECTION_INFO)
        elif parts.path.endswith("/collections/"):
            self.send_json({"collections": [_COLLECTION_INFO]})
        elif parts.path.endswith("/api/"):
            limit = self.server.max_content_length
            self.send_json({"title": "hostile", "versions": [TAXII], "max_content_length": limit})
        else:
            self.send_json({"title": "not found"}, status=404)

    def send_json(self, body: Any, status: int = 200, **headers: str) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", TAXII)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def send_page(self, objects: list[Any], more: bool = False, next_token: str | None = None) -> None:
        envelope: dict[str, Any] = {"objects": objects, "more": more}
        if next_token is not None:
            envelope["next"] = next_token
        self.send_json(envelope)

    def next_token(self) -> str | None:
        tokens = self.server.requests[-1].query.get("next")
        return tokens[0] if tokens else None

    def hold(self) -> None:
        """Keep the connection open without a word."""
        self.server.stopping.wait(HOLD)
        self.close_connection = True

    def reset(self) -> None:
        """Drop the connection with a TCP reset."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def drip(self, data: bytes, every: float = 0.1) -> None:
        """Send ``data`` then spaces, one byte at a time, until the client hangs up."""
        self.close_connection = True
        deadline = time.monotonic() + HOLD
        stream = iter(data)
        while time.monotonic() < deadline and not self.server.stopping.is_set():
            try:
                self.wfile.write(bytes([next(stream, 0x20)]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(every)


_COLLECTION_INFO = {"id": COLLECTION, "title": "hostile", "can_read": True, "can_write": False, "media_types": [STIX]}

Answer = Callable[[Handler, int], None]
"""How the server answers its ``n``-th request for objects (from 0)."""


class TaxiiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, answer: Answer, certificate: Path | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer
        self.max_content_length = 1 << 30  # what the API root says: above the default cap unless a test lowers it
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self.scheme = "https" if certificate else "http"
        if certificate:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate, certificate.with_name("key.pem"))
            self.socket = context.wrap_socket(self.socket, server_side=True)

    @property
    def root(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_address[1]}/api/"

    @property
    def url(self) -> str:
        """The collection's URL."""
        return f"{self.root}collections/{COLLECTION}/"

    def objects_requests(self) -> list[Request]:
        return [request for request in self.requests if request.path.endswith("/objects/")]

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up is what these tests provoke


@contextmanager
def serving(answer: Answer, certificate: Path | None = None) -> Iterator[TaxiiServer]:
    """The server, over TLS when given a ``certificate`` (see self_signed_certificate)."""
    server = TaxiiServer(answer, certificate)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def all_objects(handler: Handler, _: int) -> None:
    handler.send_page(OBJECTS)


def after(failures: int, failure: Answer) -> Answer:
    """``failure`` for the first ``failures`` requests, then every object."""

    def answer(handler: Handler, index: int) -> None:
        (failure if index < failures else all_objects)(handler, index)

    return answer


def self_signed_certificate(folder: Path) -> Path:
    """A certificate for 127.0.0.1, with its key beside it in ``key.pem``."""
    certificate = folder / "certificate.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"), "-out", str(certificate)],
        check=True, capture_output=True,
    )  # fmt: skip
    return certificate
