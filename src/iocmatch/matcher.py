"""Compile an IndicatorSet into a Matcher, and scan lines with it.

Compilation gives every distinct atom (kind, value, mode) an index, turns
string atoms into needles for the candidate engine and address atoms into
ranges of the interval index. Scanning finds candidates, verifies each with
its boundary rule, then resolves which indicators the verified atoms satisfy
on the line (an AND clause needs all of its atoms on that line).
"""

from __future__ import annotations

import gzip
import ipaddress
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from . import boundaries as rules
from .addresses import ipv4_in, ipv6_in
from .boundaries import RULES, Needle
from .engine.automaton import StringEngine
from .engine.intervals import IntervalIndex
from .model import (
    DIRECTORY,
    DOMAIN,
    EMAIL,
    FILE_NAME,
    HASH_KINDS,
    IPV4,
    IPV6,
    MUTEX,
    PREFIX,
    REGISTRY_KEY,
    URL,
    Atom,
    IndicatorSet,
    Match,
)
from .normalize import DEFAULT_PORTS, domain_spellings, fold_case, split_url

Line = str | bytes
_GZIP_MAGIC = b"\x1f\x8b"


class Matcher:
    """An immutable, picklable compiled form of an IndicatorSet.

    ``scan``, ``scan_line`` and ``scan_file`` never raise on line content.
    """

    __slots__ = (
        "_atoms",
        "_attribution",
        "_indicator_ids",
        "_ipv4",
        "_ipv6",
        "_multi",
        "_needles",
        "_provenance",
        "_rank",
        "_single",
        "_strings",
        "registry_aliases",
        "subdomains",
    )

    def __init__(self, indicators: IndicatorSet, *, subdomains: bool = True, registry_aliases: bool = False) -> None:
        atom_index: dict[Atom, int] = {}
        single: list[list[int]] = []
        multi: list[list[tuple[int, frozenset[int]]]] = []
        live = indicators.indicators
        for number, indicator in enumerate(live):
            for clause in indicator.clauses:
                ids = []
                for atom in sorted(clause, key=lambda a: (a.kind, a.value, a.mode)):
                    if atom not in atom_index:
                        atom_index[atom] = len(atom_index)
                        single.append([])
                        multi.append([])
                    ids.append(atom_index[atom])
                if len(ids) == 1:
                    single[ids[0]].append(number)
                else:
                    for atom_id in ids:
                        multi[atom_id].append((number, frozenset(ids)))
        atoms = tuple(atom_index)
        self._atoms = atoms
        self._indicator_ids = tuple(indicator.id for indicator in live)
        self._attribution = tuple(indicator.attribution for indicator in live)
        self._provenance = tuple(indicator.provenance for indicator in live)
        self._single = tuple(tuple(dict.fromkeys(numbers)) for numbers in single)
        self._multi = tuple(tuple(entries) for entries in multi)
        self.subdomains = subdomains
        self.registry_aliases = registry_aliases

        needles: list[Needle] = []
        keys: dict[str, list[int]] = {}
        ranges: dict[str, list[tuple[int, int, int]]] = {IPV4: [], IPV6: []}
        rank = [0] * len(atoms)
        for atom_id, atom in enumerate(atoms):
            if atom.kind in (IPV4, IPV6):
                network = ipaddress.ip_network(atom.value)
                ranges[atom.kind].append((int(network.network_address), int(network.broadcast_address), atom_id))
                rank[atom_id] = -network.prefixlen
                continue
            for key, needle in _needles(atom_id, atom, registry_aliases):
                keys.setdefault(key, []).append(len(needles))
                needles.append(needle)
        self._needles = tuple(needles)
        self._strings = StringEngine((key, tuple(ids)) for key, ids in keys.items())
        self._ipv4 = IntervalIndex(ranges[IPV4]) if ranges[IPV4] else None
        self._ipv6 = IntervalIndex(ranges[IPV6]) if ranges[IPV6] else None
        self._rank = tuple(rank)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_rank"):
            raise AttributeError("Matcher is immutable")
        object.__setattr__(self, name, value)

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, state[name])

    @property
    def atom_count(self) -> int:
        return len(self._atoms)

    def scan_line(self, line: Line, number: int = 1) -> list[Match]:
        """Every match in one line, sorted by start then end."""
        text = _as_text(line)
        found: dict[int, dict[tuple[int, int], None]] = {}
        verify = RULES
        needles = self._needles
        for start, end, needle_ids in self._strings.find(fold_case(text)):
            for needle_id in needle_ids:
                needle = needles[needle_id]
                span = verify[needle.rule](text, start, end, needle, self.subdomains)
                if span is not None:
                    found.setdefault(needle.atom, {})[span] = None
        if self._ipv4 is not None or self._ipv6 is not None:
            self._find_addresses(text, found)
        if not found:
            return []
        return self._resolve(text, number, found)

    def scan(self, lines: Iterable[Line]) -> Iterator[Match]:
        """Lazily scan ``lines`` (1-based line numbers)."""
        for number, line in enumerate(lines, 1):
            yield from self.scan_line(line, number)

    def scan_file(self, path: str | os.PathLike[str]) -> Iterator[Match]:
        """Scan a plain or gzip-compressed file (told apart by its first bytes)."""
        with _open_log(path) as stream:
            yield from self.scan(stream)

    def _find_addresses(self, text: str, found: dict[int, dict[tuple[int, int], None]]) -> None:
        if self._ipv4 is not None:
            for start, end, address in ipv4_in(text):
                for atom_id in self._ipv4.lookup(address):
                    found.setdefault(atom_id, {})[(start, end)] = None
        for start, end, address, is_ipv4 in ipv6_in(text):
            index = self._ipv4 if is_ipv4 else self._ipv6
            if index is not None:
                for atom_id in index.lookup(address):
                    found.setdefault(atom_id, {})[(start, end)] = None

    def _resolve(self, text: str, number: int, found: dict[int, dict[tuple[int, int], None]]) -> list[Match]:
        present = found.keys()
        matches: list[tuple[int, int, int, Match]] = []
        for atom_id, spans in found.items():
            hit = list(self._single[atom_id])
            hit.extend(number for number, clause in self._multi[atom_id] if clause <= present)
            if not hit:
                continue
            numbers = sorted(set(hit))
            ids = tuple(sorted({self._indicator_ids[i] for i in numbers}))
            attribution = tuple(dict.fromkeys(name for i in numbers for name in self._attribution[i]))
            sources = tuple(dict.fromkeys(self._provenance[i] for i in numbers))
            atom = self._atoms[atom_id]
            for start, end in spans:
                match = Match(number, start, end, text[start:end], atom.kind, atom.display, ids, attribution, sources)
                matches.append((start, end, self._rank[atom_id], match))
        matches.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in matches]


