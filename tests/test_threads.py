"""One Matcher shared by threads scanning at once finds what each would alone."""

from __future__ import annotations

import io
import threading

import pytest

import iocmatch

from .conftest import ENGINES

FEED = {
    "type": "bundle",
    "id": "bundle--00000000-0000-4000-8000-000000000001",
    "objects": [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-00000000000{number}",
            "created": "2020-01-01T00:00:00Z",
            "modified": "2020-01-01T00:00:00Z",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2020-01-01T00:00:00Z",
        }
        for number, pattern in enumerate(
            [
                "[domain-name:value = 'evil.example']",
                "[ipv4-addr:value = '203.0.113.0/24']",
                "[url:value = 'http://bad.example/x']",
                "[domain-name:value = 'other.example']",
            ],
            1,
        )
    ],
}
LOG = b"".join(
    b"%d GET http://bad.example/x other.example %s 203.0.113.%d evil.example\n" % (i, b"x" * (i % 300), i % 256)
    for i in range(5000)
)
THREADS = 4


def _scan_everywhere(matcher: iocmatch.Matcher) -> tuple[list[iocmatch.Match], list[iocmatch.Match]]:
    blocks = list(matcher.scan_stream(io.BytesIO(LOG), block_size=1 << 14))
    lines = list(matcher.scan(LOG.decode().splitlines()))
    return blocks, lines


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_a_matcher_shared_by_threads_finds_what_one_thread_does(engine: str) -> None:
    matcher = iocmatch.compile(iocmatch.load(FEED), engine=engine)
    alone = _scan_everywhere(matcher)
    assert len(alone[0]) == len(alone[1]) == 5000 * 4
    results: list[tuple[list[iocmatch.Match], list[iocmatch.Match]]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work() -> None:
        start.wait()
        try:
            results.append(_scan_everywhere(matcher))
        except BaseException as error:  # noqa: BLE001 - any failure in a thread is the test's finding
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [alone] * THREADS
