"""Every block engine gives exactly what the line-by-line scan gives."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._common.model import Atom
from iocmatch._engines.hyperscan import AVAILABLE as HYPERSCAN
from tests.conftest import ENGINES, bundle, indicator
from tests.conftest import PATTERN_PATHS as PATHS
from tests.test_oracle_agreement import lines_with_plants, stix_string

PATTERNS = [
    "[domain-name:value = 'evil.example']",
    "[domain-name:value = 'bücher.example']",
    "[mutex:name = 'ΟΔΟΣ']",
    "[ipv4-addr:value = '198.51.100.0/22']",
    "[ipv4-addr:value = '203.0.113.7']",
    "[ipv6-addr:value = '2001:db8::/32']",
    "[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']",
    "[windows-registry-key:key = 'HKLM\\\\Software\\\\Evil']",
    "[url:value = 'http://evil.example/Gate.php']",
]
LINES = [
    "GET http://www.EVIL.example/Gate.php 200",
    "resolved BÜCHER.example",  # non-ASCII needle, upper-case non-ASCII in the line
    "mutex ΟΔΟΣ created",
    "SRC=198.051.101.255 DST=10.0.0.1",  # zero-padded octets
    "from ::FFFF:cb00:7107 port 22",  # IPv4-mapped, in hex
    "peer [2001:0DB8::1]:443",
    "Hashes=MD5=0123456789ABCDEF0123456789ABCDEF",
    '{"TargetObject": "HKEY_LOCAL_MACHINE\\\\Software\\\\Evil"}',
    "near misses: evil.example.au xevil.example 198.51.104.1 1.203.0.113.7",
    "\u212aevil.example is not kevil",  # the Kelvin sign does not fold to k
    "",
    "crlf line evil.example\r",
]


def _matcher(engine: str, patterns: list[str] = PATTERNS) -> iocmatch.Matcher:
    objects = [indicator(pattern, number) for number, pattern in enumerate(patterns, 1)]
    return iocmatch.compile(iocmatch.load(bundle(*objects), allow_broad=True), engine=engine)


def _by_lines(matcher: iocmatch.Matcher, data: bytes) -> list[iocmatch.Match]:
    return list(matcher.scan(io.BytesIO(data)))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("block_size", [7, 64, 1 << 20])
def test_block_scan_equals_line_scan(engine: str, block_size: int) -> None:
    matcher = _matcher(engine)
    data = ("\n".join(LINES * 3) + "\nlast line without newline evil.example").encode()
    expected = _by_lines(matcher, data)
    assert len({m.line for m in expected}) > 3 * 9
    assert list(matcher.scan_stream(io.BytesIO(data), block_size)) == expected


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("block_size", [7, 1 << 20])
def test_hit_lines_hand_over_each_hit_line_with_its_offset(engine: str, block_size: int) -> None:
    matcher = _matcher(engine)
    data = ("\n".join(LINES * 2) + "\nlast line without newline evil.example").encode()
    expected: dict[int, list[iocmatch.Match]] = {}
    for match in _by_lines(matcher, data):
        expected.setdefault(match.line, []).append(match)
    found = list(matcher.hit_lines(io.BytesIO(data), block_size))
    assert [(number, matches) for number, _, _, matches in found] == list(expected.items())
    raw_lines = data.split(b"\n")
    for number, offset, line, _ in found:
        assert line == raw_lines[number - 1]
        assert data[offset : offset + len(line)] == line


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_scan_file_takes_the_block_path(engine: str, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    filler = "Dec 10 06:55:46 gw sshd[24200]: nothing to see from 192.0.2.44 port 22\n"
    with log.open("w") as out:
        for n in range(30_000):
            out.write(filler if n % 997 else LINES[n % len(LINES)] + "\n")
    matcher = _matcher(engine)
    with log.open("rb") as stream:
        expected = list(matcher.scan(stream))
    assert len(expected) > 20
    assert list(matcher.scan_file(log)) == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pickled_matcher_keeps_its_engine(engine: str) -> None:
    matcher = _matcher(engine)
    restored = pickle.loads(pickle.dumps(matcher))
    assert restored.engine == matcher.engine == engine
    data = "\n".join(LINES).encode()
    assert list(restored.scan_stream(io.BytesIO(data))) == _by_lines(matcher, data)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        _matcher("grep")


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(st.lists(lines_with_plants(), min_size=1, max_size=6), st.integers(1, 200))
def test_random_lines_block_scan_equals_line_scan(planted: list[tuple[list[Atom], str]], block_size: int) -> None:
    atoms = sorted({atom for atoms, _ in planted for atom in atoms}, key=repr)
    patterns = [f"[{PATHS[a.kind]} = {stix_string(a.value)}]" for a in atoms]
    data = "\n".join(line for _, line in planted).encode()
    for engine in ["aho-corasick", "tokens", *(["hyperscan"] if HYPERSCAN else [])]:
        matcher = _matcher(engine, patterns)
        assert list(matcher.scan_stream(io.BytesIO(data), block_size)) == _by_lines(matcher, data)


def test_workers_split_a_file_and_keep_order_and_line_numbers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from iocmatch._scanning import parallel

    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    log = tmp_path / "big.log"
    filler = "Dec 10 06:55:46 gw sshd[24200]: nothing to see from 192.0.2.44 port 22\n"
    with log.open("w") as out:
        for n in range(20_000):
            out.write(filler if n % 331 else LINES[n % len(LINES)] + "\n")
        out.write("no newline at the end evil.example")
    matcher = _matcher("auto")
    sequential = list(matcher.scan_file(log))
    assert sequential[-1].line == 20_001
    assert list(matcher.scan_file(log, workers=2)) == sequential
    assert list(matcher.scan_file(log, workers=3)) == sequential


def test_a_picker_leaves_out_key_numbers_its_tables_do_not_have() -> None:
    """An engine's database from a damaged matcher file may name keys that do not exist: no line makes that raise."""
    from iocmatch._engines.picking import LinePicker

    class Engine:
        folds_ascii = True

        def candidates(self, _block: bytes) -> list[tuple[int, int]]:
            return [(3, 0), (5, 99)]

    picker = LinePicker(Engine(), ["abc"], [0])
    assert picker.pick(b"abc de")[0] == [(0, 3, 0)]
    assert picker.occurrences(b"abc de") == [(0, 3, 0)]