def compile(  # noqa: A001 - the public name
    indicators: IndicatorSet, *, subdomains: bool = True, registry_aliases: bool = False
) -> Matcher:
    """Compile loaded indicators.

    ``subdomains=False`` stops ``evil.com`` hitting ``a.evil.com``.
    ``registry_aliases=True`` lets a registry key hit under other spellings of
    its hive (``HKEY_CURRENT_USER``, and ``HKU\\<SID>`` as Sysmon writes HKCU):
    the same key to an analyst, but not the same string to the STIX reference
    matcher, so it is asked for, not assumed.
    """
    return Matcher(indicators, subdomains=subdomains, registry_aliases=registry_aliases)


def _as_text(line: Line) -> str:
    if isinstance(line, bytes):
        line = line.decode("utf-8", "surrogateescape")
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


@contextmanager
def _open_log(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    with open(path, "rb") as raw:
        if raw.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped  # type: ignore[misc]  # GzipFile is a binary IO
        else:
            yield raw


def _needles(atom_id: int, atom: Atom, registry_aliases: bool) -> Iterator[tuple[str, Needle]]:
    """The case-folded keys under which one string atom is looked for."""
    kind, value, mode = atom.kind, atom.value, atom.mode
    if kind == DOMAIN:
        for spelling in domain_spellings(value) if mode != PREFIX else (value,):
            yield spelling, Needle(atom_id, rules.DOMAIN_RULE, len(spelling), mode)
    elif kind == URL:
        yield from _url_needles(atom_id, atom)
    elif kind in HASH_KINDS:
        yield value, Needle(atom_id, rules.HASH_RULE, len(value))
    elif kind == EMAIL:
        yield value, Needle(atom_id, rules.EMAIL_RULE, len(value), mode)
    elif kind == FILE_NAME:
        key = fold_case(value)
        yield key, Needle(atom_id, rules.FILE_NAME_RULE, len(key), mode)
    elif kind in (MUTEX, DIRECTORY):
        # Windows folders are case-insensitive (C:\Windows\System32 is c:\windows\system32);
        # mutexes and POSIX folders are not.
        exact = kind == MUTEX or not _is_windows_path(value)
        for spelling in _backslash_spellings(value):
            key = fold_case(spelling)
            yield key, Needle(atom_id, rules.LITERAL_RULE, len(key), mode, exact=spelling if exact else "")
    elif kind == REGISTRY_KEY:
        hive, sep, rest = value.partition("\\")
        canonical_hive = rules.HIVE_NAMES.get(hive.upper())
        for escaped, spelling in enumerate(_backslash_spellings(sep + rest if canonical_hive else value)):
            key = fold_case(spelling)
            if canonical_hive:
                needle = Needle(
                    atom_id,
                    rules.REGISTRY_RULE,
                    len(key),
                    mode,
                    hive=canonical_hive,
                    aliases=registry_aliases,
                    escaped=bool(escaped),
                )
            else:
                needle = Needle(atom_id, rules.LITERAL_RULE, len(key), mode)
            yield key, needle


def _is_windows_path(path: str) -> bool:
    return "\\" in path or (len(path) >= 2 and path[0].isalpha() and path[1] == ":")


def _backslash_spellings(value: str) -> tuple[str, ...]:
    """The value, and as JSON logs write it (each backslash doubled)."""
    if "\\" not in value:
        return (value,)
    return (value, value.replace("\\", "\\\\"))


def _url_needles(atom_id: int, atom: Atom) -> Iterator[tuple[str, Needle]]:
    parts = split_url(atom.value)
    netlocs = [parts.netloc]
    default_port = DEFAULT_PORTS.get(parts.scheme)
    if default_port is not None and ":" not in parts.netloc.rsplit("]", 1)[-1]:
        netlocs.append(f"{parts.netloc}:{default_port}")
    query = f"?{parts.query}" if parts.query else ""
    root = parts.path in ("", "/") and atom.mode != PREFIX
    rest = "" if root else parts.path + query
    for netloc in netlocs:
        key = fold_case(netloc + rest)
        yield (
            key,
            Needle(
                atom_id,
                rules.URL_RULE,
                len(key),
                atom.mode,
                exact=rest,
                exact_at=len(netloc),
                has_query=bool(parts.query),
                tail=query if root else None,
            ),
        )
