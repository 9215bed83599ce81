"""Allowlists in MISP warninglist JSON: values the caller never wants to hear about.

A warninglist is ``{"name": ..., "type": ..., "list": [...]}`` where the type
says how an entry is compared with an indicator's value:

* ``string``: equal (case ignored for domains, hashes, addresses, e-mail);
* ``substring``: the entry occurs in the value (same case rule);
* ``hostname``: a domain (or a URL's host, an e-mail address's domain) is
  the entry or under it;
* ``cidr``: an address or range lies inside the entry's network;
* ``regex``: the entry (``/.../flags`` or bare) searches the value, in RE2's
  syntax (no backreferences, no lookaround): linear time whatever the value.

A list is indexed once, when it is made, so that an indicator costs a few
lookups however long the list is. When several entries hold a value, the one
named is the first of them in the list.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from .._common.addresses import network_range
from .._common.errors import SourceError
from .._common.model import DOMAIN, EMAIL, HASH_KINDS, IPV4, IPV6, URL, Atom
from .._engines.automaton import StringEngine
from .._engines.intervals import IntervalIndex

TYPES = ("string", "substring", "hostname", "cidr", "regex")
_CASELESS = frozenset((DOMAIN, EMAIL, IPV4, IPV6, URL, *HASH_KINDS))
# ``/pattern/flags`` as MISP writes them (JavaScript's flag letters); anything
# else, ``/usr/bin/python`` included, is a bare pattern.
_DELIMITED = re.compile(r"/(.*)/([gimsuxy]*)", re.DOTALL)
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Key = TypeVar("Key", bound=Hashable)


class _BadEntry(ValueError):
    """An entry the list's type cannot read (the list's file is added by Allowlist)."""


class _Lookup(Protocol):
    def first(self, atom: Atom) -> str | None: ...


@dataclass(frozen=True)
class Allowlist:
    """A warninglist, indexed for its type when made.

    Raises SourceError, naming ``source`` (the file it came from) or else the
    list's name, for a type it does not know or an entry the type cannot read.
    """

    name: str
    type: str
    entries: tuple[str, ...]
    source: str = ""
    _lookup: _Lookup = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = self.source or repr(self.name)
        if self.type not in TYPES:  # a tuple: a type of any JSON shape is compared, not hashed
            raise SourceError(f"{where}: warninglist type {self.type!r} is not one of {', '.join(TYPES)}")
        try:
            lookup = _LOOKUPS[self.type](self.entries)
        except _BadEntry as bad:
            raise SourceError(f"{where}: {bad}") from None
        object.__setattr__(self, "_lookup", lookup)

    def suppresses(self, atom: Atom) -> str | None:
        """The entry that allows ``atom`` away, or None."""
        return self._lookup.first(atom)


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
    entries = tuple(str(entry).strip() for entry in document["list"] if str(entry).strip())
    name = str(document.get("name") or label)
    return Allowlist(name, document.get("type", "string"), entries, source=label)


class _Strings:
    """``string``: a dict from the compared form to the first entry of that form, one per case rule."""

    __slots__ = ("_entries", "_exact", "_folded")

    def __init__(self, entries: tuple[str, ...]) -> None:
        self._entries = entries
        self._exact = _first_positions(entries)
        self._folded = _first_positions(entry.lower() for entry in entries)

    def first(self, atom: Atom) -> str | None:
        caseless = atom.kind in _CASELESS
        position = self._folded.get(atom.value.lower()) if caseless else self._exact.get(atom.value)
        return None if position is None else self._entries[position]


class _Substrings:
    """``substring``: an Aho-Corasick automaton per case rule finds every entry in the value in one pass."""

    __slots__ = ("_entries", "_exact", "_folded")

    def __init__(self, entries: tuple[str, ...]) -> None:
        for entry in entries:
            _require_utf8(entry)  # the automaton holds UTF-8
        folded = [entry.lower() for entry in entries]
        self._entries = entries
        self._exact = _automaton(entries)
        self._folded = self._exact if folded == list(entries) else _automaton(folded)

    def first(self, atom: Atom) -> str | None:
        caseless = atom.kind in _CASELESS
        value = atom.value.lower() if caseless else atom.value
        engine = self._folded if caseless else self._exact
        # A value may hold a lone surrogate; its bytes are in no entry (entries are strict UTF-8).
        found = engine.candidates(value.encode("utf-8", "surrogatepass"))
        return self._entries[min(index for _, index in found)] if found else None


def _automaton(keys: Sequence[str]) -> StringEngine:
    # The engine keeps the last of equal keys and compares bytes as given (so
    # an exact automaton keeps its case): each key is added at its first position only.
    positions = _first_positions(keys)
    return StringEngine(key if positions[key] == position else "" for position, key in enumerate(keys))


class _Hostnames:
    """``hostname``: a dict of names, looked up for the host and each name it is under."""

    __slots__ = ("_entries", "_positions")

    def __init__(self, entries: tuple[str, ...]) -> None:
        self._entries = entries
        self._positions = _first_positions(entry.lower().strip(".") for entry in entries)

    def first(self, atom: Atom) -> str | None:
        host = host_of(atom)
        if not host:
            return None
        found = [self._positions[name] for name in _names_above(host) if name in self._positions]
        return self._entries[min(found)] if found else None


def _names_above(host: str) -> Iterator[str]:
    """The host, then what follows each of its dots (``""`` after a final dot)."""
    yield host
    dot = host.find(".")
    while dot >= 0:
        yield host[dot + 1 :]
        dot = host.find(".", dot + 1)


class _Networks:
    """``cidr``: an interval index per address family over the entries' ranges.

    CIDR blocks are nested or apart, so an entry holds the atom's whole range
    when it covers the range's first address and is no narrower than it.
    """

    __slots__ = ("_by_kind", "_networks")

    def __init__(self, entries: tuple[str, ...]) -> None:
        networks = [_network(entry) for entry in entries]
        # One range per block: repeats would only lengthen every segment they cover.
        blocks = [(network.version, int(network.network_address), network.prefixlen) for network in networks]
        positions = _first_positions(blocks)
        self._networks = networks
        self._by_kind = {
            kind: IntervalIndex(
                (first, first | (1 << (width - length)) - 1, (position, length))
                for (version, first, length), position in positions.items()
                if version == family
            )
            for kind, family, width in ((IPV4, 4, 32), (IPV6, 6, 128))
        }

    def first(self, atom: Atom) -> str | None:
        if atom.kind not in self._by_kind:
            return None
        first, _, length = network_range(atom.value)
        inside = [position for position, wide in self._by_kind[atom.kind].lookup(first) if wide <= length]
        return str(self._networks[min(inside)]) if inside else None


def _network(entry: str) -> Network:
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise _BadEntry(f"{entry!r} is not an address or CIDR") from None


class _Patterns:
    """``regex``: one RE2 set runs every entry over the value in a single linear-time pass.

    The set reports every entry that matched, so the first of them is named;
    an entry is named by its pattern, without the slashes and flags.
    """

    __slots__ = ("_patterns", "_set")

    def __init__(self, entries: tuple[str, ...]) -> None:
        self._patterns = [_pattern(entry) for entry in entries]
        self._set = _regex_set([text for _, text in self._patterns]) if entries else None

    def first(self, atom: Atom) -> str | None:
        if self._set is None:
            return None
        # RE2 reads UTF-8; a lone surrogate a value may hold passes as one character, as under re.
        matched: list[int] | None = self._set.Match(atom.value.encode("utf-8", "surrogatepass"))
        return self._patterns[min(matched)][0] if matched else None


def _pattern(entry: str) -> tuple[str, str]:
    """The entry's pattern as named, and as RE2 compiles it (``/.../i`` ignores case)."""
    _require_utf8(entry)
    delimited = _DELIMITED.fullmatch(entry)
    text, flags = (delimited.group(1), delimited.group(2)) if delimited else (entry, "")
    compiled = "(?i)" + text if "i" in flags else text
    import re2  # only lists of regular expressions need it

    try:
        re2.compile(compiled, _re2_options())
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else "refused"
        raise _BadEntry(f"{entry!r} is not a regular expression RE2 reads: {reason}") from None
    return text, compiled


