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

    __slots__ = ("_automaton", "keys")
    folds_ascii = False  # blocks are given ASCII-lowered

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = tuple(keys)  # what the automaton is built from again, when read from a file or a pickle
        automaton = ahocorasick.Automaton()
        for index, key in enumerate(self.keys):
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

    # The keys, not the automaton: pyahocorasick's pickled form is its memory layout.
    def __getstate__(self) -> tuple[tuple[str, ...]]:
        return (self.keys,)

    def __setstate__(self, state: tuple[tuple[str, ...]]) -> None:
        self.__init__(state[0])  # type: ignore[misc]
