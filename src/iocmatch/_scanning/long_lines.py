"""Lines longer than the line window: scanned in overlapping windows as
their pieces arrive, never held whole, with the hits a whole-line scan gives.

A window is the text of one stretch of the line (its *own* part) with some
text of the line before it and after it. A match counts in the window that
owns its start, so no match is reported twice, and every match it owns lies
wholly inside it with the context its boundary rule reads:

* after its own part, the window holds the longest key plus ``CONTEXT``
  characters, so any occurrence starting in the own part ends inside the
  window with the characters a rule reads after it;
* before its own part, ``CONTEXT`` characters of the line, more than any rule
  reads before a match (a registry hive is looked for up to 256 characters
  back).

One line is one observation: an AND clause may be satisfied by values in
different windows. A value that belongs to an AND clause not yet complete
waits until the line ends, when the whole line's values are known; every
other match is handed over with its window. At most ``MAX_WAITING``
occurrences wait a line (memory stays bounded): past that, an occurrence is
decided with the values seen so far, reported when they already make an
indicator fire and dropped otherwise, and counted in ``unresolved`` (the
command then exits 2). Offsets are characters of the whole line, as for any
line. At event time the line is judged at the time its first window carries.
"""

from __future__ import annotations

import codecs
from collections import Counter
from collections.abc import Iterator
from itertools import chain
from typing import TYPE_CHECKING

from .._common.model import IPV4, IPV6, Match
from .._common.stats import ScanStats
from .._compiling.line_text import as_text
from .blocks import LINE_WINDOW, LinePiece

if TYPE_CHECKING:
    from .._compiling.compiled import CompiledSet, Verdict

# Characters of context a window keeps on each side of what it owns.
CONTEXT = 512
# Occurrences of AND-clause values a long line may hold back until its end;
# past that, they are reported with what the line has shown so far and counted.
MAX_WAITING = 100_000
# Bytes of a long line kept to show it (the outputs that print the line).
HEAD_BYTES = 64 << 10
# The windows a long line is scanned in, whatever the line window that made it
# long: a window's matches are held until it is written, so a window dense
# with hits costs its size many times over (16 million hits on a 200 MB line:
# 460 MB peak with 4 MiB windows, 184 MB with 1 MiB ones), and the engines
# scan 1 MiB as fast a byte as 4 MiB.
SCAN_WINDOW = 1 << 20
MIN_WINDOW = 4 * CONTEXT

Ranked = tuple[int, int, int, Match]  # start, end, rank, match


