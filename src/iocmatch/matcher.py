"""Compile an IndicatorSet into a Matcher, and scan lines with it.

Compilation gives every distinct atom (kind, value, mode) an index, turns
string atoms into needles for the candidate engine and address atoms into
ranges of the interval index. Scanning finds candidates, verifies each with
its boundary rule, then resolves which indicators the verified atoms satisfy
on the line (an AND clause needs all of its atoms on that line).
"""

from __future__ import annotations

import codecs
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Iterator
from collections.abc import Set as AbstractSet
from datetime import datetime, timezone
from functools import lru_cache
from typing import IO, TYPE_CHECKING, cast

from . import boundaries as rules
from . import picking
from .addresses import ipv4_at, ipv4_in, ipv4_pick_keys, ipv6_in, network_range
from .blocks import BLOCK_SIZE, LINE_WINDOW, BlockLines, LinePiece, read_blocks
from .boundaries import RULES, Needle
from .bulk import collector_paused
from .engine.automaton import StringEngine
from .engine.hyperscan_engine import AVAILABLE as HYPERSCAN_AVAILABLE
from .engine.hyperscan_engine import HyperscanEngine
from .engine.intervals import IntervalIndex
from .logfiles import open_log
from .long_lines import LongLine, scan_long_text
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
    Origin,
)
from .normalize import DEFAULT_PORTS, domain_spellings, fold_case, split_url
from .parallel import can_split, scan_file_parallel
from .stats import ScanStats

if TYPE_CHECKING:
    from .engine.tokens import TokenEngine

NeedleMaker = Callable[..., Needle]
Line = str | bytes | bytearray | memoryview
TOKENS = "tokens"
ENGINES = ("auto", "hyperscan", "aho-corasick", TOKENS)
# From this many atoms on, ``auto`` takes the token engine: compiling that
# many keys costs more than it saves (benchmarks/RESULTS.md).
LARGE_SET_ATOMS = 50_000
_SIEVED_ADDRESS = ""  # the key of addresses the IPv4 sieve finds: no engine looks for it
WHOLE_LINE = -1  # a block event that asks for the line's own scan
Verdict = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # indicator ids, attribution, sources
_UNKNOWN: Verdict = ((), (), ())
Found = dict[int, dict[tuple[int, int], None]]  # atom id -> its spans in the line
LineHits = tuple[int, int, bytes, list[Match]]  # line number, byte offset, the line, its matches


