"""TAXII servers that misbehave (on 127.0.0.1, down to the socket): each one
fails the load with one SourceError line naming the URL and what happened,
promptly, or is read in full once it recovers. A failed feed never reads as
a feed with nothing in it."""

from __future__ import annotations

import base64
import email.utils
import gzip
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

import iocmatch
from iocmatch import TaxiiSource
from tests.hostile_taxii import (
    COLLECTION,
    HOLD,
    OBJECTS,
    TAXII,
    Handler,
    TaxiiServer,
    after,
    all_objects,
    self_signed_certificate,
    serving,
)

pytestmark = pytest.mark.network  # hostile servers on loopback

QUICK = 0.25  # the timeout these tests give; one response then has 1 s in all
# A failure that comes before this came from a limit: without one, the server
# holds on for HOLD seconds. A bound on a hang, not a measurement of speed.
PROMPT = HOLD / 2


def failure(source: TaxiiSource, *expected: str) -> tuple[str, float]:
    """The one-line message of the load's SourceError, and how long it took."""
    start = time.monotonic()
    with pytest.raises(iocmatch.SourceError) as raised:
        iocmatch.load(source)
    elapsed = time.monotonic() - start
    message = str(raised.value)
    assert source.url in message
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message
    return message, elapsed


# Time


def test_a_server_that_accepts_and_never_answers_times_out() -> None:
    with serving(lambda handler, _: handler.hold()) as server:
        _, elapsed = failure(TaxiiSource(server.url, timeout=QUICK), f"timed out after {QUICK:g} s waiting")
        assert elapsed < PROMPT
        assert len(server.objects_requests()) == 1  # a timeout is not tried again