class LongLine:
    """One line longer than the line window, scanned window by window.

    ``feed`` takes the line's bytes as they arrive and returns the matches
    decided so far; ``finish`` returns the rest when the line ends.
    ``head`` holds its first ``HEAD_BYTES`` bytes; ``unresolved`` counts
    AND-clause occurrences that could not wait for the line's end and were
    decided otherwise than the whole line decides (reported with fewer
    indicators, or dropped).
    """

    def __init__(
        self, compiled: CompiledSet, number: int, window: int = LINE_WINDOW, when: float | None = None
    ) -> None:
        self._compiled = compiled
        self._number = number
        self._when = when  # the line's time at event time: given, else read from its first window
        self._window = min(max(window, MIN_WINDOW), SCAN_WINDOW)
        self._after = compiled.longest_key + CONTEXT
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._text = ""  # context, then text not yet owned by a scanned window
        self._base = 0  # the line offset of _text[0]
        self._own_from = 0  # where in _text the next window's own part starts
        self._present: set[int] = set()
        self._waiting: list[tuple[int, int, int, str]] = []  # atom, start, end, text
        self._decided_early: dict[int, Counter[Verdict | None]] = {}  # past MAX_WAITING: how each was decided
        self.head = b""
        self.unresolved = 0
        self._handed_over = 0

    def take(self, piece: LinePiece) -> Iterator[tuple[list[Match], bool]]:
        """The matches of each window a piece completes (and of the line's
        end, with its last piece), each list with whether an earlier one of
        this line was handed over already (a continuation of the same line)."""
        windows = chain(self.feed(piece.data), self.finish() if piece.last else ())
        for matches in windows:
            if matches:
                yield matches, self._handed_over > 0
                self._handed_over += 1

    def count_into(self, stats: ScanStats) -> None:
        """Once the line has ended: what it adds to a scan's counts."""
        stats.long_lines += 1
        stats.unresolved += self.unresolved

    def feed(self, data: bytes) -> Iterator[list[Match]]:
        """The matches decided by each window that ``data`` completes (a
        window's at a time: a window dense with hits is written before the
        next is scanned)."""
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        for found in self._feed_text(self._decoder.decode(data)):
            yield _unranked(found)

    def finish(self) -> Iterator[list[Match]]:
        """The line has ended: its last window, then the matches that waited for it."""
        for found in self._finish():
            yield _unranked(found)

    # -- windows

    def _feed_text(self, text: str) -> Iterator[list[Ranked]]:
        self._text += text
        while len(self._text) - self._own_from >= self._window + self._after:
            yield self._scan(self._own_from + self._window, final=False)

    def _finish(self) -> Iterator[list[Ranked]]:
        self._text += self._decoder.decode(b"", final=True)
        self._text = as_text(self._text)  # without its line end, as any line
        yield self._scan(len(self._text), final=True)
        yield self._resolve_waiting()

    def _scan(self, own_to: int, final: bool) -> list[Ranked]:
        """Scan the window owning ``_text[_own_from:own_to]``, then drop what no
        later window needs."""
        window = self._text if final else self._text[: own_to + self._after]
        compiled = self._compiled
        if self._when is None and compiled.at_event_time:
            self._when = compiled.moment(window)
        own_from, base = self._own_from, self._base
        decided: list[Ranked] = []
        owned: list[tuple[int, list[tuple[int, int]]]] = []
        cut_before, cut_after = base > 0, not final
        for atom, found in compiled.found_in(window, window=True).items():
            mine = [span for span in found if own_from <= span[0] < own_to]
            if mine and cut_before | cut_after and compiled.atom_kind(atom) in (IPV4, IPV6):
                mine = [span for span in mine if not _run_cut(window, span, cut_before, cut_after)]
            if mine:
                owned.append((atom, mine))
                self._present.add(atom)
        for atom, spans in owned:
            if compiled.waits_for_line(atom, self._present):
                for start, end in spans:
                    self._wait(atom, start + base, end + base, window[start:end], decided)
                continue
            verdict = compiled.atom_verdict(atom, self._present, self._when)
            if verdict is not None:
                decided += [
                    compiled.ranked_match(atom, self._number, start + base, end + base, window[start:end], verdict)
                    for start, end in spans
                ]
        if not final:
            keep_from = own_to - CONTEXT
            self._text = self._text[keep_from:]
            self._base += keep_from
            self._own_from = CONTEXT
        decided.sort(key=lambda entry: entry[:3])
        return decided

    # -- AND clauses across windows

    def _wait(self, atom: int, start: int, end: int, text: str, decided: list[Ranked]) -> None:
        if len(self._waiting) < MAX_WAITING:
            self._waiting.append((atom, start, end, text))
            return
        # Bounded memory first: decided now, with the values seen so far; the
        # line's end tells whether that was what the whole line decides.
        verdict = self._compiled.atom_verdict(atom, self._present, self._when)
        self._decided_early.setdefault(atom, Counter())[verdict] += 1
        if verdict is not None:
            decided.append(self._compiled.ranked_match(atom, self._number, start, end, text, verdict))

    def _resolve_waiting(self) -> list[Ranked]:
        compiled = self._compiled
        for atom, verdicts in self._decided_early.items():
            final = compiled.atom_verdict(atom, self._present, self._when)
            self.unresolved += sum(count for verdict, count in verdicts.items() if verdict != final)
        found = []
        for atom, start, end, text in self._waiting:
            verdict = compiled.atom_verdict(atom, self._present, self._when)
            if verdict is not None:
                found.append(compiled.ranked_match(atom, self._number, start, end, text, verdict))
        self._waiting = []
        found.sort(key=lambda entry: entry[:3])
        return found


_ADDRESS_RUN = frozenset("0123456789abcdefABCDEF:.")


def _run_cut(window: str, span: tuple[int, int], cut_before: bool, cut_after: bool) -> bool:
    """An IPv6 address (or an IPv4 one written in IPv6 form) is found as a
    whole run of hex digits, ``:`` and ``.``; a run that reaches an edge the
    window cut was longer in the line, longer than any address (a window
    keeps more context than an address is long), so it holds none."""
    start, end = span
    if ":" not in window[start:end]:
        return False  # a dotted quad has rules of its own, which the context covers
    while start > 0 and window[start - 1] in _ADDRESS_RUN:
        start -= 1
    while end < len(window) and window[end] in _ADDRESS_RUN:
        end += 1
    return (cut_before and start == 0) or (cut_after and end == len(window))


def scan_long_text(
    compiled: CompiledSet, text: str, number: int, window: int = LINE_WINDOW, when: float | None = None
) -> list[Match]:
    """Every match in a line already in memory but longer than the window,
    sorted as a line's matches are."""
    line = LongLine(compiled, number, window, when)
    found: list[Ranked] = []
    for start in range(0, len(text), SCAN_WINDOW):
        for ranked in line._feed_text(text[start : start + SCAN_WINDOW]):
            found += ranked
    for ranked in line._finish():
        found += ranked
    found.sort(key=lambda entry: entry[:3])
    return _unranked(found)


def _unranked(found: list[Ranked]) -> list[Match]:
    return [entry[3] for entry in found]
