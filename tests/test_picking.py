"""The block path picks the lines that may hold a hit: never fewer (a lost
hit), and not the many lines that merely hold a similar number."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iocmatch._common.addresses import ipv4_pick_keys, network_range
from iocmatch._engines import picking
from iocmatch._engines.automaton import StringEngine
from iocmatch._engines.hyperscan import AVAILABLE as HYPERSCAN
from iocmatch._engines.hyperscan import HyperscanEngine
from iocmatch._patterns.canonical import network_value

KEYS = ["8.125.", "203.0.113.", ":ffff:", "evil.example"]
CHECKS = [picking.AFTER_NON_DIGIT, picking.AFTER_NON_DIGIT, picking.MAPPED_IPV4_HEX, picking.ANYWHERE]


def _engine(name: str) -> picking.BlockEngine:
    if name == "hyperscan":
        return HyperscanEngine(KEYS)
    return StringEngine(KEYS)


ENGINES = ["aho-corasick", pytest.param("hyperscan", marks=pytest.mark.skipif(not HYPERSCAN, reason="no wheel here"))]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("line", "picked"),
    [
        ("SRC=8.125.3.4 DST=10.0.0.1", ["8.125."]),
        ("SRC=10.28.125.4", []),  # 8.125. inside another address
        ("v1.8.125.3.4", ["8.125."]),  # after a dot, not a digit: the line scan decides
        ("peer 203.0.113.7:443", ["203.0.113."]),
        ("peer 1203.0.113.7", []),
        ("QueryResults ::ffff:192.0.2.98;", []),  # dotted: the IPv4 keys see it
        ("from ::FFFF:cb00:7107 port 22", [":ffff:"]),
        ("GET http://EVIL.example/ 200", ["evil.example"]),
        ("GET http://xevil.example.au/", ["evil.example"]),  # picked; its boundary is checked later
    ],
)
def test_keys_pick_after_their_check(engine: str, line: str, picked: list[str]) -> None:
    picker = picking.LinePicker(_engine(engine), KEYS, CHECKS)
    block = f"first line\n{line}\nlast line".encode()
    candidates, whole_lines = picker.pick(block)
    assert [KEYS[key] for _, _, key in candidates] == picked
    assert all(block[start:end].lower() == KEYS[key].encode() for start, end, key in candidates)
    assert whole_lines == []


def test_non_ascii_keys_send_non_ascii_lines_to_the_line_scan() -> None:
    keys = ["bücher.example"]
    picker = picking.LinePicker(StringEngine(keys), keys, [picking.ANYWHERE])
    block = "plain\nBÜCHER.example\n".encode()
    _, whole_lines = picker.pick(block)
    assert whole_lines
    assert all(block.rfind(b"\n", 0, offset) == 5 for offset in whole_lines)


def test_a_slash_20_is_picked_by_its_slash_16_key_and_a_slash_22_by_its_four() -> None:
    assert ipv4_pick_keys(ipaddress.IPv4Network("198.51.96.0/20")) == {"198.51.", "198.051."}
    assert ipv4_pick_keys(ipaddress.IPv4Network("10.0.112.0/22")) == {
        f"{lead}.{zero}.{third}."
        for lead in ("10", "010")
        for zero in ("0", "00", "000")
        for third in (112, 113, 114, 115)
    }


def test_an_address_is_picked_by_its_slash_24() -> None:
    assert ipv4_pick_keys(ipaddress.IPv4Network("203.0.113.7/32")) == {
        f"203.{zero}.113." for zero in ("0", "00", "000")
    }


def _spelled(octet: int, width: int) -> str:
    return str(octet).rjust(max(width, len(str(octet))), "0")


@given(
    st.integers(0, 2**32 - 1),
    st.integers(0, 32),
    st.integers(0, 2**32 - 1),
    st.lists(st.integers(1, 3), min_size=4, max_size=4),
)
def test_every_address_of_a_network_starts_with_one_of_its_keys(
    base: int, prefix: int, offset: int, widths: list[int]
) -> None:
    network = ipaddress.IPv4Network((base, prefix), strict=False)
    address = int(network.network_address) + offset % network.num_addresses
    octets = ipaddress.IPv4Address(address).packed
    text = ".".join(_spelled(octet, width) for octet, width in zip(octets, widths, strict=True))
    keys = ipv4_pick_keys(network)
    assert any(text.startswith(key) for key in keys), (text, sorted(keys)[:5])


@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_network_range_reads_ipv4_as_ipaddress_does(address: int, length: int) -> None:
    network = ipaddress.IPv4Network((address, length), strict=False)
    value = network_value(network)
    assert network_range(value) == (int(network.network_address), int(network.broadcast_address), length)
