"""An IndicatorSet compiled: every distinct atom (kind, value, mode) gets an
index, string atoms become needles for the candidate engine and address
atoms ranges of the interval index. A text's candidates are verified, each
with its boundary rule, then resolved: which indicators the verified atoms
satisfy on the line (an AND clause needs all of its atoms on that line).

Safe to share across threads: the tables never change after compiling, each
thread scans Hyperscan with its own scratch space, and the verdict cache
fills with the same values whatever the order of its writers.

At event time (``load(at_event_time=True)``) each indicator keeps its
validity window, and a line is judged at the time it carries (``LogClock``):
only the indicators live then fire. A line without a time is judged at the
reference time (``as_of`` when the load was given one, else now).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Set as AbstractSet
from datetime import datetime, timezone
from functools import lru_cache
from typing import cast

from .._common.addresses import ipv4_at, ipv4_in, ipv4_pick_keys, ipv6_in, network_range
from .._common.bulk import collector_paused
from .._common.model import (
    DOMAIN,
    EMAIL,
    FILE_NAME,
    IPV4,
    IPV6,
    PROCESS_NAME,
    WEAK_KINDS,
    Atom,
    Indicator,
    IndicatorSet,
    Match,
    Origin,
)
from .._common.timestamps import LogClock
from .._engines import picking
from .._engines.intervals import IntervalIndex
from .._patterns.canonical import fold_case
from .boundaries import RULES, Needle
from .engine_choice import ENGINES, SIEVED_ADDRESS, TOKENS, engine_name, line_picker
from .line_text import LINE_ERRORS, in_characters
from .log_forms import block_view, lines_holding, lines_with_forms, may_hold_forms, name_goes_on, view_of, view_text
from .needles import NeedleMaker, needles

WHOLE_LINE = -1  # a block event that asks for the line's own scan
# Kinds whose value ends where host characters do (a percent escape may go on with one).
_NAME_KINDS = frozenset((DOMAIN, EMAIL, FILE_NAME, PROCESS_NAME))
Verdict = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # indicator ids, attribution, sources
_UNKNOWN: Verdict = ((), (), ())
Found = dict[int, dict[tuple[int, int], None]]  # atom id -> its spans in the line


class CompiledSet:
    """The immutable, picklable compiled form of an IndicatorSet: what the
    scanning paths ask of a text. Nothing here raises on line content."""

    __slots__ = (
        "_atom_kinds",
        "_atom_values",
        "_attribution",
        "_clock",
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
        "_reference",
        "_single",
        "_wants_weak",
        "_weak",
        "_windows",
        "defanged",
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
        defanged: bool = False,
    ) -> None:
        with collector_paused():
            self._build(indicators, subdomains, registry_aliases, engine, defanged)

    def _build(
        self, indicators: IndicatorSet, subdomains: bool, registry_aliases: bool, engine: str, defanged: bool
    ) -> None:
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
        # At event time: each indicator's [valid_from, valid_until) in POSIX seconds; else None.
        report = indicators.report
        self._windows = tuple(map(_window, live)) if report.at_event_time else None
        self._reference = report.as_of.timestamp() if report.at_event_time and report.as_of else None
        self._clock = LogClock()
        self._single = tuple(tuple(dict.fromkeys(numbers)) for numbers in single)
        self._multi = tuple(tuple(entries) for entries in multi)
        # What a hit on an atom reports when no AND clause is involved: made at
        # its first hit, as most atoms of a large feed are never hit.
        self._direct: dict[int, Verdict | None] = {}
        self.subdomains = subdomains
        self.registry_aliases = registry_aliases
        self.defanged = defanged

        self.engine = engine_name(engine, len(atoms))
        large_set = self.engine == TOKENS

        keys: dict[str, list[tuple[Needle, int]]] = {}
        # Ports and methods never hit alone, and short numbers are in every
        # line: they pick no lines, and are looked for only on a line where an
        # atom of their AND clause was found.
        weak: list[tuple[str, Needle, int]] = []
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
            for key, needle in needles(atom, registry_aliases, make_needle):
                if atom.kind in WEAK_KINDS:
                    weak.append((key, needle, atom_id))
                else:
                    keys.setdefault(key, []).append((needle, atom_id))
        if ranges[IPV4]:
            pick_only[":ffff:"] = picking.MAPPED_IPV4_HEX
            if large_set:
                pick_only[SIEVED_ADDRESS] = picking.AFTER_NON_DIGIT
        for key in pick_only:
            keys.setdefault(key, [])
        # A key that is also a needle's picks its line wherever it occurs.
        checks = [picking.ANYWHERE if keys[key] else pick_only.get(key, picking.ANYWHERE) for key in keys]
        self._key_needles = tuple(tuple(pairs) for pairs in keys.values())
        self._longest_key = max(map(len, keys), default=0)
        self._ipv4 = IntervalIndex(ranges[IPV4]) if ranges[IPV4] else None
        self._ipv6 = IntervalIndex(ranges[IPV6]) if ranges[IPV6] else None
        self._picker = line_picker(self.engine, keys, checks, self._ipv4)
        self._weak = tuple(weak)
        self._wants_weak = frozenset(
            atom_id
            for entries in multi
            for _, clause in entries
            if any(atoms[other].kind in WEAK_KINDS for other in clause)
            for atom_id in clause
        )
        self._rank = tuple(rank)  # set last: it closes the set to changes (__setattr__)

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, "_rank"):
            raise AttributeError("a compiled set is immutable")
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a compiled set is immutable")

    def __getstate__(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, object]) -> None:
        for name in self.__slots__:
            object.__setattr__(self, name, state[name])

    def reading_defanged(self, defanged: bool) -> CompiledSet:
        """The same set, reading defanged text or not (its tables are shared)."""
        other = object.__new__(CompiledSet)
        other.__setstate__({**self.__getstate__(), "defanged": defanged})
        return other

    def reading_clock(self, clock: LogClock) -> CompiledSet:
        """The same set, reading the times of lines with ``clock`` (its tables are shared)."""
        other = object.__new__(CompiledSet)
        other.__setstate__({**self.__getstate__(), "_clock": clock})
        return other

    @property
    def at_event_time(self) -> bool:
        """Whether each line is judged at its own time."""
        return self._windows is not None

    @property
    def clock(self) -> LogClock:
        return self._clock

    def moment(self, text: str) -> float:
        """The time a line is judged at (POSIX seconds): its own, else the
        reference time (``as_of`` when the load had one, else now)."""
        stamp = self._clock.time_of(text)
        if stamp is not None:
            return stamp.timestamp()
        return self.reference_time()

    def reference_time(self) -> float:
        """When a line without a time is judged: ``as_of``, else now."""
        return self._reference if self._reference is not None else datetime.now(timezone.utc).timestamp()

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

    def found_in(self, text: str, *, window: bool = False) -> Found:
        """The verified atoms of ``text`` (one line, or one ``window`` of a long
        line) and their spans, before AND clauses are resolved: those of the
        line as written, and those of its view with the log's forms undone
        (``log_forms.py``), at their spans in the line."""
        found = self._found_as_written(text)
        if window:
            # The other atoms of a port's clause may be in another window of the line.
            self._find_weak(text, found, always=True)
        if not may_hold_forms(text, self.defanged):
            return found
        seen = view_text(text, self.defanged)
        in_view = self._found_as_written(seen) if seen != text else {}
        if in_view and (view := view_of(text, self.defanged)) is not None:
            for atom_id, spans in in_view.items():
                into = found.setdefault(atom_id, {})
                for start, end in spans:
                    into[view.span(start, end)] = None
        return found

    def _found_as_written(self, text: str) -> Found:
        if text.isascii():
            # ASCII lowering is the line's folding: the block path's own verification.
            candidates, _ = self._picker.pick(text.encode("ascii"))
            found = self.verified(text, 0, candidates)
            if self._ipv6 is not None:  # IPv6 ranges have no keys: their runs are read off the line
                self._find_ipv6(text, found)
                self._find_weak(text, found)  # an address of them may be what a port waits for
            return found
        return self._found_in_folded(text)

    def _found_in_folded(self, text: str) -> Found:
        """Any line: its folded text searched as UTF-8, offsets mapped back to characters."""
        folded = fold_case(text)
        data = folded.encode("utf-8", LINE_ERRORS)
        found: Found = {}
        key_needles = self._key_needles
        occurrences = [entry for entry in self._picker.occurrences(data) if key_needles[entry[2]]]
        if len(data) != len(folded) and occurrences:
            occurrences = in_characters(folded, occurrences)
        for start, end, key in occurrences:
            self._check_needles(text, start, end, key_needles[key], found)
        if self._ipv4 is not None or self._ipv6 is not None:
            self._find_addresses(text, found)
        self._find_weak(text, found)
        if "%" in text and found:
            self._drop_names_going_on(text, found)
        return found

    def block_candidates(self, block: bytes) -> tuple[list[tuple[int, int, int]], list[int]]:
        """Where keys occur in a block of lines, (start, end, key) with offsets in
        the block, and the offsets of places that ask for their whole line's
        scan (a line with an IPv6 address of the set among them, a line whose
        view, its forms undone, holds a key)."""
        candidates, whole_lines = self._picker.pick(block)
        whole_lines += self._ipv6_places(block)
        whole_lines += self._lines_with_forms(block)
        return candidates, whole_lines

    def _ipv6_places(self, data: bytes) -> list[int]:
        places = []
        if self._ipv6 is not None:
            for start, _, address, is_ipv4 in ipv6_in(data.decode("latin-1")):
                index = self._ipv4 if is_ipv4 else self._ipv6
                if index is not None and index.lookup(address):
                    places.append(start)
        return places

    def _lines_with_forms(self, block: bytes) -> list[int]:
        """Where the lines start whose view may hold a hit. The lines where a
        form may be are found over the whole block; their view is made at
        once and searched like a block, and only a line where a key occurs
        in its view is scanned whole (by ``found_in``)."""
        written, starts = lines_with_forms(block, self.defanged)
        if not starts:
            return []
        view = block_view(written, self.defanged)
        if view == written:
            return []
        candidates, places = self._picker.pick(view)
        places += self._ipv6_places(view)
        places += [start for start, _, _ in candidates]
        return [starts[number] for number in lines_holding(view, places)] if places else []

    def verified(self, text: str, line_start: int, candidates: list[tuple[int, int, int]]) -> Found:
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
        self._find_weak(text, found)
        if "%" in text and found:
            self._drop_names_going_on(text, found)
        return found

    def _drop_names_going_on(self, text: str, found: Found) -> None:
        """Names followed by an escape that continues them once decoded
        (``evil.com%2Eother.net``): the view says that is another name."""
        for atom_id, spans in list(found.items()):
            if self._atom_kinds[atom_id] in _NAME_KINDS:
                for span in [span for span in spans if name_goes_on(text, span[1])]:
                    del spans[span]
                if not spans:
                    del found[atom_id]

    def _find_weak(self, text: str, found: Found, *, always: bool = False) -> None:
        """The ports and methods of ``text``, when an atom of one of their AND
        clauses was found in it, or ``always`` (they are in no engine: see ``_build``)."""
        if not self._weak or (not always and self._wants_weak.isdisjoint(found)):
            return
        folded = fold_case(text)
        for key, needle, atom_id in self._weak:
            start = folded.find(key)
            while start >= 0:
                span = RULES[needle.rule](text, start, start + len(key), needle, self.subdomains)
                if span is not None:
                    found.setdefault(atom_id, {})[span] = None
                start = folded.find(key, start + 1)

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

    def resolve(self, text: str, number: int, found: Found, when: float | None = None) -> list[Match]:
        """The matches of a line from its verified atoms. At event time the
        line is judged at ``when``, else at the time it carries (``moment``)."""
        if self._windows is not None and when is None:
            when = self.moment(text)
        present = found.keys()
        matches: list[tuple[int, int, int, Match]] = []
        for atom_id, spans in found.items():
            verdict = self.atom_verdict(atom_id, present, when)
            if verdict is None:
                continue
            matches += [
                self.ranked_match(atom_id, number, start, end, text[start:end], verdict) for start, end in spans
            ]
        matches.sort(key=lambda entry: entry[:3])
        return [entry[3] for entry in matches]

    def atom_verdict(self, atom_id: int, present: AbstractSet[int], when: float | None = None) -> Verdict | None:
        """What a hit on ``atom_id`` reports on a line where the atoms
        ``present`` were verified: None when no indicator of it fires. At
        event time, ``when`` (POSIX seconds) is the line's time: only the
        indicators live then fire (never cached: the time differs by line)."""
        if when is not None and self._windows is not None:
            return self._verdict_at(atom_id, present, when)
        verdict = self._direct.get(atom_id, _UNKNOWN)
        if verdict is _UNKNOWN:
            verdict = self._direct[atom_id] = self._verdict(self._single[atom_id]) if self._single[atom_id] else None
        if self._multi[atom_id]:
            satisfied = [indicator for indicator, clause in self._multi[atom_id] if clause <= present]
            if satisfied:
                verdict = self._verdict(self._single[atom_id] + tuple(satisfied))
        return verdict

    def _verdict_at(self, atom_id: int, present: AbstractSet[int], when: float) -> Verdict | None:
        windows = cast(tuple[tuple[float, float], ...], self._windows)
        live = [number for number in self._single[atom_id] if windows[number][0] <= when < windows[number][1]]
        live += [
            number
            for number, clause in self._multi[atom_id]
            if windows[number][0] <= when < windows[number][1] and clause <= present
        ]
        return self._verdict(tuple(live)) if live else None

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


def _window(indicator: Indicator) -> tuple[float, float]:
    """When an indicator is live: from ``valid_from`` (inclusive) to ``valid_until`` (exclusive)."""
    start = indicator.valid_from.timestamp() if indicator.valid_from else -math.inf
    end = indicator.valid_until.timestamp() if indicator.valid_until else math.inf
    return start, end


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
        at_event_time=report.at_event_time,
    )