class Matcher:
    """An immutable, picklable compiled form of an IndicatorSet.

    ``scan``, ``scan_line`` and ``scan_file`` never raise on line content.
    """

    __slots__ = (
        "_atom_kinds",
        "_atom_values",
        "_attribution",
        "_direct",
        "_indicator_ids",
        "_ipv4",
        "_ipv6",
        "_key_needles",
        "_longest_key",
        "_multi",
        "_origin",
        "_picker",
        "_provenance",
        "_rank",
        "_single",
        "engine",
        "registry_aliases",
        "subdomains",
    )

    def __init__(
        self,
        indicators: IndicatorSet,
        *,
        subdomains: bool = True,
        registry_aliases: bool = False,
        engine: str = "auto",
    ) -> None:
        with collector_paused():
            self._build(indicators, subdomains, registry_aliases, engine)

    def _build(self, indicators: IndicatorSet, subdomains: bool, registry_aliases: bool, engine: str) -> None:
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        atom_index: dict[Atom, int] = {}
        single: list[list[int]] = []
        multi: list[list[tuple[int, frozenset[int]]]] = []
        live = indicators.indicators
        for number, indicator in enumerate(live):
            for clause in indicator.clauses:
                ids = []
                # Atom ids in one order whatever the set's; most clauses have one atom.
                ordered = clause if len(clause) == 1 else sorted(clause, key=lambda a: (a.kind, a.value, a.mode))
                for atom in ordered:
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
        # What a match reports of its atom, as two columns of strings: quick to pickle and read back.
        self._atom_kinds = tuple(atom.kind for atom in atoms)
        self._atom_values = tuple(atom.display for atom in atoms)
        self._indicator_ids = tuple(indicator.id for indicator in live)
        self._attribution = tuple(indicator.attribution for indicator in live)
        self._provenance = tuple(indicator.provenance for indicator in live)
        self._origin = _origin_of(indicators)
        self._single = tuple(tuple(dict.fromkeys(numbers)) for numbers in single)
        self._multi = tuple(tuple(entries) for entries in multi)
        # What a hit on an atom reports when no AND clause is involved: made at
        # its first hit, as most atoms of a large feed are never hit.
        self._direct: dict[int, Verdict | None] = {}
        self.subdomains = subdomains
        self.registry_aliases = registry_aliases

        self.engine = _engine_name(engine, len(atoms))
        large_set = self.engine == TOKENS

        keys: dict[str, list[tuple[Needle, int]]] = {}
        # Equal needles are one object (less to keep, to pickle and to read
        # back), made once each: a cache on the arguments, whose tuples hash in C.
        make_needle = cast(NeedleMaker, lru_cache(maxsize=None)(Needle))
        # Keys that only pick lines for the block path (no needle behind them), and their check.
        pick_only: dict[str, int] = {}
        ranges: dict[str, list[tuple[int, int, int]]] = {IPV4: [], IPV6: []}
        rank = [0] * len(atoms)
        for atom_id, atom in enumerate(atoms):
            if atom.kind in (IPV4, IPV6):
                first, last, prefix_length = network_range(atom.value)
                ranges[atom.kind].append((first, last, atom_id))
                rank[atom_id] = -prefix_length
                if atom.kind == IPV4 and not large_set:
                    for text in ipv4_pick_keys(ipaddress.IPv4Network(atom.value)):
                        pick_only[text] = picking.AFTER_NON_DIGIT
                continue
            for key, needle in _needles(atom, registry_aliases, make_needle):
                keys.setdefault(key, []).append((needle, atom_id))
        if ranges[IPV4]:
            pick_only[":ffff:"] = picking.MAPPED_IPV4_HEX
            if large_set:
                pick_only[_SIEVED_ADDRESS] = picking.AFTER_NON_DIGIT
        for key in pick_only:
            keys.setdefault(key, [])
        # A key that is also a needle's picks its line wherever it occurs.
        checks = [picking.ANYWHERE if keys[key] else pick_only.get(key, picking.ANYWHERE) for key in keys]
        self._key_needles = tuple(tuple(pairs) for pairs in keys.values())
        self._longest_key = max(map(len, keys), default=0)
        self._ipv4 = IntervalIndex(ranges[IPV4]) if ranges[IPV4] else None
        self._ipv6 = IntervalIndex(ranges[IPV6]) if ranges[IPV6] else None
        key_list = list(keys)
        engine_keys = key_list
        tokens = sieve = None
        address_key = -1
        if large_set:
            tokens = _token_engine(keys)
            # The token engine's keys, and the sieve's empty one, are not the block engine's.
            engine_keys = ["" if index in tokens else key for index, key in enumerate(key_list)]
            if self._ipv4 is not None:
                from .engine.ipv4_sieve import IPv4Sieve  # numpy: only large sets need it

                sieve = IPv4Sieve(self._ipv4)
                address_key = key_list.index(_SIEVED_ADDRESS)
        if HYPERSCAN_AVAILABLE and self.engine != "aho-corasick":
            block_engine: picking.BlockEngine = HyperscanEngine(engine_keys)
        else:
            block_engine = StringEngine(engine_keys)
        self._picker = picking.LinePicker(
            block_engine, key_list, checks, tokens=tokens, sieve=sieve, address_key=address_key
        )
        self._rank = tuple(rank)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_rank"):
            raise AttributeError("Matcher is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Matcher is immutable")

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, state[name])

    @property
    def longest_key(self) -> int:
        """Characters of the longest text looked for (windows of long lines overlap by more)."""
        return self._longest_key

    @property
    def origin(self) -> Origin:
        """What it was compiled from, and when (shown by ``check -m``)."""
        return self._origin

    @property
    def indicator_count(self) -> int:
        """Live indicators compiled into it."""
        return len(self._indicator_ids)

    @property
    def atom_count(self) -> int:
        return len(self._atom_kinds)

    def scan_line(self, line: Line | None, number: int = 1) -> list[Match]:
        """Every match in one line, sorted by start then end. None (a missing
        value, as a null column gives) has none; a line longer than the line
        window is scanned in windows, in bounded memory beyond the line itself."""
        if line is None:
            return []
        if not isinstance(line, (str, bytes, bytearray, memoryview)):
            # bytes(5) would be five NUL bytes, bytes(10**10) ten gigabytes.
            raise TypeError(f"scan_line takes a str or bytes line, not {type(line).__name__}")
        text = _as_text(line)
        if len(text) > LINE_WINDOW:
            return scan_long_text(self, text, number)
        found = self.found_in(text)
        return self._resolve(text, number, found) if found else []

    def found_in(self, text: str) -> Found:
        """The verified atoms of ``text`` (one line, or one window of a long
        line) and their spans, before AND clauses are resolved."""
        if text.isascii():
            # ASCII lowering is the line's folding: the block path's own verification.
            candidates, _ = self._picker.pick(text.encode("ascii"))
            found = self._verified(text, 0, candidates)
            if self._ipv6 is not None:  # IPv6 ranges have no keys: their runs are read off the line
                self._find_ipv6(text, found)
            return found
        return self._found_in_folded(text)

    def _found_in_folded(self, text: str) -> Found:
        """Any line: its folded text searched as UTF-8, offsets mapped back to characters."""
        folded = fold_case(text)
        data = folded.encode("utf-8", _LINE_ERRORS)
        found: Found = {}
        key_needles = self._key_needles
        occurrences = [entry for entry in self._picker.occurrences(data) if key_needles[entry[2]]]
        if len(data) != len(folded) and occurrences:
            occurrences = _in_characters(folded, occurrences)
        for start, end, key in occurrences:
            self._check_needles(text, start, end, key_needles[key], found)
        if self._ipv4 is not None or self._ipv6 is not None:
            self._find_addresses(text, found)
        return found

    def scan(self, lines: Iterable[object], stats: ScanStats | None = None) -> Iterator[Match]:
        """Lazily scan ``lines`` (1-based line numbers). An item that is not
        text (None, a number, ...) is skipped, keeps its number, and is
        counted in ``stats.not_text``: stream content never raises."""
        for number, line in enumerate(lines, 1):
            if not isinstance(line, (str, bytes, bytearray, memoryview)):
                if stats is not None:
                    stats.not_text += 1
                continue
            if stats is not None:
                stats.lines_read += 1
                stats.lines_scanned += 1
                stats.long_lines += len(line) > LINE_WINDOW
            matches = self.scan_line(line, number)
            if stats is not None and matches:
                stats.hits += len(matches)
                stats.hit_lines += 1
            yield from matches

    def scan_file(self, path: str | os.PathLike[str], workers: int = 1) -> Iterator[Match]:
        """Scan a plain or gzip-compressed file (told apart by its first bytes).

        ``workers > 1`` splits a large plain file across that many processes;
        the matches and their order are the same.
        """
        if workers > 1 and can_split(path):
            yield from scan_file_parallel(self, path, workers)
            return
        with open_log(path) as stream:
            yield from self.scan_stream(stream)

    def scan_stream(
        self, stream: IO[bytes], block_size: int = BLOCK_SIZE, line_window: int = LINE_WINDOW
    ) -> Iterator[Match]:
        """Scan a binary stream block by block: only lines that may hold a hit
        are decoded and looked at. Same matches as ``scan`` over its lines."""
        for _, _, _, matches in self.hit_lines(stream, block_size, line_window):
            yield from matches

    def hit_lines(
        self,
        stream: IO[bytes],
        block_size: int = BLOCK_SIZE,
        line_window: int = LINE_WINDOW,
        stats: ScanStats | None = None,
    ) -> Iterator[LineHits]:
        """Every line of a binary stream that holds a hit, as ``scan_stream``
        finds them: (line number, byte offset of the line, the line without
        its newline, its matches). From a pipe, lines are handed over as they
        arrive, not when a block is full.

        A line longer than ``line_window`` is scanned in windows as it is
        read: its matches come window by window, each time with the line's
        first 64 KiB standing for the line (``long_lines.py``)."""
        lines_before = 0
        offset = 0
        long_line: LongLine | None = None
        line_offset = 0
        for block in read_blocks(stream, block_size, line_window):
            if isinstance(block, LinePiece):
                if long_line is None:
                    long_line, line_offset = LongLine(self, lines_before + 1, line_window), offset
                for matches, _ in long_line.take(block):
                    yield lines_before + 1, line_offset, long_line.head, matches
                offset += len(block.data)
                if block.last:
                    if stats is not None:
                        long_line.count_into(stats)
                    lines_before += 1
                    long_line = None
                continue
            lines = BlockLines(block)
            for number, line_start, line, matches in self._scan_block(block, lines, lines_before):
                yield number, offset + line_start, line, matches
            lines_before += lines.count()
            offset += len(block)

    def _scan_block(self, block: bytes, lines: BlockLines, lines_before: int) -> Iterator[LineHits]:
        candidates, whole_lines = self._picker.pick(block)
        if self._ipv6 is not None:
            for start, _, address, is_ipv4 in ipv6_in(block.decode("latin-1")):
                index = self._ipv4 if is_ipv4 else self._ipv6
                if index is not None and index.lookup(address):
                    whole_lines.append(start)
        events = candidates
        events.extend((offset, offset + 1, WHOLE_LINE) for offset in whole_lines)
        for number, line_start, line, in_line in lines.with_events(events):
            if line.isascii() and all(key != WHOLE_LINE for _, _, key in in_line):
                # ASCII-lowered bytes are the line's own folding: the block's
                # candidates are the line's, at the same offsets.
                text = line.decode("ascii")
                if text.endswith("\r"):
                    text = text[:-1]
                found = self._verified(text, line_start, in_line)
                matches = self._resolve(text, lines_before + number, found) if found else []
            else:
                matches = self.scan_line(line, lines_before + number)
            if matches:
                yield lines_before + number, line_start, line, matches

    def _verified(self, text: str, line_start: int, candidates: list[tuple[int, int, int]]) -> Found:
        """The verified atoms of an ASCII line from its key occurrences
        (offsets in the block that starts the line at ``line_start``)."""
        length = len(text)
        found: Found = {}
        key_needles = self._key_needles
        addresses_looked_at = False
        for block_start, block_end, key in candidates:
            start = block_start - line_start
            end = block_end - line_start
            if end > length:
                continue  # ran into a trailing CR, which the line scan drops too
            needles = key_needles[key]
            if needles:
                self._check_needles(text, start, end, needles, found)
            elif self._picker.check(key) == picking.MAPPED_IPV4_HEX:
                # No key says where such an address starts: look at the whole line.
                if not addresses_looked_at:
                    addresses_looked_at = True
                    self._find_addresses(text, found)
            elif self._ipv4 is not None and (address := ipv4_at(text, start)) is not None:
                first, last, value = address
                for atom_id in self._ipv4.lookup(value):
                    found.setdefault(atom_id, {})[(first, last)] = None
        return found

    def _check_needles(
        self, text: str, start: int, end: int, needles: tuple[tuple[Needle, int], ...], found: Found
    ) -> None:
        """Each needle's boundary rule on one occurrence of its key; what passes is found."""
        for needle, atom_id in needles:
            span = RULES[needle.rule](text, start, end, needle, self.subdomains)
            if span is not None:
                found.setdefault(atom_id, {})[span] = None

    def _find_addresses(self, text: str, found: Found) -> None:
        if self._ipv4 is not None:
            for start, end, address in ipv4_in(text):
                for atom_id in self._ipv4.lookup(address):
                    found.setdefault(atom_id, {})[(start, end)] = None
        self._find_ipv6(text, found)

    def _find_ipv6(self, text: str, found: Found) -> None:
        """Addresses written in IPv6 form (an IPv4-mapped one counts as IPv4)."""
        for start, end, address, is_ipv4 in ipv6_in(text):
            index = self._ipv4 if is_ipv4 else self._ipv6
            if index is not None:
                for atom_id in index.lookup(address):
                    found.setdefault(atom_id, {})[(start, end)] = None

    def _resolve(self, text: str, number: int, found: Found) -> list[Match]:
        present = found.keys()
        matches: list[tuple[int, int, int, Match]] = []
        for atom_id, spans in found.items():
            verdict = self.atom_verdict(atom_id, present)
            if verdict is None:
                continue
            matches += [
                self.ranked_match(atom_id, number, start, end, text[start:end], verdict) for start, end in spans
            ]
        matches.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in matches]

    def atom_verdict(self, atom_id: int, present: AbstractSet[int]) -> Verdict | None:
        """What a hit on ``atom_id`` reports on a line where the atoms
        ``present`` were verified: None when no indicator of it fires."""
        verdict = self._direct.get(atom_id, _UNKNOWN)
        if verdict is _UNKNOWN:
            verdict = self._direct[atom_id] = self._verdict(self._single[atom_id]) if self._single[atom_id] else None
        if self._multi[atom_id]:
            satisfied = [indicator for indicator, clause in self._multi[atom_id] if clause <= present]
            if satisfied:
                verdict = self._verdict(self._single[atom_id] + tuple(satisfied))
        return verdict

    def atom_kind(self, atom_id: int) -> str:
        return self._atom_kinds[atom_id]

    def waits_for_line(self, atom_id: int, present: AbstractSet[int]) -> bool:
        """Whether more of the line could still change what ``atom_id``
        reports: an AND clause of it is not complete among ``present``."""
        return any(not clause <= present for _, clause in self._multi[atom_id])

    def ranked_match(
        self, atom_id: int, number: int, start: int, end: int, text: str, verdict: Verdict
    ) -> tuple[int, int, int, Match]:
        """A match, with what sorts it among a line's matches (narrowest network first)."""
        ids, attribution, sources = verdict
        match = Match(number, start, end, text, self._atom_kinds[atom_id], self._atom_values[atom_id], ids, attribution,
                      sources)  # fmt: skip
        return start, end, self._rank[atom_id], match

    def _verdict(self, numbers: tuple[int, ...]) -> Verdict:
        """The ids, attribution and sources of the indicators ``numbers``."""
        ordered = sorted(set(numbers))
        ids = tuple(sorted({self._indicator_ids[i] for i in ordered}))
        attribution = tuple(dict.fromkeys(name for i in ordered for name in self._attribution[i]))
        sources = tuple(dict.fromkeys(source for i in ordered for source in self._provenance[i]))
        return ids, attribution, sources