@pytest.fixture
def full_listener() -> Iterator[int]:
    """A port whose queue of connections is full: new connections never complete."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port))
    closing = threading.Timer(HOLD, listener.close)
    closing.start()
    try:
        yield port
    finally:
        closing.cancel()
        filler.close()
        listener.close()


def test_a_server_that_never_completes_the_connection_times_out(full_listener: int) -> None:
    url = f"http://127.0.0.1:{full_listener}/api/"
    _, elapsed = failure(TaxiiSource(url, timeout=QUICK), f"timed out after {QUICK:g} s connecting")
    assert elapsed < PROMPT


@pytest.mark.parametrize(
    "dripped",
    [
        pytest.param(b"HTTP/1.1 200 OK\r\nX-Padding: ", id="status-line-and-headers"),
        pytest.param(
            f"HTTP/1.1 200 OK\r\nContent-Type: {TAXII}\r\nContent-Length: 100000\r\n\r\n".encode(), id="sized-body"
        ),
        # No length: the body ends when the connection does, so a cut one would pass for whole.
        pytest.param(f"HTTP/1.1 200 OK\r\nContent-Type: {TAXII}\r\nConnection: close\r\n\r\n".encode(), id="open-body"),
    ],
)
def test_a_server_that_drips_bytes_is_cut_off_at_the_deadline(dripped: bytes) -> None:
    with serving(lambda handler, _: handler.drip(dripped, every=0.05)) as server:
        _, elapsed = failure(TaxiiSource(server.url, timeout=QUICK), "took more than 1 s to send one response")
        assert elapsed < PROMPT
        assert len(server.objects_requests()) == 1


def test_the_deadline_holds_over_tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    certificate = self_signed_certificate(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    body = f"HTTP/1.1 200 OK\r\nContent-Type: {TAXII}\r\nContent-Length: 100000\r\n\r\n".encode()
    with serving(lambda handler, _: handler.drip(body, every=0.05), certificate) as server:
        assert server.url.startswith("https://")
        _, elapsed = failure(TaxiiSource(server.url, timeout=QUICK), "took more than 1 s to send one response")
        assert elapsed < PROMPT
    with serving(all_objects, certificate) as server:
        assert iocmatch.load(TaxiiSource(server.url, timeout=QUICK)).report.read == len(OBJECTS)


# Retries


def test_429_and_5xx_answers_are_tried_again_until_the_server_recovers() -> None:
    statuses = iter([503, 429])
    with serving(after(2, lambda handler, _: handler.send_json({}, status=next(statuses)))) as server:
        loaded = iocmatch.load(TaxiiSource(server.url))
        assert loaded.report.read == len(OBJECTS)
        assert len(server.objects_requests()) == 3


def _reset_in_the_body(handler: Handler, _: int) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", TAXII)
    handler.send_header("Content-Length", "5000")
    handler.end_headers()
    handler.wfile.write(b'{"objects": [' + b" " * 1000)
    handler.reset()


@pytest.mark.parametrize(
    "broken",
    [
        pytest.param(lambda handler, _: handler.reset(), id="before-the-answer"),
        pytest.param(_reset_in_the_body, id="in-the-body"),
    ],
)
def test_a_reset_connection_is_tried_again(broken: Any) -> None:
    with serving(after(1, broken)) as server:
        loaded = iocmatch.load(TaxiiSource(server.url))
        assert loaded.report.read == len(OBJECTS)
        assert len(server.objects_requests()) == 2


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        pytest.param(lambda handler, _: handler.send_json({}, status=503), "HTTP 503 Service Unavailable", id="503"),
        pytest.param(lambda handler, _: handler.reset(), "the connection broke", id="reset"),
        pytest.param(_reset_in_the_body, "the connection broke", id="reset-in-the-body"),
    ],
)
def test_the_load_gives_up_after_the_retries_naming_the_last_failure(broken: Any, expected: str) -> None:
    with serving(broken) as server:
        failure(TaxiiSource(server.url, retries=2), "gave up after 2 retries", expected)
        assert len(server.objects_requests()) == 3


@pytest.mark.parametrize(
    "retry_after",
    [
        pytest.param(lambda: "1", id="seconds"),
        pytest.param(lambda: email.utils.formatdate(time.time() + 2, usegmt=True), id="http-date"),
    ],
)
def test_retry_after_is_waited_for(retry_after: Any) -> None:
    def busy(handler: Handler, _: int) -> None:
        handler.send_json({}, status=429, Retry_After=retry_after())

    with serving(after(1, busy)) as server:
        loaded = iocmatch.load(TaxiiSource(server.url))
        assert loaded.report.read == len(OBJECTS)
        first, second = server.objects_requests()
        assert second.at - first.at >= 0.9


def test_a_retry_after_beyond_the_cap_fails_at_once() -> None:
    def closed_for_the_day(handler: Handler, _: int) -> None:
        handler.send_json({}, status=429, Retry_After="86400")

    with serving(closed_for_the_day) as server:
        _, elapsed = failure(TaxiiSource(server.url), "HTTP 429", "longer than the 60 s", "Retry-After: 86400")
        assert elapsed < PROMPT
        assert len(server.objects_requests()) == 1


# Paging


def _stuck(handler: Handler, index: int) -> None:
    """Paging that never ends: the same next token with the same page."""
    if index > 50:  # code that would loop for ever fails instead
        handler.send_json({}, status=500)
    else:
        handler.send_page(OBJECTS[:2], more=True, next_token="abc")


def _cycling(handler: Handler, index: int) -> None:
    """Paging that goes round: a, b, a, b..."""
    if index > 50:
        handler.send_json({}, status=500)
    else:
        token = {None: "a", "a": "b", "b": "a"}[handler.next_token()]
        handler.send_page(OBJECTS[:2] if token == "a" else OBJECTS[2:4], more=True, next_token=token)


def _new_token_same_page(handler: Handler, index: int) -> None:
    """Paging that never ends behind fresh tokens: the same page under token 1, 2, 3..."""
    if index > 50:
        handler.send_json({}, status=500)
    else:
        handler.send_page(OBJECTS[:2], more=True, next_token=str(index + 1))


@pytest.mark.parametrize(
    "answer", [_stuck, _cycling, _new_token_same_page], ids=["stuck", "cycling", "new-token-same-page"]
)
def test_a_page_sent_again_is_an_error_whatever_its_token(answer: Any) -> None:
    with serving(answer) as server:
        failure(TaxiiSource(server.url, retries=0), "sends a page it sent before")
        assert len(server.objects_requests()) <= 4


def test_more_objects_without_a_next_token_is_an_error() -> None:
    def no_token(handler: Handler, index: int) -> None:
        if index > 50:
            handler.send_json({}, status=500)
        else:
            handler.send_page(OBJECTS[:2], more=True)

    with serving(no_token) as server:
        failure(TaxiiSource(server.url, retries=0), "announces more objects but gives no next token")
        assert len(server.objects_requests()) == 1


def _one_object_a_page(handler: Handler, _: int) -> None:
    """Five pages, each with its own next token."""
    token = handler.next_token()
    number = int(token.removeprefix("page-")) if token else 0
    handler.send_page([OBJECTS[number]], more=number < 4, next_token=f"page-{number + 1}")


def test_more_pages_than_max_pages_is_an_error_not_a_cut() -> None:
    with serving(_one_object_a_page) as server:
        failure(TaxiiSource(server.url, max_pages=4), "more than 4 pages")
        assert iocmatch.load(TaxiiSource(server.url, max_pages=5)).report.read == 5


# Size


def test_a_response_announced_larger_than_the_limit_is_refused_before_its_body() -> None:
    def huge(handler: Handler, _: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", TAXII)
        handler.send_header("Content-Length", str(200 * 1024 * 1024))
        handler.end_headers()
        handler.hold()

    with serving(huge) as server:
        expected = "larger than 104857600 bytes (max_response_bytes; Content-Length: 209715200)"
        _, elapsed = failure(TaxiiSource(server.url), expected)
        assert elapsed < PROMPT


def test_the_servers_own_max_content_length_caps_responses_when_smaller() -> None:
    with serving(all_objects) as server:
        server.max_content_length = 300
        failure(TaxiiSource(server.url), "larger than 300 bytes (the server's max_content_length")
        # Asked for explicitly, the cap is the caller's.
        loaded = iocmatch.load(TaxiiSource(server.url, max_response_bytes=1 << 20))
        assert loaded.report.compiled == len(OBJECTS)


def test_an_endless_body_is_refused_once_past_the_limit() -> None:
    def endless(handler: Handler, _: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", TAXII)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b'{"objects": [')
        handler.close_connection = True
        for _ in range(1024):  # 64 MiB, then the end: code without a limit fails, it does not fill the memory
            try:
                handler.wfile.write(b" " * 65536)
            except OSError:
                return

    with serving(endless) as server:
        failure(TaxiiSource(server.url, max_response_bytes=1_000_000), "larger than 1000000 bytes")


def test_a_compressed_body_counts_at_its_decompressed_size() -> None:
    page = b'{"objects": [], "padding": "' + b" " * 5_000_000 + b'"}'
    packed = gzip.compress(page)

    def bomb(handler: Handler, _: int) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", TAXII)
        handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Length", str(len(packed)))
        handler.end_headers()
        handler.wfile.write(packed)

    with serving(bomb) as server:
        assert len(packed) < 1_000_000
        failure(TaxiiSource(server.url, max_response_bytes=1_000_000), "larger than 1000000 bytes")


# Credentials


REMOTE = "http://taxii.example.com/api/collections/{}/"


@pytest.fixture
def proxied(monkeypatch: pytest.MonkeyPatch) -> Iterator[TaxiiServer]:
    """The fake server as the HTTP proxy: whatever reaches the remote host reaches it."""
    with serving(all_objects) as server:
        for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{server.server_address[1]}")
        yield server


class _Credentials(TypedDict, total=False):
    """TaxiiSource's credential fields, each left out when the environment holds it."""

    user: str
    password: str


