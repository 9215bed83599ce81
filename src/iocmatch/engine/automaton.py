"""The Aho-Corasick candidate engine (pyahocorasick): the only place that imports it.

It serves both paths: single lines (``find``, with the needles behind each key)
and whole blocks of a file (``candidates``, where which key ends).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick


class StringEngine:
    """Finds every occurrence, overlapping ones included, of a set of keys.

    Keys and haystacks are case-folded str. Each key carries a tuple of needle
    ids (empty for keys that only pick lines for the block path); an
    occurrence is reported as (start, end, needle ids), half-open.
    """

    __slots__ = ("_automaton",)
    folds_ascii = False  # blocks are given ASCII-lowered

    def __init__(self, keys: Iterable[tuple[str, tuple[int, ...]]]) -> None:
        automaton = ahocorasick.Automaton()
        for index, (key, needle_ids) in enumerate(keys):
            automaton.add_word(key, (len(key), needle_ids, index))
        # An automaton without keys cannot be searched; keep None instead.
        if len(automaton):
            automaton.make_automaton()
            self._automaton = automaton
        else:
            self._automaton = None

    def candidates(self, folded: bytes) -> list[tuple[int, int]]:
        """(end offset, key index) of every key in a block of ASCII-lowered bytes.

        Bytes are read as Latin-1, one character each, so offsets are byte
        offsets; a key holding non-ASCII characters can then only over-select.
        """
        if self._automaton is None:
            return []
        return [(last + 1, value[2]) for last, value in self._automaton.iter(folded.decode("latin-1"))]

    def find(self, folded: str) -> Iterator[tuple[int, int, tuple[int, ...]]]:
        if self._automaton is None:
            return
        for last, (length, needle_ids, _) in self._automaton.iter(folded):
            if needle_ids:
                # pyahocorasick's end index is inclusive.
                end = last + 1
                yield end - length, end, needle_ids

    # A tuple, because pickle skips __setstate__ for a false state (None).
    def __getstate__(self) -> tuple[object]:
        return (self._automaton,)

    def __setstate__(self, state: tuple[object]) -> None:
        (self._automaton,) = state
