"""The Aho-Corasick candidate engine (pyahocorasick): the only place that imports it.

It reports where which key ends, in a whole block of a file or in one line.
"""

from __future__ import annotations

from collections.abc import Iterable

import ahocorasick


class StringEngine:
    """Finds every occurrence, overlapping ones included, of a set of keys.

    Keys are case-folded str, searched for as their UTF-8 bytes in bytes that
    are given ASCII-lowered (a str key is stored as its UTF-8 bytes read as
    Latin-1, one character a byte). An occurrence is (end offset, key index).
    """

    __slots__ = ("_automaton",)
    folds_ascii = False  # blocks are given ASCII-lowered

    def __init__(self, keys: Iterable[str]) -> None:
        automaton = ahocorasick.Automaton()
        for index, key in enumerate(keys):
            if not key:
                continue  # a key another engine looks for
            automaton.add_word(key.encode("utf-8").decode("latin-1"), index)
        # An automaton without keys cannot be searched; keep None instead.
        if len(automaton):
            automaton.make_automaton()
            self._automaton = automaton
        else:
            self._automaton = None

    def candidates(self, folded: bytes) -> list[tuple[int, int]]:
        """(end offset, key index) of every key in ASCII-lowered bytes."""
        if self._automaton is None:
            return []
        # pyahocorasick's end index is inclusive.
        return [(last + 1, index) for last, index in self._automaton.iter(folded.decode("latin-1"))]

    # A tuple, because pickle skips __setstate__ for a false state (None).
    def __getstate__(self) -> tuple[object]:
        return (self._automaton,)

    def __setstate__(self, state: tuple[object]) -> None:
        (self._automaton,) = state
