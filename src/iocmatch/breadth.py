"""Indicators that would hit far too much: excluded unless the caller allows them.

A feed that carries ``0.0.0.0/0``, a public suffix such as ``co.uk``, the hash
of an empty file or a public DNS resolver would flood analysts with hits on
ordinary traffic. Such a value is excluded by default and reported with the
reason. Private, reserved and documentation ranges are not: internal hunts
and tests use them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from .addresses import network_range
from .model import DOMAIN, EQUALS, IPV4, IPV6, MD5, SHA1, SHA256, SHA512, SUBDOMAINS_ONLY, Atom

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

# Shorter prefixes than these cover a large part of the address space.
SHORTEST_PREFIX = {IPV4: 8, IPV6: 32}

EMPTY_FILE_HASHES = {
    (MD5, "d41d8cd98f00b204e9800998ecf8427e"),
    (SHA1, "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    (SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (
        SHA512,
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    ),
}

# Addresses every network talks to: public DNS resolvers.
FAMOUS_BENIGN = {
    "8.8.8.8": "Google Public DNS",
    "8.8.4.4": "Google Public DNS",
    "2001:4860:4860::8888": "Google Public DNS",
    "2001:4860:4860::8844": "Google Public DNS",
    "1.1.1.1": "Cloudflare DNS",
    "1.0.0.1": "Cloudflare DNS",
    "2606:4700:4700::1111": "Cloudflare DNS",
    "2606:4700:4700::1001": "Cloudflare DNS",
    "9.9.9.9": "Quad9 DNS",
    "149.112.112.112": "Quad9 DNS",
    "2620:fe::fe": "Quad9 DNS",
    "208.67.222.222": "OpenDNS",
    "208.67.220.220": "OpenDNS",
}


def too_broad(atom: Atom) -> str | None:
    """Why ``atom`` would hit ordinary traffic everywhere, or None."""
    kind, value = atom.kind, atom.value
    if kind in (IPV4, IPV6):
        _, _, length = network_range(value)
        if length < SHORTEST_PREFIX[kind]:
            return f"too broad: {value} is wider than /{SHORTEST_PREFIX[kind]}"
        if value in FAMOUS_BENIGN:
            return f"too broad: {value} is a public DNS resolver ({FAMOUS_BENIGN[value]})"
    elif kind == DOMAIN and atom.mode in (EQUALS, SUBDOMAINS_ONLY):
        if _public_suffixes().is_public(value):
            return f"too broad: {value} is a public suffix (a whole registry's names hit it)"
    elif (kind, value) in EMPTY_FILE_HASHES:
        return f"too broad: {value} is the {kind.upper()} of an empty file"
    return None


@lru_cache(maxsize=1)
def _public_suffixes() -> PublicSuffixList:
    # Imported and read (about 0.2 s) only when a feed holds a domain.
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()
