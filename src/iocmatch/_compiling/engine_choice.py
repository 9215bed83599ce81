"""Choosing the engine: which one finds the keys of a set of this size, and
the line picker built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._common.model import PREFIX
from .._engines import picking
from .._engines.automaton import StringEngine
from .._engines.hyperscan import AVAILABLE as HYPERSCAN_AVAILABLE
from .._engines.hyperscan import HyperscanEngine
from .._engines.intervals import IntervalIndex
from . import boundaries as rules
from .boundaries import Needle

if TYPE_CHECKING:
    from .._engines.tokens import TokenEngine

TOKENS = "tokens"
ENGINES = ("auto", "hyperscan", "aho-corasick", TOKENS)
# From this many atoms on, ``auto`` takes the token engine: compiling that
# many keys costs more than it saves (benchmarks/RESULTS.md).
LARGE_SET_ATOMS = 50_000
SIEVED_ADDRESS = ""  # the key of addresses the IPv4 sieve finds: no engine looks for it


def engine_name(requested: str, atoms: int) -> str:
    if requested == "auto":
        if atoms >= LARGE_SET_ATOMS:
            return TOKENS
        return "hyperscan" if HYPERSCAN_AVAILABLE else "aho-corasick"
    if requested == "hyperscan" and not HYPERSCAN_AVAILABLE:
        raise ValueError("engine 'hyperscan' is not installed on this platform")
    return requested


def token_engine(keys: dict[str, list[tuple[Needle, int]]]) -> TokenEngine:
    """The keys whose every needle can only hit a whole token: domains and
    file names (host runs and dots), and hashes (hex runs)."""
    from .._engines.tokens import TokenEngine, is_dotted_token, is_hex_token

    dotted: dict[int, str] = {}
    hexadecimal: dict[int, str] = {}
    # Needles are interned: each distinct one is classified once.
    token_kind: dict[Needle, str] = {}
    for index, (key, needles) in enumerate(keys.items()):
        if not needles:
            continue
        kinds = set()
        for needle, _ in needles:
            kind = token_kind.get(needle)
            if kind is None:
                kind = token_kind[needle] = _token_kind(needle)
            kinds.add(kind)
        if kinds == {_DOTTED} and is_dotted_token(key):
            dotted[index] = key
        elif kinds == {_HEX} and is_hex_token(key):
            hexadecimal[index] = key
    return TokenEngine(dotted, hexadecimal)


_DOTTED, _HEX, _OTHER = "dotted", "hex", "other"


def _token_kind(needle: Needle) -> str:
    """Which whole token a needle's hits fill, by its boundary rule."""
    if needle.mode == PREFIX:
        return _OTHER  # a prefix may end inside a token
    if needle.rule in (rules.DOMAIN_RULE, rules.FILE_NAME_RULE):
        return _DOTTED
    return _HEX if needle.rule == rules.HASH_RULE else _OTHER


def line_picker(
    engine: str,
    keys: dict[str, list[tuple[Needle, int]]],
    checks: list[int],
    ipv4: IntervalIndex[int] | None,
) -> picking.LinePicker:
    """The line picker over ``keys`` with the engine named (``engine_name``)."""
    key_list = list(keys)
    engine_keys = key_list
    tokens = sieve = None
    address_key = -1
    if engine == TOKENS:
        tokens = token_engine(keys)
        # The token engine's keys, and the sieve's empty one, are not the block engine's.
        held = set(tokens.key_indexes())
        engine_keys = ["" if index in held else key for index, key in enumerate(key_list)]
        if ipv4 is not None:
            from .._engines.ipv4_sieve import IPv4Sieve

            sieve = IPv4Sieve(ipv4)
            address_key = key_list.index(SIEVED_ADDRESS)
    if HYPERSCAN_AVAILABLE and engine != "aho-corasick":
        block_engine: picking.BlockEngine = HyperscanEngine(engine_keys)
    else:
        block_engine = StringEngine(engine_keys)
    return picking.LinePicker(block_engine, key_list, checks, tokens=tokens, sieve=sieve, address_key=address_key)
