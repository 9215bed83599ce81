"""Allowlists in MISP warninglist JSON: values the caller never wants to hear about.

A warninglist is ``{"name": ..., "type": ..., "list": [...]}`` where the type
says how an entry is compared with an indicator's value:

* ``string``: equal (case ignored for domains, hashes, addresses, e-mail);
* ``substring``: the entry occurs in the value (same case rule);
* ``hostname``: a domain (or a URL's host, an e-mail address's domain) is
  the entry or under it;
* ``cidr``: an address or range lies inside the entry's network;
* ``regex``: the entry (``/.../flags`` or bare) searches the value.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import SourceError
from .model import DOMAIN, EMAIL, HASH_KINDS, IPV4, IPV6, URL, Atom

TYPES = ("string", "substring", "hostname", "cidr", "regex")
_CASELESS = (DOMAIN, EMAIL, IPV4, IPV6, URL, *HASH_KINDS)
_DELIMITED = re.compile(r"/(.*)/([a-z]*)", re.DOTALL)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Allowlist:
    name: str
    type: str
    entries: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...] = ()
    networks: tuple[Network, ...] = ()

    def suppresses(self, atom: Atom) -> str | None:
        """The entry that allows ``atom`` away, or None."""
        value = atom.value.lower() if atom.kind in _CASELESS else atom.value
        if self.type == "string":
            return _first(entry for entry, folded in self._folded(atom) if folded == value)
        if self.type == "substring":
            return _first(entry for entry, folded in self._folded(atom) if folded and folded in value)
        if self.type == "hostname":
            host = _host_of(atom)
            under = (e for e, folded in self._folded(atom) if host and (host == folded or host.endswith("." + folded)))
            return _first(under)
        if self.type == "cidr":
            return _inside(atom, self.networks)
        return _first(p.pattern for p in self.patterns if p.search(atom.value))

    def _folded(self, atom: Atom) -> list[tuple[str, str]]:
        """Each entry as written, and as compared with this atom's value."""
        if self.type == "hostname":
            return [(entry, entry.lower().strip(".")) for entry in self.entries]
        if atom.kind in _CASELESS:
            return [(entry, entry.lower()) for entry in self.entries]
        return [(entry, entry) for entry in self.entries]


def read_allowlist(path: str | Path) -> Allowlist:
    """A warninglist file, or SourceError naming the file and what is wrong."""
    try:
        document = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise SourceError(f"{path}: cannot read allowlist: {exc.strerror or exc}") from None
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{path}: allowlist is not valid JSON: {exc}") from None
    return parse_allowlist(document, str(path))


def parse_allowlist(document: Any, label: str) -> Allowlist:
    if not isinstance(document, dict) or not isinstance(document.get("list"), list):
        raise SourceError(f"{label}: not a MISP warninglist (an object with a 'list' of values)")
    kind = document.get("type", "string")
    if kind not in TYPES:
        raise SourceError(f"{label}: warninglist type {kind!r} is not one of {', '.join(TYPES)}")
    entries = tuple(str(entry).strip() for entry in document["list"] if str(entry).strip())
    name = str(document.get("name") or label)
    if kind == "cidr":
        return Allowlist(name, kind, entries, networks=tuple(_network(entry, label) for entry in entries))
    if kind == "regex":
        return Allowlist(name, kind, entries, patterns=tuple(_regex(entry, label) for entry in entries))
    return Allowlist(name, kind, entries)


def _network(entry: str, label: str) -> Network:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise SourceError(f"{label}: {entry!r} is not an address or CIDR") from None


def _regex(entry: str, label: str) -> re.Pattern[str]:
    delimited = _DELIMITED.fullmatch(entry)
    text, flags = (delimited.group(1), delimited.group(2)) if delimited else (entry, "")
    try:
        return re.compile(text, re.IGNORECASE if "i" in flags else 0)
    except re.error as exc:
        raise SourceError(f"{label}: {entry!r} is not a regular expression Python reads: {exc}") from None


def _host_of(atom: Atom) -> str:
    if atom.kind == DOMAIN:
        return atom.value
    if atom.kind == EMAIL:
        return atom.value.rpartition("@")[2]
    if atom.kind == URL:
        return (urlsplit(atom.value if "//" in atom.value else "//" + atom.value).hostname or "").lower()
    return ""


def _inside(atom: Atom, networks: tuple[Network, ...]) -> str | None:
    if atom.kind not in (IPV4, IPV6):
        return None
    network = ipaddress.ip_network(atom.value)
    for entry in networks:
        if entry.version == network.version and network.subnet_of(entry):  # type: ignore[arg-type]
            return str(entry)
    return None


def _first(found: Iterable[str]) -> str | None:
    return next(iter(found), None)
