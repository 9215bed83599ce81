"""IP addresses in log text, found by the boundary rules of SEMANTICS.md."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from itertools import product

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
# A dotted quad not preceded by a digit or "digit.", not followed by a digit
# or ".digit": so 1.2.3.4.5 holds no address.
_IPV4 = re.compile(rf"(?<![0-9])(?<![0-9]\.){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9])(?!\.[0-9])")
# A maximal run of hex digits, ':' and '.' holding a ':' (two are checked after).
_IPV6_RUN = re.compile(r"(?<![0-9A-Fa-f:.])[0-9A-Fa-f.:]*:[0-9A-Fa-f.:]*")

Found = tuple[int, int, int]  # start, end, the address as an int

# A dotted quad as ipaddress writes and reads one: four numbers of 0-255, no leading zero.
_CANONICAL_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
PLAIN_IPV4 = re.compile(rf"{_CANONICAL_OCTET}(?:\.{_CANONICAL_OCTET}){{3}}", re.ASCII)


def is_ipv4(text: str) -> bool:
    """Whether ``text`` is an IPv4 address as ``ipaddress.IPv4Address`` reads one,
    and so already in its canonical form; told by a regex, a hundred times quicker."""
    return PLAIN_IPV4.fullmatch(text) is not None


def ipv4_in(text: str) -> Iterator[Found]:
    for found in _IPV4.finditer(text):
        a, b, c, d = found.group().split(".")
        yield found.start(), found.end(), int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def ipv4_at(text: str, start: int) -> Found | None:
    """The address that starts at ``start``, if one does (same rule as ``ipv4_in``)."""
    found = _IPV4.match(text, start)
    if found is None:
        return None
    a, b, c, d = found.group().split(".")
    return start, found.end(), int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def ipv6_in(text: str) -> Iterator[tuple[int, int, int, bool]]:
    """IPv6 addresses as (start, end, int, is_ipv4); IPv4-mapped ones come as IPv4.

    A mapped address written with a dotted quad is left to ``ipv4_in``, which
    finds the quad itself.
    """
    if "::" not in text and text.count(":") < 6:
        return
    for found in _IPV6_RUN.finditer(text):
        run = found.group()
        stripped = run.strip(".")
        # Without "::" an address writes all eight groups (or six and a dotted
        # quad): times and MAC addresses are not tried, and do not raise.
        if "::" not in stripped and stripped.count(":") < 6:
            continue
        try:
            address = ipaddress.IPv6Address(stripped)
        except ValueError:
            continue
        start = found.start() + run.index(stripped)
        end = start + len(stripped)
        mapped = address.ipv4_mapped
        if mapped is None:
            yield start, end, int(address), False
        elif "." not in stripped:
            yield start, end, int(mapped), True


def network_range(value: str) -> tuple[int, int, int]:
    """(first, last, prefix length) of a canonical network value (an address,
    or a network with its prefix length). IPv4 is read by hand: a large feed
    holds hundreds of thousands, and ``ipaddress`` takes several times longer."""
    address, slash, prefix = value.partition("/")
    if ":" in address:
        network = ipaddress.IPv6Network(value)
        return int(network.network_address), int(network.broadcast_address), network.prefixlen
    a, b, c, d = address.split(".")
    first = int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)
    length = int(prefix) if slash else 32
    return first, first + (1 << (32 - length)) - 1, length


# A partly fixed octet with at least this many fixed bits (at most 4 values) is spelled out.
PARTIAL_OCTET_BITS_SPELLED = 6
# Keys give at most the first three octets: an address is looked for as its /24.
KEY_OCTETS = 3


def ipv4_pick_keys(network: ipaddress.IPv4Network) -> set[str]:
    """Texts every address of ``network`` starts with, as logs write it: its
    first octets and a dot, in every spelling the address rule accepts
    (``10.``, ``010.``). (One generic key for leading zeros instead fires on
    every time of day like ``20.061``: measured slower.)

    A block engine looks for these to pick the lines that may hold such an
    address; the address at the key is then read and looked up, so a key may
    be broader than its network. Keys stop at the third octet (an address or
    a /28 is looked for as its /24: a quarter fewer keys for a feed of
    addresses, as each octet below 100 has two or three spellings). An octet
    the prefix only partly fixes is spelled out value by value when that
    takes a few keys (a /22 gives four), and left out when it would take many
    (a /20 is looked for as its /16): more keys cost more to compile and to
    scan for than the few extra lines cost to verify.
    """
    whole, partial = divmod(network.prefixlen, 8)
    fixed = whole if partial == 0 or (whole >= 2 and partial < PARTIAL_OCTET_BITS_SPELLED) else whole + 1
    fixed = min(max(fixed, 1), KEY_OCTETS)
    first = network.network_address.packed
    last = network.broadcast_address.packed
    texts: set[str] = set()
    for octet in range(first[fixed - 1], last[fixed - 1] + 1):
        octets = [*first[: fixed - 1], octet]
        texts.update(".".join(parts) + "." for parts in product(*map(_spellings, octets)))
    return texts


def _spellings(octet: int) -> tuple[str, ...]:
    """1-3 digits, leading zeros allowed: 7 is 7, 07 and 007."""
    plain = str(octet)
    return tuple(plain.rjust(width, "0") for width in range(len(plain), 4))
