"""The token engine and the IPv4 sieve, on lines and on blocks: each finds
exactly what a plain search finds under its rule, whichever path it takes."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._common.addresses import ipv4_in
from iocmatch._compiling import engine_choice
from iocmatch._engines.intervals import IntervalIndex
from iocmatch._engines.ipv4_sieve import IPv4Sieve
from iocmatch._engines.tokens import SMALL_INPUT, TokenEngine
from tests.conftest import bundle, indicator

DOTTED = ["evil.example", "a.b.c.example", "gothic.dat", "x-y_z.test", "localhost"]
HEXES = ["0123456789abcdef0123456789abcdef", "ab" * 20]
NETWORKS = ["198.51.100.0/22", "203.0.113.7/32", "10.0.0.0/8"]
HOST = set("abcdefghijklmnopqrstuvwxyz0123456789_-")
HEX = set("0123456789abcdef")

pieces = st.one_of(
    st.sampled_from([*DOTTED, *HEXES, *(key.upper() for key in DOTTED), "EVIL.Example"]),
    st.sampled_from(["198.51.101.9", "203.0.113.7", "10.1.2.3", "1.10.1.2.3", "203.0.113.70", "010.0.0.1"]),
    st.text(alphabet="ab.-_:/ 0123456789fF\tx", max_size=6),
)
lines = st.lists(pieces, max_size=8).map("".join)


def _engine() -> tuple[TokenEngine, list[str]]:
    """The engine, and its keys by index."""
    hexadecimal = {len(DOTTED) + i: key for i, key in enumerate(HEXES)}
    return TokenEngine(dict(enumerate(DOTTED)), hexadecimal), [*DOTTED, *HEXES]


def _filling(text: str, keys: list[str]) -> set[tuple[int, int, int]]:
    """Every occurrence of a key that fills a whole token, by plain search."""
    lowered = text.lower()
    found = set()
    for index, key in enumerate(keys):
        chars = HEX if index >= len(DOTTED) else HOST
        for hit in re.finditer(re.escape(key), lowered):
            start, end = hit.span()
            before = lowered[start - 1] if start else ""
            after = lowered[end] if end < len(lowered) else ""
            if before not in chars and after not in chars:
                found.add((start, end, index))
    return found


def _block_of(many: list[str]) -> tuple[str, list[int]]:
    """The lines joined and repeated past SMALL_INPUT, and where each line starts."""
    offsets, text = [], ""
    while len(text) < SMALL_INPUT:
        for line in many:
            offsets.append(len(text))
            text += line + "\n"
    return text, offsets


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(lines)
def test_tokens_on_a_line_are_the_plain_search(line: str) -> None:
    engine, keys = _engine()
    assert set(engine.spans(line.encode())) == _filling(line, keys)


@settings(max_examples=60, deadline=None)
@given(st.lists(lines, min_size=1, max_size=5))
def test_tokens_on_a_block_are_the_same_as_line_by_line(many: list[str]) -> None:
    engine, keys = _engine()
    text, _ = _block_of(many)
    assert len(text) >= SMALL_INPUT  # the numpy path
    assert set(engine.spans(text.encode())) == _filling(text, keys)


def _sieve() -> tuple[IPv4Sieve, list[ipaddress.IPv4Network]]:
    networks = [ipaddress.IPv4Network(n) for n in NETWORKS]
    index = IntervalIndex((int(n.network_address), int(n.broadcast_address), str(n)) for n in networks)
    return IPv4Sieve(index), networks


def _held(text: str, networks: list[ipaddress.IPv4Network]) -> set[tuple[int, int]]:
    return {
        (start, end)
        for start, end, value in ipv4_in(text)
        if any(ipaddress.IPv4Address(value) in network for network in networks)
    }


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(lines, min_size=1, max_size=5))
def test_sieve_finds_the_addresses_a_range_holds_on_lines_and_blocks(many: list[str]) -> None:
    sieve, networks = _sieve()
    for line in many:
        assert set(sieve.spans(line.encode())) == _held(line, networks)
    text, _ = _block_of(many)
    assert set(sieve.spans(text.encode())) == _held(text, networks)


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ("src=203.0.113.7:443", ["203.0.113.7"]),
        ("ip203.0.113.7", ["203.0.113.7"]),  # a letter before is no digit
        ("1.203.0.113.7", []),  # five parts hold no address
        ("203.0.113.7.5", []),
        ("203.0.113.700", []),
        ("198.051.101.255", ["198.051.101.255"]),
        ("198.51.104.1 256.1.1.1", []),
    ],
)
def test_sieve_keeps_the_address_rule(line: str, found: list[str]) -> None:
    sieve, _ = _sieve()
    padded = line + "\n" + "filler 1.2.3.4 line\n" * (SMALL_INPUT // 10)
    for text in (line, padded):
        assert [text[start:end] for start, end in sieve.spans(text.encode())] == found


@pytest.mark.slow
def test_auto_takes_the_token_engine_for_a_large_set(monkeypatch: pytest.MonkeyPatch) -> None:
    patterns = ["[domain-name:value = 'evil.example']", "[ipv4-addr:value = '203.0.113.0/24']"]
    loaded = iocmatch.load(bundle(*(indicator(p, n) for n, p in enumerate(patterns, 1))))
    assert iocmatch.compile(loaded).engine != "tokens"
    monkeypatch.setattr(engine_choice, "LARGE_SET_ATOMS", 2)
    matcher = iocmatch.compile(loaded)
    assert matcher.engine == "tokens"
    found = matcher.scan_line("GET http://a.EVIL.example/ from 203.0.113.9")
    assert [m.text for m in found] == ["EVIL.example", "203.0.113.9"]
