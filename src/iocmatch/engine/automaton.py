"""The Aho-Corasick candidate engine (pyahocorasick): the only place that imports it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick


class StringEngine:
    """Finds every occurrence, overlapping ones included, of a set of keys.

    Keys and haystacks are case-folded str. Each key carries a tuple of needle
    ids; an occurrence is reported as (start, end, needle ids), half-open.
    """

    __slots__ = ("_automaton",)

    def __init__(self, keys: Iterable[tuple[str, tuple[int, ...]]]) -> None:
        automaton = ahocorasick.Automaton()
        for key, needle_ids in keys:
            automaton.add_word(key, (len(key), needle_ids))
        # An automaton without keys cannot be searched; keep None instead.
        if len(automaton):
            automaton.make_automaton()
            self._automaton = automaton
        else:
            self._automaton = None

    def find(self, folded: str) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        if self._automaton is None:
            return
        for last, (length, needle_ids) in self._automaton.iter(folded):
            # pyahocorasick's end index is inclusive.
            end = last + 1
            yield end - length, end, needle_ids

    # A tuple, because pickle skips __setstate__ for a false state (None).
    def __getstate__(self) -> tuple[object]:
        return (self._automaton,)

    def __setstate__(self, state: tuple[object]) -> None:
        (self._automaton,) = state
