"""A line longer than the line window is scanned in overlapping windows: the
same hits, line numbers and offsets as a whole-line scan, in memory bounded
by the window, on every path (files, gzip, stdin, --json, --follow, -j)."""

from __future__ import annotations

import gzip
import io
import json
import random
import signal
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._compiling.compiled import CompiledSet
from iocmatch._scanning.long_lines import scan_long_text
from tests.conftest import ENGINES, bundle, indicator

PATTERNS = [
    "[domain-name:value = 'evil.example']",
    "[ipv4-addr:value = '198.51.100.0/24']",
    "[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']",
    "[domain-name:value = 'a.example' AND domain-name:value = 'b.example']",
    "[url:value = 'http://bad.example/path/x.php']",
    "[windows-registry-key:key = 'HKEY_CURRENT_USER\\\\Software\\\\Evil']",
    "[ipv6-addr:value = '2001:db8::/32']",
    "[email-addr:value = 'x@mail.example']",
    "[mutex:name = 'Global\\\\EvilMutex']",
]
# Values, near misses and characters that move boundaries, shuffled into long text.
PIECES = [
    "evil.example", "xevil.example", "evil.example.au", "198.51.100.7", "1198.51.100.7",
    "0cc175b9c0f1b6a831c399e269772661",
    "a.example", "b.example", "http://bad.example/path/x.php", "bad.example/path/x.phpx", "HKCU\\Software\\Evil",
    "HKEY_CURRENT_USER\\Software\\Evil", "2001:db8::1", "x@mail.example", "y.x@mail.example", "Global\\EvilMutex",
    "ü", "é", "\udcff", " ", ".", "-", ":", "\\", "aaaa",
]  # fmt: skip
WINDOW = 2048  # the smallest window a long line takes


def matcher(engine: str = "auto") -> iocmatch.Matcher:
    loaded = iocmatch.load(bundle(*(indicator(pattern, n) for n, pattern in enumerate(PATTERNS, 1))))
    assert loaded.report.compiled == len(PATTERNS), loaded.report.problems
    return iocmatch.compile(loaded, engine=engine)


def compiled(matcher: iocmatch.Matcher) -> CompiledSet:
    """The compiled set behind a Matcher (what it pickles as): windows of any size are scanned over it."""
    return matcher.__getstate__()


def random_text(rng: random.Random, length: int) -> str:
    parts: list[str] = []
    size = 0
    while size < length:
        part = rng.choice(PIECES) if rng.random() < 0.3 else rng.choice("ab .:/-x")
        parts.append(part)
        size += len(part)
    return "".join(parts)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_windows_give_the_whole_lines_matches_in_its_order(engine: str) -> None:
    scanner = matcher(engine)
    rng = random.Random(7)
    windows_seen = 0
    for _ in range(40):
        text = random_text(rng, rng.randint(3 * WINDOW, 6 * WINDOW))
        whole = scanner.scan_line(text, 5)
        assert whole, "the random text holds values"
        assert scan_long_text(compiled(scanner), text, 5, WINDOW) == whole
        windows_seen += len(text) // WINDOW
    assert windows_seen > 100


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(PIECES) | st.text(alphabet="ab .:/-\\x", max_size=30), min_size=1, max_size=600),
    st.integers(min_value=0, max_value=3000),
)
def test_values_anywhere_around_a_window_edge_are_found_once(parts: list[str], padding: int) -> None:
    scanner = matcher("aho-corasick")
    text = "q" * padding + "".join(parts)
    assert scan_long_text(compiled(scanner), text, 1, WINDOW) == scanner.scan_line(text, 1)


def test_pieces_of_any_size_give_the_same_matches_with_line_offsets_in_characters() -> None:
    scanner = matcher()
    rng = random.Random(3)
    text = random_text(rng, 5 * WINDOW) + " ü " + random_text(rng, 5 * WINDOW)
    data = text.encode("utf-8", "surrogateescape") + b"\n"
    whole = scanner.scan_line(text, 9)
    for size in (1, 7, 1000, 4096, len(data)):
        line = scanner.long_line(9, WINDOW)
        found = []
        for start in range(0, len(data), size):
            for window in line.feed(data[start : start + size]):
                found += window
        for window in line.finish():
            found += window
        assert sorted(found, key=lambda m: (m.start, m.end, m.value)) == sorted(
            whole, key=lambda m: (m.start, m.end, m.value)
        )
        # Offsets count characters of the whole line: the text at them is the match.
        assert all(text[m.start : m.end] == m.text for m in found)


def test_an_and_clause_split_across_windows_hits_with_both_parts() -> None:
    scanner = matcher()
    text = "a.example " + "z" * (10 * WINDOW) + " b.example"
    found = scan_long_text(compiled(scanner), text, 1, WINDOW)
    assert [(m.text, m.indicators) for m in found] == [
        ("a.example", (indicator(PATTERNS[3], 4)["id"],)),
        ("b.example", (indicator(PATTERNS[3], 4)["id"],)),
    ]
    assert scan_long_text(compiled(scanner), "a.example " + "z" * (10 * WINDOW), 1, WINDOW) == []