def _regex_set(patterns: list[str]) -> Any:
    import re2

    regex_set = re2.Set.SearchSet(_re2_options())
    for pattern in patterns:
        regex_set.Add(pattern)
    try:
        regex_set.Compile()
    except re2.error:
        raise _BadEntry(f"its {len(patterns):,} regular expressions are too large for one RE2 set") from None
    return regex_set


def _re2_options() -> Any:
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is raised, not also written to stderr
    return options


def _require_utf8(entry: str) -> None:
    try:
        entry.encode("utf-8")
    except UnicodeEncodeError:
        raise _BadEntry(f"{entry!r} is not valid Unicode text (a lone surrogate)") from None


def _first_positions(keys: Iterable[Key]) -> dict[Key, int]:
    """Each key's first position in the list: the entry named when several hold a value."""
    positions: dict[Key, int] = {}
    for position, key in enumerate(keys):
        positions.setdefault(key, position)
    return positions


def host_of(atom: Atom) -> str:
    """The host a ``hostname`` entry is compared with: a domain itself, an
    e-mail address's domain, a URL's host; "" for other kinds."""
    if atom.kind == DOMAIN:
        return atom.value
    if atom.kind == EMAIL:
        return atom.value.rpartition("@")[2]
    if atom.kind == URL:
        return (urlsplit(atom.value if "//" in atom.value else "//" + atom.value).hostname or "").lower()
    return ""


_LOOKUPS: dict[str, Callable[[tuple[str, ...]], _Lookup]] = {
    "string": _Strings,
    "substring": _Substrings,
    "hostname": _Hostnames,
    "cidr": _Networks,
    "regex": _Patterns,
}
