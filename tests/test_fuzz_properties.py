"""Random and mutated input against the readers, the loader and the scanner:
a clear SourceError or a report that adds up, never another exception; every
engine and both paths give the same matches on any bytes."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch import SourceError
from iocmatch._feeds.reading import read_bytes
from tests.conftest import bundle, indicator

SEEDS = [
    json.dumps(
        bundle(
            indicator("[domain-name:value = 'evil.example' OR ipv4-addr:value = '198.51.100.0/24']", 1),
            indicator("[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']", 2),
        )
    ).encode(),
    b"Type,Value\ndomain,evil.example\nmd5,0cc175b9c0f1b6a831c399e269772661\nip,198.51.100.7\n",
    b"# a list\nevil[.]example\nhxxp://evil.example/a\n198.51.100.7\n",
    (
        b'<?xml version="1.0"?><stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" '
        b'xmlns:indicator="http://stix.mitre.org/Indicator-2"><stix:Indicators><stix:Indicator id="x:i-1">'
        b"<indicator:Title>t</indicator:Title></stix:Indicator></stix:Indicators></stix:STIX_Package>"
    ),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed with bytes replaced, inserted and cut out."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "cut"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if action == "replace":
            data[at : at + len(chunk)] = chunk
        elif action == "insert":
            data[at:at] = chunk
        else:
            del data[at : at + len(chunk)]
    return bytes(data)


def _load_or_refuse(data: bytes) -> None:
    try:
        objects = read_bytes(data, "<fuzz>")
    except SourceError:
        return
    report = iocmatch.load(objects, ignore_validity=True).report
    assert report.read == report.compiled + report.skipped + report.excluded


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=400), mutated()))
def test_readers_and_loader_refuse_clearly_or_account_for_everything(data: bytes) -> None:
    _load_or_refuse(data)


MATCHERS = {
    engine: iocmatch.compile(
        iocmatch.load(
            bundle(
                indicator("[domain-name:value = 'evil.example']", 1),
                indicator("[ipv4-addr:value = '198.51.100.0/22']", 2),
                indicator("[ipv6-addr:value = '2001:db8::/32']", 3),
                indicator("[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']", 4),
                indicator("[url:value = 'http://evil.example/Gate.php']", 5),
                indicator("[mutex:name = 'ΟΔΟΣ']", 6),
            )
        ),
        engine=engine,
    )
    for engine in ("aho-corasick", "tokens", "auto")
}
PIECES = st.sampled_from(
    [
        b"evil.example",
        b"198.51.101.7",
        b"2001:db8::1",
        b"0CC175B9C0F1B6A831C399E269772661",
        b"\xce\x9f\xce\x94\xce\x9f\xce\xa3",
    ]
)
HOSTILE_TEXT = st.lists(
    st.one_of(st.binary(max_size=12), PIECES, st.sampled_from([b"\n", b"\r", b"\x00", b"."])), max_size=30
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(HOSTILE_TEXT.map(b"".join), st.integers(1, 64))
def test_any_bytes_scan_alike_on_every_engine_and_path(data: bytes, block_size: int) -> None:
    expected = list(MATCHERS["aho-corasick"].scan(data.split(b"\n")))
    for matcher in MATCHERS.values():
        assert list(matcher.scan(data.split(b"\n"))) == expected
        assert list(matcher.scan_stream(io.BytesIO(data), block_size)) == expected
        # Every line as the pieces of a long line: the window path, whatever the reads.
        assert list(matcher.scan_stream(io.BytesIO(data), block_size, line_window=1)) == expected