def test_scan_line_takes_windows_for_a_line_longer_than_the_default_window() -> None:
    scanner = matcher()
    text = "evil.example " + "x" * (5 << 20) + " 198.51.100.7"
    found = [(m.start, m.text) for m in scanner.scan_line(text)]
    assert found == [(0, "evil.example"), (len(text) - 12, "198.51.100.7")]


# -- the command, on every path


FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
)
# The peak of this process's own memory (VmHWM, KiB): ru_maxrss would count
# the parent's memory at the fork before exec.
PEAK = """
import runpy, sys
sys.argv = ["iocmatch", *sys.argv[1:]]
try:
    runpy.run_module("iocmatch", run_name="__main__")
finally:
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print("peak", peak, file=sys.stderr)
"""


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


def scan(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The CLI as a user runs it, reporting its peak memory (KiB) on stderr's last line."""
    command = [sys.executable, "-c", PEAK, "scan", "--format", "jsonl", *args]
    return subprocess.run(command, input=stdin, capture_output=True, check=False)


def hits(result: subprocess.CompletedProcess[bytes]) -> list[tuple[int, int, str]]:
    return [(r["line"], r["start"], r["text"]) for r in map(json.loads, result.stdout.decode().splitlines())]


def peak_mib(result: subprocess.CompletedProcess[bytes]) -> float:
    return int(result.stderr.decode().splitlines()[-1].split()[1]) / 1024


GIB = 1 << 30


@pytest.mark.slow
def test_a_2_gib_line_in_a_2_mb_gzip_between_two_hits(feed: Path, tmp_path: Path) -> None:
    """Both hits around it are found with their true line numbers, in the
    memory of a small scan plus a bounded margin."""
    log = tmp_path / "long.log.gz"
    # gzip members concatenated are one stream: 2 GiB of one line from 2048
    # copies of one compressed MiB, written in an instant.
    mebibyte = gzip.compress(b"A" * (1 << 20), compresslevel=9)
    with log.open("wb") as out:
        out.write(gzip.compress(b"first GET http://evil.example/ 200\n"))
        for _ in range(GIB * 2 // (1 << 20)):
            out.write(mebibyte)
        out.write(gzip.compress(b" 198.51.100.1\nlast 198.51.100.7 evil.example\n"))
    assert log.stat().st_size < 3 << 20
    result = scan("-i", str(feed), "--stats", str(log))
    assert result.returncode == 0, result.stderr
    assert hits(result) == [(1, 17, "evil.example"), (2, 2 * GIB + 1, "198.51.100.1"), (3, 5, "198.51.100.7"),
                            (3, 18, "evil.example")]  # fmt: skip
    assert "3 lines read" in result.stderr.decode()
    small = scan("-i", str(feed), "-", stdin=b"evil.example\n")
    assert peak_mib(result) - peak_mib(small) < 256


@pytest.mark.slow
def test_a_long_line_under_follow_is_read_once_in_bounded_memory(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    size = 200 << 20
    with log.open("wb") as out:
        out.write(b"GET evil.example\n")
        for _ in range(size >> 20):
            out.write(b"x" * (1 << 20))
        out.write(b" 198.51.100.7\nlast evil.example\n")
    command = [sys.executable, "-c", PEAK, "scan", "--format", "jsonl", "-i", str(feed), "--follow", str(log)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None
        lines = [json.loads(process.stdout.readline()) for _ in range(3)]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert [(r["line"], r["start"]) for r in lines] == [(1, 4), (2, size + 1), (3, 5)]
    assert process.returncode == 0
    small = scan("-i", str(feed), "-", stdin=b"evil.example\n")
    # Holding the line whole would take its 200 MB at least.
    peak = int(err.decode().splitlines()[-1].split()[1]) / 1024
    assert peak - peak_mib(small) < 100


@pytest.mark.slow
@pytest.mark.parametrize("mode", [("--json",), ("--jobs", "2"), ("--line-window", "64K")])
def test_long_lines_on_the_json_and_parallel_paths(feed: Path, tmp_path: Path, mode: tuple[str, ...]) -> None:
    log = tmp_path / "events.log"
    size = 40 << 20
    with log.open("wb") as out:
        out.write(json.dumps({"url": "http://evil.example/"}).encode() + b"\n")
        out.write(b'{"blob": "' + b"x" * size + b' 198.51.100.7"}\n')
        out.write(b"plain evil.example\n")
    result = scan("-i", str(feed), "--stats", *mode, str(log))
    found = hits(result)
    assert [(line, text) for line, _, text in found] == [(1, "evil.example"), (2, "198.51.100.7"), (3, "evil.example")]
    # A JSON event longer than the window is scanned as text: its offset counts the line.
    assert found[1][1] == size + len('{"blob": "') + 1
    assert "1 lines longer than the line window" in result.stderr.decode()
    # ...and that is said, exit 2: field selection and JSON escapes did not apply to it.
    json_as_text = "1 JSON events were longer than the line window and were scanned as plain text"
    expected = (2, True) if "--json" in mode else (0, False)
    assert (result.returncode, json_as_text in result.stderr.decode()) == expected
    small = scan("-i", str(feed), "-", stdin=b"evil.example\n")
    assert peak_mib(result) - peak_mib(small) < 150


@pytest.mark.slow
def test_sightings_count_a_long_line_once(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"evil.example " + b"y" * (8 << 20) + b" evil.example\nevil.example\n")
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "sightings", str(log)],
        capture_output=True,
        check=False,
    )
    sightings = [obj for obj in json.loads(result.stdout)["objects"] if obj["type"] == "sighting"]
    assert [s["count"] for s in sightings] == [2]


@pytest.mark.slow
def test_a_damaged_gzip_in_a_long_line_reports_what_came_before(feed: Path, tmp_path: Path) -> None:
    packed = gzip.compress(b"evil.example\n" + b"z" * (12 << 20) + b" 198.51.100.7 " + b"z" * (4 << 20))
    log = tmp_path / "cut.gz"
    log.write_bytes(packed[:-30])
    result = scan("-i", str(feed), str(log))
    assert result.returncode == 2
    assert [text for _, _, text in hits(result)] == ["evil.example", "198.51.100.7"]
    assert "damaged" in result.stderr.decode()
    with pytest.raises((EOFError, zlib.error)):
        gzip.decompress(log.read_bytes())


def test_the_line_window_is_checked(feed: Path) -> None:
    result = scan("-i", str(feed), "--line-window", "12", "-", stdin=b"")
    assert result.returncode == 2
    assert "--line-window" in result.stderr.decode()


def test_an_address_run_cut_by_a_window_edge_is_no_address() -> None:
    """A run of hex digits, colons and dots longer than any address holds
    none, even when a window sees only its tail or its head."""
    scanner = matcher()
    for padding in range(0, 6 * WINDOW, 97):
        for text in (
            "z " * padding + "ab:cd" + "." * 1500 + "2001:db8::1 tail " + "y " * 3000,
            "z " * padding + "2001:db8::1" + "." * 1500 + ":1 tail " + "y " * 3000,
            "z " * padding + " 2001:db8::1 " + "y " * 3000,
        ):
            assert scan_long_text(compiled(scanner), text, 1, WINDOW) == scanner.scan_line(text)


@pytest.mark.slow
def test_a_long_line_hit_in_many_windows_is_one_hit_line(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_bytes(b"evil.example " * 800_000 + b"\n")  # 10 MB, a hit in every window
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--stats", "--format", "jsonl", str(log)],
        capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0
    assert "800000 hits on 1 lines" in result.stderr.decode()


@pytest.mark.slow
def test_and_values_past_the_wait_cap_are_no_error_when_their_clause_never_completes(tmp_path: Path) -> None:
    and_feed = tmp_path / "and.json"
    and_feed.write_text(json.dumps(bundle(indicator(PATTERNS[3], 4))))
    log = tmp_path / "long.log"
    log.write_bytes(b"a.example " * 120_000 + b"\n")  # the cap is 100,000; b.example never comes
    result = scan("-i", str(and_feed), "--line-window", "64K", str(log))
    assert (result.returncode, hits(result)) == (1, [])


@pytest.mark.slow
def test_a_long_line_that_is_no_json_event_is_text_under_json(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "plain.log"
    log.write_bytes(b"x" * (5 << 20) + b" 198.51.100.7\n")
    result = scan("-i", str(feed), "--json", str(log))
    assert result.returncode == 0, result.stderr
    assert "JSON events" not in result.stderr.decode()


def test_a_stop_inside_a_line_of_gigabytes_cuts_it_instead_of_reading_on(tmp_path: Path) -> None:
    """After a stop, a regular file is read on to the end of its line only
    within a bound: the rest of a huge line is left, and said to be."""
    from iocmatch._cli.scan_run import Scan
    from iocmatch._outputs.formats import JsonlFormat

    log = tmp_path / "one.log"
    with log.open("wb") as out:
        for _ in range(64):
            out.write(b"x" * (1 << 20))
        out.write(b" evil.example\n")
    reads = 0

    def stopped() -> bool:
        nonlocal reads
        reads += 1
        return reads > 3

    scan = Scan(matcher(), JsonlFormat(), io.StringIO(), stopped=stopped)
    scan.scan_file(str(log))
    assert scan.cut_short == [f"{log} was not read to its end: its last line, cut, was scanned as it stood"]
    assert scan.stats.hits == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_an_address_and_its_port_windows_apart_are_one_hit(engine: str) -> None:
    """Ports are looked for only where their clause may complete; in a long
    line the address may be several windows away, before or after."""
    pattern = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8443]"
    scanner = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))), engine=engine)
    filler = "x=1 " * (3 * WINDOW)
    for text in (
        f"DST=203.0.113.9 {filler} DPT=8443 end",
        f"DPT=8443 {filler} DST=203.0.113.9 end",
        f"DST=203.0.113.9 {filler} DPT=443 end",  # another port: no hit
    ):
        whole = scanner.scan_line(text)
        assert scan_long_text(compiled(scanner), text, 1, WINDOW) == whole
        assert {hit.kind for hit in whole} == ({"ipv4-addr", "port"} if "8443" in text else set())
