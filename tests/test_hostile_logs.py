"""Logs hold whatever an attacker can make a server write: every hit in the
readable parts is reported, nothing raises, and memory follows the longest
line, not the file."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from iocmatch._scanning.blocks import BLOCK_SIZE
from tests.conftest import ENGINES, bundle, indicator

FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
    indicator("[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']", 3),
)
# (line as bytes, texts of its hits)
HOSTILE = [
    (b"\x00\x00\x00 evil.example \x00", ["evil.example"]),
    (b"\xff\xfe\xfd invalid utf-8 then 198.51.100.7 \xc3(", ["198.51.100.7"]),
    (bytes(range(1, 10)) + b" binary \x7f\x80\x81 evil.example", ["evil.example"]),
    (b"crlf line evil.example\r", ["evil.example"]),
    (b"lone cr\revil.example\rthen 198.51.100.9", ["evil.example", "198.51.100.9"]),
    (b"\x1b[31mANSI\x1b[0m 0CC175B9C0F1B6A831C399E269772661\x1b[0m", ["0CC175B9C0F1B6A831C399E269772661"]),
    (b"near misses evil.example.au xevil.example 198.51.100.7.5 1198.51.100.7", []),
    (b"", []),
]
PEAK = """
import resource, runpy, sys
sys.argv = ["iocmatch", *sys.argv[1:]]
try:
    runpy.run_module("iocmatch", run_name="__main__")
finally:
    print("peak", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
"""


def scan(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a user runs it, reporting its peak memory (KiB) on stderr's last line."""
    command = [sys.executable, "-c", PEAK, "scan", "--format", "jsonl", *args]
    return subprocess.run(command, input=stdin, capture_output=True, check=False)


def hits(result: subprocess.CompletedProcess[bytes]) -> list[tuple[int, str]]:
    return [(r["line"], r["text"]) for r in map(json.loads, result.stdout.decode().splitlines())]


def peak_kib(result: subprocess.CompletedProcess[bytes]) -> int:
    return int(result.stderr.decode().splitlines()[-1].split()[1])


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_hostile_bytes_lose_no_hit(feed: Path, tmp_path: Path, engine: str) -> None:
    log = tmp_path / "hostile.log"
    log.write_bytes(b"\n".join(line for line, _ in HOSTILE) + b"\nno newline at the end evil.example")
    expected = [(number, text) for number, (_, texts) in enumerate(HOSTILE, 1) for text in texts]
    expected.append((len(HOSTILE) + 1, "evil.example"))
    for result in (
        scan("--engine", engine, "-i", str(feed), str(log)),
        scan("--engine", engine, "-i", str(feed), "-", stdin=log.read_bytes()),
    ):
        assert result.returncode == 0
        assert "Traceback" not in result.stderr.decode()
        assert hits(result) == expected


@pytest.mark.slow
def test_empty_input_is_no_match_and_no_error(feed: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    for result in (scan("-i", str(feed), str(empty)), scan("-i", str(feed), "-", stdin=b"")):
        assert result.returncode == 1
        assert result.stdout == b""
        assert result.stderr.decode().splitlines()[:-1] == []


LONG_LINE = 64 << 20


@pytest.mark.slow
def test_a_64_mb_line_without_newline_is_scanned_in_bounded_memory(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    with log.open("wb") as out:
        out.write(b"first evil.example\n")
        out.write(b"a" * (LONG_LINE // 2) + b" 198.51.100.7 " + b"b" * (LONG_LINE // 2) + b" evil.example")
    result = scan("-i", str(feed), str(log))
    assert result.returncode == 0
    assert hits(result) == [(1, "evil.example"), (2, "198.51.100.7"), (2, "evil.example")]
    baseline = peak_kib(scan("-i", str(feed), "-", stdin=b"evil.example\n"))
    # Measured: 3.3x the line with Hyperscan, 6.3x with the token engine, 8.3x with Aho-Corasick.
    assert (peak_kib(result) - baseline) * 1024 < 10 * LONG_LINE


@pytest.mark.slow
def test_a_crlf_line_is_shown_without_its_line_end_on_every_path(feed: Path, tmp_path: Path) -> None:
    hit_lines = [b"GET evil.example", b'{"url": "evil.example"}']
    filler = [b"nothing here"] * ((BLOCK_SIZE - 8000) // 14)
    # Starts 8000 bytes before the first read ends: past a 4 KiB window, it comes in pieces.
    long_line = b"x" * 10_000 + b" evil.example"
    lines = [*hit_lines, *filler, long_line]
    log = tmp_path / "crlf.log"
    log.write_bytes(b"".join(line + b"\r\n" for line in lines))
    offsets = itertools.accumulate((len(line) + 2 for line in lines[:-1]), initial=0)
    expected = [(line.decode(), offset) for line, offset in zip(lines, offsets, strict=True) if b"evil" in line]
    for options in ([], ["--json"], ["--line-window", "4096"]):
        command = [sys.executable, "-m", "iocmatch", "scan", "--format", "ecs", "--stats", "-i", str(feed), *options]
        result = subprocess.run([*command, str(log)], capture_output=True, check=False)
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(r["event"]["original"], r["log"]["offset"]) for r in records] == expected, options
    assert b"1 lines longer than the line window scanned in windows" in result.stderr