@pytest.mark.parametrize("from_environment", [False, True], ids=["fields", "environment"])
def test_credentials_go_over_plain_http_to_a_remote_host_only_when_allowed(
    proxied: TaxiiServer, from_environment: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = REMOTE.format(COLLECTION)
    credentials: _Credentials = {"user": "analyst", "password": "s3cret"}
    if from_environment:
        monkeypatch.setenv("IOCMATCH_TAXII_USER", credentials.pop("user"))
        monkeypatch.setenv("IOCMATCH_TAXII_PASSWORD", credentials.pop("password"))
    refused = TaxiiSource(url, **credentials)
    failure(refused, "plain http", "taxii.example.com", "allow_plain_http", "--allow-plain-http")
    assert proxied.requests == []  # refused before any connection

    loaded = iocmatch.load(TaxiiSource(url, **credentials, allow_plain_http=True))
    assert loaded.report.read == len(OBJECTS)
    expected = "Basic " + base64.b64encode(b"analyst:s3cret").decode()
    assert {request.headers.get("Authorization") for request in proxied.requests} == {expected}


# The source's own values


@pytest.mark.parametrize(
    "values",
    [
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": "30"},
        {"retries": -1},
        {"max_pages": 0},
        {"max_response_bytes": 0},
    ],
)
def test_a_limit_out_of_range_is_an_error_naming_it(values: dict[str, Any]) -> None:
    name = next(iter(values))
    with pytest.raises(iocmatch.SourceError, match=name):
        TaxiiSource("https://taxii.example.com/api/", **values)


# The command


def _run(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """The command in a fresh process, after ``prelude`` (Python) has run."""
    code = f"import sys\n{prelude}\nfrom iocmatch._cli.command import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, timeout=60)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (_stuck, "sends a page it sent before"),
        (lambda handler, _: handler.send_json({}, status=429, Retry_After="86400"), "Retry-After: 86400"),
    ],
    ids=["paging", "retry-after"],
)
def test_the_command_exits_2_with_one_line(answer: Any, expected: str) -> None:
    with serving(answer) as server:
        result = _run("check", "-i", server.url)
    assert result.returncode == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert expected in result.stderr
    assert server.url in result.stderr