def compile(  # noqa: A001 - the public name
    indicators: IndicatorSet, *, subdomains: bool = True, registry_aliases: bool = False, engine: str = "auto"
) -> Matcher:
    """Compile loaded indicators.

    ``subdomains=False`` stops ``evil.com`` hitting ``a.evil.com``.
    ``registry_aliases=True`` lets a registry key hit under other spellings of
    its hive (``HKEY_CURRENT_USER``, and ``HKU\\<SID>`` as Sysmon writes HKCU):
    the same key to an analyst, but not the same string to the STIX reference
    matcher, so it is asked for, not assumed.
    ``engine`` picks the block engine for files: ``hyperscan`` where its wheel
    exists, ``aho-corasick`` always; ``auto`` takes the faster one available.
    Results never depend on it.
    """
    return Matcher(indicators, subdomains=subdomains, registry_aliases=registry_aliases, engine=engine)


def _origin_of(indicators: IndicatorSet) -> Origin:
    report = indicators.report
    now = datetime.now(timezone.utc)
    return Origin(
        compiled_at=now,
        sources=tuple((label, report.digests.get(label, "")) for label in report.sources),
        as_of=report.as_of or now,
        as_of_given=report.as_of is not None,
        ignore_validity=report.ignore_validity,
        indicators=len(indicators.indicators),
        expiries=tuple(sorted(i.valid_until.timestamp() for i in indicators.indicators if i.valid_until)),
    )


