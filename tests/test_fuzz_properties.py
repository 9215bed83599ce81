"""Random and mutated input against the readers, the loader, the scanner and
the matcher file reader: a clear SourceError (or MatcherFileError) or a
result that adds up, never another exception; every engine and both paths
give the same matches on any bytes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch import SourceError
from iocmatch._feeds.reading import read_bytes
from tests.conftest import bundle, indicator
from tests.test_store import resealed

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


# -- matcher files ---------------------------------------------------------------

_MATCHER_FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
    indicator("[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]", 3),
    indicator("[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']", 4),
)


@contextlib.contextmanager
def _key_file(path: Path) -> Iterator[None]:
    """Matcher files are signed and checked with the key at ``path`` (the user's is never touched)."""
    previous = os.environ.get("IOCMATCH_KEY_FILE")
    os.environ["IOCMATCH_KEY_FILE"] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("IOCMATCH_KEY_FILE")
        else:
            os.environ["IOCMATCH_KEY_FILE"] = previous


class _Files(tuple[Path, list[bytes]]):
    def __repr__(self) -> str:  # a failing example is printed with its arguments: not 70 kB of files
        return "<a key and three matcher files>"


@pytest.fixture(scope="module")
def matcher_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A key, and a matcher file of each engine made with it."""
    folder = tmp_path_factory.mktemp("matchers")
    key = folder / "matcher.key"
    files = []
    with _key_file(key):
        for engine in ("hyperscan", "aho-corasick", "tokens"):
            iocmatch.save_matcher(iocmatch.compile(iocmatch.load(_MATCHER_FEED), engine=engine), folder / "m")
            files.append((folder / "m").read_bytes())
    return _Files((key, files))


@settings(max_examples=300, deadline=None)
@given(which=st.integers(0, 2), seed=st.integers(0, 1 << 32))
def test_any_matcher_file_loads_or_is_refused_clearly(
    matcher_files: tuple[Path, list[bytes]], which: int, seed: int
) -> None:
    """Mutated files, as they are and resealed with the key (so the sections' contents are read):
    a Matcher or MatcherFileError, never another exception."""
    key, files = matcher_files
    # Mutations from a seed: the draws must not depend on the file's length, which each run's own compile sets.
    rng = random.Random(seed)
    original = bytearray(files[which])
    for _ in range(rng.randint(1, 6)):
        at, size = rng.randrange(len(original)), rng.randint(1, 64)
        action = rng.choice(["flip", "cut", "insert"])
        if action == "flip":
            original[at] ^= size
        elif action == "cut":
            del original[at : at + size]
        else:
            original[at:at] = rng.randbytes(size)
        if not original:
            original = bytearray(b"I")
    path = key.parent / "fuzzed.matcher"
    with _key_file(key):
        for candidate in (bytes(original), resealed(bytes(original), key.read_bytes())):
            path.unlink(missing_ok=True)  # another file: the one a matcher may still map is never rewritten
            path.write_bytes(candidate)
            checked: iocmatch.Matcher | None = None
            with contextlib.suppress(iocmatch.MatcherFileError):
                checked = iocmatch.load_matcher(path, check_all=True)
            # Every table checked: it scans any line without raising, by line and by block.
            expected = _fuzz_scans(checked) if checked is not None else None
            # Each table checked when first read: the same hits, or MatcherFileError from the scan.
            try:
                assert _fuzz_scans(iocmatch.load_matcher(path)) == expected
            except iocmatch.MatcherFileError:
                assert checked is None


def _fuzz_scans(matcher: iocmatch.Matcher) -> list[object]:
    return [*matcher.scan_line(_FUZZ_LINE), *matcher.hit_lines(io.BytesIO(((_FUZZ_LINE + "\n") * 200).encode()))]


_FUZZ_LINE = (
    "2026-12-06T09:14:02Z GET http://c2.evil.example/a 198.51.100.9 203.0.113.9:8060 "
    "0cc175b9c0f1b6a831c399e269772661 evil.example ::ffff:198.51.100.7"
)