@pytest.mark.parametrize(
    ("answer", "exit_status"),
    [(after(1, lambda handler, _: handler.reset()), 0), (lambda handler, _: handler.send_json({}, status=406), 2)],
    ids=["retried", "http-406"],
)
def test_library_log_lines_stay_off_stderr_even_with_logging_set_up(answer: Any, exit_status: int) -> None:
    with serving(answer) as server:
        result = _run("check", "-i", server.url, prelude="import logging\nlogging.basicConfig(level=logging.DEBUG)")
    assert result.returncode == exit_status, result.stderr
    for library in ("urllib3", "taxii2client", "requests", "Retrying", "Server Response"):
        assert library not in result.stderr


def test_a_page_nested_too_deeply_is_one_source_error() -> None:
    def deep(handler: Handler, _: int) -> None:
        body = b'{"objects": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        handler.send_response(200)
        handler.send_header("Content-Type", TAXII)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with serving(deep) as server:
        failure(TaxiiSource(server.url), "nested too deeply")


def test_the_commands_taxii_limits() -> None:
    with serving(lambda handler, _: handler.hold()) as server:
        quick = _run("check", "-i", server.url, "--taxii-timeout", "0.25")
    assert quick.returncode == 2
    assert "timed out after 0.25 s waiting" in quick.stderr
    with serving(all_objects) as server:
        small = _run("check", "-i", server.url, "--taxii-max-response", "100")
        assert "larger than 100 bytes (max_response_bytes" in small.stderr
        assert _run("check", "-i", server.url, "--taxii-max-response", "1M").returncode == 0
    # 192.0.2.1 is a documentation address: nothing answers there, nothing leaves loopback unasked.
    remote = "http://192.0.2.1/api/collections/x/"
    refused = _run("check", "-i", remote, "--user", "a", "--password", "b")
    assert refused.returncode == 2
    assert "refusing to send credentials over plain http" in refused.stderr
    allowed = _run("check", "-i", remote, "--user", "a", "--password", "b", "--allow-plain-http",
                   "--taxii-timeout", "0.25")  # fmt: skip
    assert allowed.returncode == 2
    assert "refusing" not in allowed.stderr
    assert "timed out" in allowed.stderr or "cannot reach" in allowed.stderr