def _engine_name(requested: str, atoms: int) -> str:
    if requested == "auto":
        if atoms >= LARGE_SET_ATOMS:
            return TOKENS
        return "hyperscan" if HYPERSCAN_AVAILABLE else "aho-corasick"
    if requested == "hyperscan" and not HYPERSCAN_AVAILABLE:
        raise ValueError("engine 'hyperscan' is not installed on this platform")
    return requested


def _token_engine(keys: dict[str, list[tuple[Needle, int]]]) -> TokenEngine:
    """The keys whose every needle can only hit a whole token: domains and
    file names (host runs and dots), and hashes (hex runs)."""
    from .engine.tokens import TokenEngine, is_dotted_token, is_hex_token  # numpy: only large sets need it

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


def _line_bytes(error: UnicodeError) -> tuple[bytes, int]:
    """Encoding a line's text back to bytes: a surrogate-escaped byte (U+DC80 to
    U+DCFF, from decoding bytes that are not UTF-8) is that byte again; any
    other lone surrogate (text handed over as str, JSON's ``\\ud800``) is
    written as surrogatepass does. Nothing a line holds can fail to encode."""
    assert isinstance(error, UnicodeEncodeError)
    out = bytearray()
    for char in error.object[error.start : error.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("utf-8", "surrogatepass")
    return bytes(out), error.end


_LINE_ERRORS = "iocmatch-line"
codecs.register_error(_LINE_ERRORS, _line_bytes)


def _as_text(line: Line) -> str:
    if not isinstance(line, str):
        line = bytes(line).decode("utf-8", "surrogateescape")
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def _in_characters(folded: str, occurrences: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Occurrences found in the UTF-8 bytes of ``folded`` at character offsets;
    those that start or end inside a character, or spell a key with bytes of
    an undecodable line, are dropped."""
    if len(folded) <= _SHORT_TEXT:
        offsets = _char_offsets(folded)
        to_char = [(offsets.get(start, -1), offsets.get(end, -1), key) for start, end, key in occurrences]
    else:
        to_char = _char_offsets_of_long_text(folded, occurrences)
    return [
        (start, end, key)
        for start, end, key in to_char
        if start >= 0 and end >= 0 and _is_utf8(folded[start:end])
    ]


# Up to this many characters a line's offsets are mapped with a dict; longer
# texts (windows of long lines) with numpy, in memory per character, not per entry.
_SHORT_TEXT = 1 << 16


def _char_offsets(folded: str) -> dict[int, int]:
    """UTF-8 byte offset -> character offset, at every character boundary."""
    offsets = {}
    position = 0
    for index, char in enumerate(folded):
        offsets[position] = index
        position += len(char.encode("utf-8", _LINE_ERRORS))
    offsets[position] = len(folded)
    return offsets


def _char_offsets_of_long_text(
    folded: str, occurrences: list[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """``_char_offsets`` for a long text: each character's UTF-8 length from
    its code point (a surrogate-escaped byte is one byte), summed; -1 where an
    offset falls inside a character."""
    import numpy

    codes = numpy.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32)
    lengths = 1 + (codes >= 0x80).astype(numpy.int64) + (codes >= 0x800) + (codes >= 0x10000)
    lengths[(codes >= 0xDC80) & (codes <= 0xDCFF)] = 1
    starts = numpy.zeros(len(codes) + 1, dtype=numpy.int64)
    numpy.cumsum(lengths, out=starts[1:])
    ends = numpy.array([[start, end] for start, end, _ in occurrences], dtype=numpy.int64)
    index = numpy.searchsorted(starts, ends)
    on_boundary = starts[numpy.minimum(index, len(codes))] == ends
    mapped = numpy.where(on_boundary, index, -1).tolist()
    return [(first, last, key) for (first, last), (_, _, key) in zip(mapped, occurrences, strict=True)]


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _needles(atom: Atom, registry_aliases: bool, make_needle: NeedleMaker) -> Iterator[tuple[str, Needle]]:
    """The case-folded keys under which one string atom is looked for."""
    kind, value, mode = atom.kind, atom.value, atom.mode
    if kind == DOMAIN:
        for spelling in domain_spellings(value) if mode != PREFIX else (value,):
            yield spelling, make_needle(rules.DOMAIN_RULE, mode)
    elif kind == URL:
        yield from _url_needles(atom, make_needle)
    elif kind in HASH_KINDS:
        yield value, make_needle(rules.HASH_RULE)
    elif kind == EMAIL:
        yield fold_case(value), make_needle(rules.EMAIL_RULE, mode)
    elif kind == FILE_NAME:
        key = fold_case(value)
        yield key, make_needle(rules.FILE_NAME_RULE, mode)
    elif kind in (MUTEX, DIRECTORY):
        # Windows folders are case-insensitive (C:\Windows\System32 is c:\windows\system32);
        # mutexes and POSIX folders are not.
        exact = kind == MUTEX or not _is_windows_path(value)
        for spelling in _backslash_spellings(value):
            key = fold_case(spelling)
            yield key, make_needle(rules.LITERAL_RULE, mode, exact=spelling if exact else "")
    elif kind == REGISTRY_KEY:
        hive, sep, rest = value.partition("\\")
        # With a hive and a path under it, the hive may be spelled any way;
        # a bare hive or an unknown one is a literal string.
        canonical_hive = rules.HIVE_NAMES.get(hive.upper()) if rest else None
        for escaped, spelling in enumerate(_backslash_spellings(sep + rest if canonical_hive else value)):
            key = fold_case(spelling)
            if canonical_hive:
                needle = make_needle(
                    rules.REGISTRY_RULE,
                    mode,
                    hive=canonical_hive,
                    aliases=registry_aliases,
                    escaped=bool(escaped),
                )
            else:
                needle = make_needle(rules.LITERAL_RULE, mode)
            yield key, needle


def _is_windows_path(path: str) -> bool:
    return "\\" in path or (len(path) >= 2 and path[0].isalpha() and path[1] == ":")


def _backslash_spellings(value: str) -> tuple[str, ...]:
    """The value, and as JSON logs write it (each backslash doubled)."""
    if "\\" not in value:
        return (value,)
    return (value, value.replace("\\", "\\\\"))


def _url_needles(atom: Atom, make_needle: NeedleMaker) -> Iterator[tuple[str, Needle]]:
    """host+path(+query), the host in every spelling: its U-label, and with any
    default port written out (``https://evil.com:443/a`` is ``http://evil.com/a``
    under another scheme)."""
    hosts, port, rest, has_query = _url_parts(atom)
    netlocs = [f"{host}:{port}" if port else host for host in hosts]
    if not port:
        netlocs += [f"{host}:{default}" for host in hosts for default in sorted(set(DEFAULT_PORTS.values()))]
    for netloc in netlocs:
        key = fold_case(netloc + rest)
        yield key, make_needle(rules.URL_RULE, atom.mode, exact=rest, exact_at=len(netloc), has_query=has_query)


def _url_parts(atom: Atom) -> tuple[tuple[str, ...], str, str, bool]:
    """(host spellings, explicit port or "", path+query, has a query)."""
    if atom.mode == PREFIX:
        # A prefix may stop anywhere, even inside the host: take it as written.
        found = _URL_PREFIX.fullmatch(atom.value)
        host, port, rest = found.groups("") if found else (atom.value, "", "")
        return (host.lower(),), port, rest, "?" in rest
    parts = split_url(atom.value)
    host, _, port = parts.netloc.rpartition(":") if not parts.netloc.endswith("]") else (parts.netloc, "", "")
    if not host or not port.isdigit():
        host, port = parts.netloc, ""
    hosts = (host,) if host.startswith("[") or not host[-1:].isalpha() else domain_spellings(host)
    query = f"?{parts.query}" if parts.query else ""
    return hosts, port, parts.path + query, bool(parts.query)


_URL_PREFIX = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?(\[[^\]]*\]|[^/?#:\[]*)(?::(\d+))?(.*)", re.DOTALL)
