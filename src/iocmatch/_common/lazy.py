"""Tables of a loaded matcher, read from the file's sections when first used.

Loading a matcher file builds no row of its tables: a million indicators
would cost a second of Python objects before the first line is read. A
table is instead a ``Column``: the first time a scan asks for a row, the
table's sections are checked (their SHA-256, then every number in them
against the tables they name) and the row is decoded and kept. A scan
asks for few rows (the keys that occur in its log, the atoms it hits), so
it pays for those; the rows asked for again cost a dict lookup, as a
tuple's item would.

A damaged section is therefore found when first used, not at load: the
scan stops with a ``MatcherFileError`` naming it (``check -m`` reads every
section at once).

``LazyModule`` is the same idea for a module: stix2 takes a fifth of a
second to import (it brings its data stores, and requests), and only
patterns read as a tree need it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

T = TypeVar("T")

Decoder = Callable[[int], T]
EAGER_ROWS = 65_536


class _Column(dict[int, T], Generic[T]):
    """A table of ``rows`` rows read as a sequence: ``column[i]`` for ``0 <=
    i < rows`` (else IndexError), ``len``, iteration in order. ``open_`` is
    called once, at the first row asked for: it checks the table's sections
    and returns the function that decodes row ``i`` (``open_(True)``: one
    that will be asked for every row, so it may first turn the table into
    Python lists, quicker to read row by row). Rows decoded are kept (a
    dict, so a row asked for again is found at C speed). A table of at most
    ``EAGER_ROWS`` rows is decoded whole at its first row: a scan asks for
    many of its rows, and one call a row would cost more. Iterating (and so
    a pickle, which holds the rows as a tuple) decodes every row again."""

    __slots__ = ("_decode", "_open", "_rows")

    def __init__(self, rows: int, open_: Callable[[bool], Decoder[T]]) -> None:
        super().__init__()
        self._rows = rows
        self._open = open_
        self._decode: Decoder[T] | None = None

    def __missing__(self, index: int) -> T:
        if type(index) is not int or not 0 <= index < self._rows:
            raise IndexError(f"row {index!r} of a table of {self._rows}")
        decode = self._opened()
        if dict.__contains__(self, index):  # the table was small: opening it decoded every row
            return dict.__getitem__(self, index)
        row = decode(index)
        dict.__setitem__(self, index, row)
        return row

    def check(self) -> None:
        """Check the table's sections now (what the first row read would do)."""
        self._opened()

    def _opened(self) -> Decoder[T]:
        if self._decode is None:
            whole = self._rows <= EAGER_ROWS
            self._decode = self._open(whole)
            if whole:
                dict.update(self, zip(range(self._rows), map(self._decode, range(self._rows)), strict=True))
        return self._decode

    def __iter__(self) -> Iterator[T]:  # type: ignore[override]
        if dict.__len__(self) == self._rows:
            return map(self.__getitem__, range(self._rows))
        # Every row, made from lists and not kept: whoever iterates (a pickle, a save) keeps them.
        return map(self._open(True), range(self._rows))

    def __len__(self) -> int:
        return self._rows

    def __reduce__(self) -> tuple[Any, ...]:
        return (tuple, (tuple(self),))

    def __repr__(self) -> str:
        return f"Column({self._rows} rows, {dict.__len__(self)} read)"


class LazyModule:
    """A module imported when one of its attributes is first read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attribute)


if TYPE_CHECKING:

    class Column(Sequence[T]):
        """To the type checker a Column is what it reads as: a sequence of its rows."""

        def __init__(self, rows: int, open_: Callable[[bool], Decoder[T]]) -> None: ...
        def check(self) -> None: ...
        @overload
        def __getitem__(self, index: int) -> T: ...
        @overload
        def __getitem__(self, index: slice) -> Sequence[T]: ...
        def __getitem__(self, index: int | slice) -> T | Sequence[T]: ...
        def __len__(self) -> int: ...

else:
    Column = _Column
