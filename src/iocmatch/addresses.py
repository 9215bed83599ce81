"""IP addresses in log text, found by the boundary rules of SEMANTICS.md."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9]?[0-9])"
# A dotted quad not preceded by a digit or "digit.", not followed by a digit
# or ".digit": so 1.2.3.4.5 holds no address.
_IPV4 = re.compile(rf"(?<![0-9])(?<![0-9]\.){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9])(?!\.[0-9])")
# A maximal run of hex digits, ':' and '.' holding a ':' (two are checked after).
_IPV6_RUN = re.compile(r"(?<![0-9A-Fa-f:.])[0-9A-Fa-f.:]*:[0-9A-Fa-f.:]*")

Found = tuple[int, int, int]  # start, end, the address as an int


def ipv4_in(text: str) -> Iterator[Found]:
    for found in _IPV4.finditer(text):
        a, b, c, d = found.group().split(".")
        yield found.start(), found.end(), int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def ipv6_in(text: str) -> Iterator[tuple[int, int, int, bool]]:
    """IPv6 addresses as (start, end, int, is_ipv4); IPv4-mapped ones come as IPv4.

    A mapped address written with a dotted quad is left to ``ipv4_in``, which
    finds the quad itself.
    """
    if text.count(":") < 2:
        return
    for found in _IPV6_RUN.finditer(text):
        run = found.group()
        stripped = run.strip(".")
        if stripped.count(":") < 2:
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
