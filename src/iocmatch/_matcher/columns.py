"""A Matcher as data: columns of numbers and strings, and a little JSON.

``to_sections`` turns a compiled matcher into named sections for
``sections.write_sections``; ``from_sections`` builds the same matcher from
them. Every table of the compiled set becomes arrays (a column of strings:
its UTF-8 bytes and their offsets; rows of numbers: offsets and values; a
column of few distinct values: the values once, in JSON, and a code a row),
the Hyperscan database its own serialized bytes, the Aho-Corasick automaton
its keys (built again when read: pyahocorasick's own form is a memory
layout, which a damaged or crafted file could make it misread), and the
rest (settings, the origin, the few hundred distinct needles) JSON.

The layout of each table is written down in DESIGN.md ("The matcher file");
a change to a compiled table that this module does not follow is caught by
the round-trip tests, not by a reader years later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, fields
from datetime import datetime
from typing import Any, TypeVar

import numpy as np

from .._common.errors import MatcherFileError
from .._common.lazy import EAGER_ROWS, Column
from .._common.model import Origin
from .._common.timestamps import LogClock
from .._compiling.boundaries import RULES, Needle
from .._compiling.compiled import CompiledSet
from .._engines.automaton import StringEngine
from .._engines.hyperscan import AVAILABLE as HYPERSCAN_AVAILABLE
from .._engines.hyperscan import HyperscanEngine
from .._engines.intervals import IntervalIndex
from .._engines.ipv4_sieve import IPv4Sieve
from .._engines.picking import LinePicker
from .._engines.tokens import TokenEngine
from .matcher import Matcher
from .sections import Sections

META = "meta"
_MASK64 = (1 << 64) - 1
_NEEDLE_FIELDS = tuple(field.name for field in fields(Needle))
T = TypeVar("T")


def to_sections(matcher: Matcher) -> dict[str, Any]:
    """The sections of ``matcher``: ``meta`` (JSON) and its arrays."""
    writer = _Writer()
    state: dict[str, Any] = dict(matcher.__getstate__().__getstate__())
    needles: dict[Needle, int] = {}

    def needle_number(needle: Needle) -> int:
        return needles.setdefault(needle, len(needles))

    meta: dict[str, Any] = {
        "engine": state["engine"],
        "subdomains": state["subdomains"],
        "registry_aliases": state["registry_aliases"],
        "defanged": state["defanged"],
        "longest_key": state["_longest_key"],
        "reference": state["_reference"],
        "origin": _origin_to_json(state["_origin"]),
        "kinds": writer.pooled("atom_kinds", state["_atom_kinds"]),
        "attribution": writer.pooled("attribution", state["_attribution"]),
        "provenance": writer.pooled("provenance", state["_provenance"]),
        "windows": state["_windows"] is not None,
        "ipv4": _index_to_columns(writer, "ipv4", state["_ipv4"]),
        "ipv6": _index_to_columns(writer, "ipv6", state["_ipv6"]),
        "picker": _picker_to_columns(writer, state["_picker"]),
    }
    writer.strings("atom_values", state["_atom_values"])
    writer.strings("indicator_ids", state["_indicator_ids"])
    writer.rows("single", state["_single"])
    _multi_to_columns(writer, state["_multi"])
    key_needles = state["_key_needles"]
    writer.rows("key_needles", [[needle_number(needle) for needle, _ in pairs] for pairs in key_needles])
    writer.ints("key_atoms", [atom for pairs in key_needles for _, atom in pairs])
    meta["weak"] = [[key, needle_number(needle), atom] for key, needle, atom in state["_weak"]]
    writer.ints("wants_weak", sorted(state["_wants_weak"]))
    writer.ints("rank", state["_rank"])
    if state["_windows"] is not None:
        writer.array("windows", [bound for window in state["_windows"] for bound in window], "<f8")
    meta["needles"] = [list(astuple(needle)) for needle in needles]
    writer.sections[META] = json.dumps(meta, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return writer.sections


def from_sections(sections: Sections, *, check_all: bool = False) -> Matcher:
    """The matcher the sections hold; MatcherFileError when they do not hold
    one. Its tables are checked when first read, or all now with ``check_all``."""
    try:
        reader = _Reader(sections)
        matcher = _from_sections(reader)
        if check_all:
            sections.verify_all()
            reader.check_all()
    except MatcherFileError:
        raise
    # Checksummed data that still does not fit (a file written by a defective build): named, never a crash.
    except (KeyError, IndexError, TypeError, ValueError, OverflowError, AttributeError, RecursionError) as exc:
        raise MatcherFileError(f"{sections.source}: damaged: {type(exc).__name__}: {exc}: compile it again") from None
    return matcher


def _from_sections(reader: _Reader) -> Matcher:
    meta = reader.meta
    _check_meta(meta)
    needles = tuple(Needle(**dict(zip(_NEEDLE_FIELDS, values, strict=True))) for values in meta["needles"])
    atoms = reader.count("atom_values_ends")
    indicators = reader.count("indicator_ids_ends")
    keys = reader.count("key_needles_ends")
    windows = None
    if meta["windows"]:
        windows = reader.pairs_of_floats("windows")
    ipv4 = _index_from_columns(reader, "ipv4", meta["ipv4"], atoms)
    state: dict[str, object] = {
        "_atom_kinds": reader.pooled("atom_kinds", meta["kinds"]),
        "_atom_values": reader.strings("atom_values"),
        "_attribution": reader.pooled("attribution", meta["attribution"]),
        "_clock": LogClock(),
        "_direct": {},
        "_indicator_ids": reader.strings("indicator_ids"),
        "_ipv4": ipv4,
        "_ipv6": _index_from_columns(reader, "ipv6", meta["ipv6"], atoms),
        "_key_needles": reader.paired_rows("key_needles", "key_atoms", needles.__getitem__, len(needles), atoms),
        "_longest_key": int(meta["longest_key"]),
        "_multi": _multi_from_columns(reader, indicators, atoms),
        "_origin": _origin_from_json(meta["origin"]),
        "_picker": _picker_from_columns(reader, meta["picker"], ipv4, keys),
        "_provenance": reader.pooled("provenance", meta["provenance"]),
        "_rank": reader.ints("rank"),
        "_reference": meta["reference"],
        "_single": reader.rows("single", indicators),
        "_wants_weak": frozenset(reader.checked_ints("wants_weak", atoms).tolist()),
        "_weak": tuple((key, needles[number], atom) for key, number, atom in meta["weak"]),
        "_windows": windows,
        "defanged": bool(meta["defanged"]),
        "engine": str(meta["engine"]),
        "registry_aliases": bool(meta["registry_aliases"]),
        "subdomains": bool(meta["subdomains"]),
    }
    _check_fit(reader, state, atoms, indicators, keys)
    compiled = CompiledSet.__new__(CompiledSet)
    compiled.__setstate__(state)
    matcher = Matcher.__new__(Matcher)
    matcher.__setstate__(compiled)
    return matcher


def _check_fit(reader: _Reader, state: dict[str, Any], atoms: int, indicators: int, keys: int) -> None:
    """Every table the length it must be (known from the file's table of
    sections, without reading them). Every number in a table is checked to
    name a row that exists when the table is first read (``_Reader``): a
    scan never meets an index out of its table. (The ids inside Hyperscan's
    database are its own: the file's signature vouches for them.)"""
    lengths = {
        "atom kinds": (len(state["_atom_kinds"]), atoms),
        "single": (len(state["_single"]), atoms),
        "multi": (len(state["_multi"]), atoms),
        "rank": (len(state["_rank"]), atoms),
        "attribution": (len(state["_attribution"]), indicators),
        "provenance": (len(state["_provenance"]), indicators),
        "key checks": (reader.count("key_checks"), keys),
        "key lengths": (reader.count("key_lengths"), keys),
    }
    if state["_windows"] is not None:
        lengths["windows"] = (len(state["_windows"]), indicators)
    for name, (found, wanted) in lengths.items():
        if found != wanted:
            raise MatcherFileError(f"{reader.source}: damaged: {found} rows of {name}, not {wanted}")
    if any(not 0 <= atom < atoms for _, _, atom in state["_weak"]):
        raise MatcherFileError(f"{reader.source}: damaged: a weak key names no atom")


# -- tables --------------------------------------------------------------------


def _multi_to_columns(writer: _Writer, multi: Sequence[Sequence[tuple[int, frozenset[int]]]]) -> None:
    """Each atom's AND clauses: (indicator number, clause number) rows, and the clauses' atoms once each."""
    clauses: dict[frozenset[int], int] = {}
    writer.rows("multi_numbers", [[number for number, _ in entries] for entries in multi])
    numbered = [clauses.setdefault(clause, len(clauses)) for entries in multi for _, clause in entries]
    writer.ints("multi_clauses", numbered)
    writer.rows("clauses", [sorted(clause) for clause in clauses])


def _multi_from_columns(reader: _Reader, indicators: int, atoms: int) -> Column[tuple[tuple[int, frozenset[int]], ...]]:
    clauses = reader.rows("clauses", atoms, frozenset)
    return reader.paired_rows("multi_numbers", "multi_clauses", None, indicators, len(clauses), clauses.__getitem__)


def _index_to_columns(writer: _Writer, name: str, index: IntervalIndex[int] | None) -> bool:
    if index is None:
        return False
    _, starts, covers = index.__getstate__()
    if starts and starts[-1] == 1 << (128 if name == "ipv6" else 32) and not covers[-1]:
        # The segment past the last address holds none (and 2^128 fits no 128 bits): it is left out.
        starts, covers = starts[:-1], covers[:-1]
    writer.array(f"{name}_hi", [start >> 64 for start in starts], "<u8")
    writer.array(f"{name}_lo", [start & _MASK64 for start in starts], "<u8")
    writer.rows(f"{name}_covers", covers)
    return True


def _index_from_columns(reader: _Reader, name: str, present: bool, atoms: int) -> IntervalIndex[int] | None:
    if not present:
        return None
    count = reader.sections.rows(f"{name}_hi", "<u8")
    covers: Column[tuple[int, ...]] = reader.rows(f"{name}_covers", atoms)
    if reader.sections.rows(f"{name}_lo", "<u8") != count or len(covers) != count:
        raise MatcherFileError(f"{reader.source}: damaged: the {name} ranges do not line up")

    def segments() -> tuple[list[int], Column[tuple[int, ...]], Any]:
        high, low = reader.array(f"{name}_hi", "<u8"), reader.array(f"{name}_lo", "<u8")
        rising = (high[1:] > high[:-1]) | ((high[1:] == high[:-1]) & (low[1:] > low[:-1]))
        if not bool(rising.all()):
            raise MatcherFileError(f"{reader.source}: damaged: the {name} ranges are out of order")
        # A segment starts at an address, or just past the last one (a range's end + 1).
        if name == "ipv4" and len(low) and (high.any() or int(low[-1]) > 1 << 32):
            raise MatcherFileError(f"{reader.source}: damaged: the {name} ranges hold no IPv4 address")
        covers.check()
        covered = np.diff(reader.ends(f"{name}_covers_ends", reader.count(f"{name}_covers_values")), prepend=0) > 0
        if not high.any():
            return low.tolist(), covers, covered
        return [hi << 64 | lo for hi, lo in zip(high.tolist(), low.tolist(), strict=True)], covers, covered

    index = IntervalIndex.of_segments(count, segments)
    reader.later(index.segments)
    return index


def _picker_to_columns(writer: _Writer, picker: LinePicker) -> dict[str, Any]:
    state = _slots_of(picker)
    writer.ints("key_lengths", state["_lengths"])
    writer.ints("key_checks", state["_checks"])
    engine = state["_engine"]
    meta: dict[str, Any] = {
        "address_key": state["_address_key"],
        "non_ascii_keys": state["_non_ascii_keys"],
        "sieve": state["_sieve"] is not None,
        "tokens": None,
    }
    if isinstance(engine, HyperscanEngine):
        meta["engine"] = "hyperscan"
        (database,) = engine.__getstate__()
        meta["empty"] = database is None
        writer.sections["hyperscan"] = database or b""
    else:
        meta["engine"] = "aho-corasick"
        writer.strings("automaton_keys", engine.keys)
    tokens = state["_tokens"]
    if tokens is not None:
        label_counts, has_hex, _, (fingerprints, key_ids, texts) = tokens.__getstate__()
        meta["tokens"] = {"label_counts": list(label_counts), "has_hex": has_hex}
        writer.strings("token_keys", texts)
        writer.array("token_fingerprints", fingerprints, "<u8")
        writer.ints("token_key_ids", key_ids)
    return meta


def _picker_from_columns(
    reader: _Reader, meta: dict[str, Any], ipv4: IntervalIndex[int] | None, keys: int
) -> LinePicker:
    engine: HyperscanEngine | StringEngine
    if meta["engine"] == "hyperscan":
        if not HYPERSCAN_AVAILABLE:
            lacking = "compiled for Hyperscan, which this platform lacks"
            raise MatcherFileError(f"{reader.source}: {lacking}: compile it again with --engine aho-corasick")
        engine = HyperscanEngine.__new__(HyperscanEngine)
        database = None if meta["empty"] else bytes(reader.sections.bytes("hyperscan"))
        try:
            engine.__setstate__((database,))
        # Hyperscan checks its own bytes (a magic, the platform, a CRC) and says so in errors of its own.
        except Exception as exc:  # noqa: BLE001
            raise MatcherFileError(f"{reader.source}: damaged: Hyperscan refuses its database ({exc})") from None
    else:
        engine = StringEngine(tuple(reader.strings("automaton_keys")))
    tokens = None
    if meta["tokens"] is not None:
        tokens = _tokens_from_columns(reader, meta["tokens"], keys)
    _check_address_key(reader, int(meta["address_key"]), bool(meta["sieve"]), keys)
    sieve = None
    if meta["sieve"]:
        if ipv4 is None:
            raise MatcherFileError(f"{reader.source}: damaged: an address sieve without addresses")
        sieve = IPv4Sieve(ipv4)
    picker = LinePicker.__new__(LinePicker)
    _set_slots(
        picker,
        {
            "_address_key": int(meta["address_key"]),
            "_checks": reader.ints("key_checks", 3),  # ANYWHERE, AFTER_NON_DIGIT, MAPPED_IPV4_HEX
            "_engine": engine,
            "_lengths": reader.ints("key_lengths", _LONGEST),
            "_non_ascii_keys": bool(meta["non_ascii_keys"]),
            "_sieve": sieve,
            "_tokens": tokens,
        },
    )
    return picker


def _tokens_from_columns(reader: _Reader, meta: dict[str, Any], keys: int) -> TokenEngine:
    count = reader.count("token_key_ids")
    texts = reader.strings("token_keys")
    if reader.sections.rows("token_fingerprints", "<u8") != count or len(texts) != count:
        raise MatcherFileError(f"{reader.source}: damaged: the token fingerprints and their keys do not line up")

    def tables() -> tuple[Any, Any, Column[str]]:
        fingerprints = reader.array("token_fingerprints", "<u8")
        if len(fingerprints) and not bool((fingerprints[1:] >= fingerprints[:-1]).all()):
            raise MatcherFileError(f"{reader.source}: damaged: the token fingerprints are out of order")
        if not bytes(reader.sections.bytes("token_keys_text")).isascii():  # host names and hex digits
            raise MatcherFileError(f"{reader.source}: damaged: the token keys are not ASCII")
        return fingerprints, reader.checked_ints("token_key_ids", keys), texts

    label_counts = tuple(int(count) for count in meta["label_counts"])
    engine = TokenEngine.of_tables(label_counts, bool(meta["has_hex"]), count, tables)
    reader.later(engine.tables)
    return engine


def _check_address_key(reader: _Reader, address_key: int, sieve: bool, keys: int) -> None:
    """The key the sieve's addresses are reported under: a key of no needle (the addresses are
    looked up in the index), or -1 without a sieve."""
    if not sieve:
        if address_key != -1:
            raise MatcherFileError(f"{reader.source}: damaged: an address key without an address sieve")
        return
    if not 0 <= address_key < keys:
        raise MatcherFileError(f"{reader.source}: damaged: the address key names no key")
    ends = reader.ends("key_needles_ends", reader.count("key_needles_values"))
    if int(ends[address_key]) != (int(ends[address_key - 1]) if address_key else 0):
        raise MatcherFileError(f"{reader.source}: damaged: the address key has needles")


_LONGEST = 1 << 31  # a key's length: not negative


def _origin_to_json(origin: Origin) -> dict[str, Any]:
    return {
        "compiled_at": origin.compiled_at.isoformat(),
        "sources": [list(pair) for pair in origin.sources],
        "as_of": origin.as_of.isoformat(),
        "as_of_given": origin.as_of_given,
        "ignore_validity": origin.ignore_validity,
        "indicators": origin.indicators,
        "expiries": list(origin.expiries),
        "at_event_time": origin.at_event_time,
    }


def _origin_from_json(data: dict[str, Any]) -> Origin:
    return Origin(
        compiled_at=_aware(data["compiled_at"]),
        sources=tuple((str(label), str(digest)) for label, digest in data["sources"]),
        as_of=_aware(data["as_of"]),
        as_of_given=bool(data["as_of_given"]),
        ignore_validity=bool(data["ignore_validity"]),
        indicators=int(data["indicators"]),
        expiries=tuple(float(expiry) for expiry in data["expiries"]),
        at_event_time=bool(data["at_event_time"]),
    )


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} names no time zone")
    return moment


def _check_meta(meta: dict[str, Any]) -> None:
    """The description's values of the types the tables need (a scan must never meet another)."""
    _typed(meta["needles"], list, "needles")
    for values in meta["needles"]:
        needle = dict(zip(_NEEDLE_FIELDS, _typed(values, list, "a needle"), strict=True))
        for field, kind in _NEEDLE_TYPES.items():
            _typed(needle[field], kind, f"the needle's {field}")
        if needle["rule"] not in RULES or needle["exact_at"] < 0:
            raise ValueError(f"a needle of rule {needle['rule']!r} at {needle['exact_at']}")
    for pool in ("attribution", "provenance"):
        for names in _typed(meta[pool], list, pool):
            for name in _typed(names, list, pool):
                _typed(name, str, pool)
    for kind in _typed(meta["kinds"], list, "kinds"):
        _typed(kind, str, "kinds")
    for key, number, atom in _typed(meta["weak"], list, "weak keys"):
        _typed(key, str, "a weak key")
        _typed(number, int, "a weak key's needle")
        _typed(atom, int, "a weak key's atom")
    if meta["reference"] is not None:
        _typed(meta["reference"], float, "the reference time")
    _typed(meta["longest_key"], int, "the longest key")
    tokens = meta["picker"]["tokens"]
    if tokens is not None and any(not isinstance(count, int) or count < 1 for count in tokens["label_counts"]):
        raise ValueError("label counts below one")


def _typed(value: Any, kind: type, what: str) -> Any:
    # bool is an int to isinstance, and no count or index is a bool
    if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
        raise TypeError(f"{what} is {type(value).__name__}, not {kind.__name__}")
    return value


_NEEDLE_TYPES: dict[str, type] = {
    "rule": str, "mode": str, "exact": str, "exact_at": int, "has_query": bool,
    "hive": str, "aliases": bool, "escaped": bool, "regex": str, "kind": str,
}  # fmt: skip


def _slots_of(obj: object) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in type(obj).__slots__}  # type: ignore[attr-defined]


def _set_slots(obj: object, values: dict[str, object]) -> None:
    for name, value in values.items():
        object.__setattr__(obj, name, value)


# -- columns -------------------------------------------------------------------


class _Writer:
    def __init__(self) -> None:
        self.sections: dict[str, Any] = {}

    def array(self, name: str, values: Iterable[Any], dtype: str) -> None:
        self.sections[name] = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=dtype)

    def ints(self, name: str, values: Iterable[int]) -> None:
        """Whole numbers, in 32 bits when they fit (most ids and offsets do), else 64."""
        array = np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.int64)
        fits = not len(array) or (array.min() >= _INT32.min and array.max() <= _INT32.max)
        self.sections[name] = array.astype("<i4" if fits else "<i8")

    def strings(self, name: str, values: Iterable[str]) -> None:
        """A column of strings: their UTF-8 bytes (lone surrogates kept) one after another, and where each ends."""
        encoded = [value.encode("utf-8", "surrogatepass") for value in values]
        self.sections[f"{name}_text"] = b"".join(encoded)
        self.ints(f"{name}_ends", np.cumsum([len(data) for data in encoded], dtype=np.int64))

    def rows(self, name: str, rows: Iterable[Sequence[int]]) -> None:
        """Rows of numbers: where each row ends, and every row's numbers one after another."""
        ends: list[int] = []
        values: list[int] = []
        for row in rows:
            values.extend(row)
            ends.append(len(values))
        self.ints(f"{name}_ends", ends)
        self.ints(f"{name}_values", values)

    def pooled(self, name: str, values: Sequence[Any]) -> list[Any]:
        """A column of few distinct values: those (returned, for JSON) and a code a row."""
        pool: dict[Any, int] = {}
        self.array(name, [pool.setdefault(value, len(pool)) for value in values], "<i4")
        return [list(value) if isinstance(value, tuple) else value for value in pool]


_INT32 = np.iinfo(np.int32)


def _listed(array: Any, whole: bool = False) -> Any:
    """A small array as a list (its items Python ints: quicker to index and slice), a large one as it
    is, unless ``whole`` (every row of its table will be read)."""
    return array.tolist() if isinstance(array, np.ndarray) and (whole or len(array) <= EAGER_ROWS) else array


class _Reader:
    """Tables as ``Column``s of the sections: each checked (its SHA-256,
    its rows' ends, its numbers against the rows they name) when first read."""

    def __init__(self, sections: Sections) -> None:
        self.sections = sections
        self.source = sections.source
        meta = json.loads(bytes(sections.bytes(META)).decode("ascii"))
        if not isinstance(meta, dict):
            raise MatcherFileError(f"{self.source}: damaged: its description is no JSON object")
        self.meta: dict[str, Any] = meta
        self._checks: list[Callable[[], object]] = []

    def later(self, check: Callable[[], object]) -> None:
        """A check made when a table is first read, made now by ``check_all``."""
        self._checks.append(check)

    def check_all(self) -> None:
        for check in self._checks:
            check()

    def column(self, rows: int, open_: Callable[[bool], Callable[[int], T]]) -> Column[T]:
        column = Column(rows, open_)
        self.later(column.check)
        return column

    def count(self, name: str) -> int:
        """The whole numbers a section holds (from the table of sections)."""
        return self.sections.rows(name, self._int_dtype(name))

    def array(self, name: str, dtype: str) -> Any:
        return self.sections.array(name, dtype)

    def checked_ints(self, name: str, upper: int) -> Any:
        """A section of whole numbers, each naming a row of a table of ``upper`` rows."""
        array = self.sections.array(name, self._int_dtype(name))
        if len(array) and (int(array.min()) < 0 or int(array.max()) >= upper):
            raise MatcherFileError(f"{self.source}: damaged: {name!r} names rows its table does not have")
        return array

    def ints(self, name: str, upper: int | None = None) -> Column[int]:
        """A column of whole numbers (below ``upper``, when given, and not negative)."""

        def open_(whole: bool) -> Callable[[int], int]:
            array = self.checked_ints(name, upper) if upper is not None else self.array(name, self._int_dtype(name))
            if whole or len(array) <= EAGER_ROWS:
                return _listed(array, whole=True).__getitem__  # type: ignore[no-any-return]
            return lambda index: int(array[index])

        return self.column(self.count(name), open_)

    def strings(self, name: str) -> Column[str]:
        def open_(whole: bool) -> Callable[[int], str]:
            data = self.sections.bytes(f"{name}_text")
            ends = _listed(self.ends(f"{name}_ends", len(data)), whole)
            if whole and (raw := bytes(data)).isascii():
                # Every row will be read: ASCII text is decoded once, its byte offsets its characters'.
                text, edges = raw.decode("ascii"), [0, *ends]
                return lambda index: text[edges[index] : edges[index + 1]]

            def decode(index: int) -> str:
                start = int(ends[index - 1]) if index else 0
                try:
                    return str(data[start : int(ends[index])], "utf-8", "surrogatepass")
                except UnicodeDecodeError:
                    raise MatcherFileError(f"{self.source}: damaged: {name!r} holds text that is not UTF-8") from None

            return decode

        def every_row_utf8() -> None:
            """The whole text is UTF-8 and every row starts on a character: so every row is UTF-8."""
            data = self.sections.bytes(f"{name}_text")
            ends = self.ends(f"{name}_ends", len(data))
            if bytes(data).isascii():  # the usual case, and quick to tell
                return
            starts = ends[:-1][ends[:-1] < len(data)]
            try:
                str(data, "utf-8", "surrogatepass")
            except UnicodeDecodeError:
                starts = None
            if starts is None or bool(((np.frombuffer(data, np.uint8)[starts] & 0xC0) == 0x80).any()):
                raise MatcherFileError(f"{self.source}: damaged: {name!r} holds text that is not UTF-8")

        # The text of every row checked by check_all (read lazily, a row is checked as it is decoded).
        self.later(every_row_utf8)
        return self.column(self.count(f"{name}_ends"), open_)

    def rows(self, name: str, upper: int, make: Callable[[tuple[int, ...]], T] = tuple) -> Column[T]:  # type: ignore[assignment]
        """Rows of numbers below ``upper``: where each row ends, and every row's numbers one after another."""

        def open_(whole: bool) -> Callable[[int], T]:
            values = self.checked_ints(f"{name}_values", upper)
            ends = self.ends(f"{name}_ends", len(values))
            if whole or len(ends) <= EAGER_ROWS:
                listed, edges = values.tolist(), [0, *ends.tolist()]
                return lambda index: make(tuple(listed[edges[index] : edges[index + 1]]))
            return lambda index: make(tuple(values[int(ends[index - 1]) if index else 0 : int(ends[index])].tolist()))

        return self.column(self.count(f"{name}_ends"), open_)

    def paired_rows(
        self, name: str, seconds_name: str, first: Callable[[int], Any] | None, firsts_upper: int,
        seconds_upper: int, second: Callable[[int], Any] | None = None,
    ) -> Column[tuple[tuple[Any, Any], ...]]:  # fmt: skip
        """Rows of pairs: each row's numbers (``name``, below ``firsts_upper``)
        with those of ``seconds_name`` (below ``seconds_upper``), in order,
        each made into its object by ``first`` and ``second`` when given."""
        if self.count(f"{name}_values") != self.count(seconds_name):
            raise MatcherFileError(f"{self.source}: damaged: the pairs of {name!r} do not line up")

        def open_(whole: bool) -> Callable[[int], tuple[tuple[Any, Any], ...]]:
            firsts = self.checked_ints(f"{name}_values", firsts_upper)
            seconds = self.checked_ints(seconds_name, seconds_upper)
            ends = self.ends(f"{name}_ends", len(firsts))
            if whole or len(ends) <= EAGER_ROWS:
                # Every pair made at once, each row then a slice of them.
                lefts, rights = firsts.tolist(), seconds.tolist()
                pairs = list(
                    zip(map(first, lefts) if first else lefts, map(second, rights) if second else rights, strict=True)
                )
                edges = [0, *ends.tolist()]
                return lambda index: tuple(pairs[edges[index] : edges[index + 1]])

            def decode(index: int) -> tuple[tuple[Any, Any], ...]:
                start, end = int(ends[index - 1]) if index else 0, int(ends[index])
                left, right = _listed(firsts[start:end]), _listed(seconds[start:end])
                return tuple(
                    zip(map(first, left) if first else left, map(second, right) if second else right, strict=True)
                )

            return decode

        return self.column(self.count(f"{name}_ends"), open_)

    def pooled(self, name: str, pool: list[Any]) -> Column[Any]:
        """A column of few distinct values: ``pool``, and a code a row."""
        values = tuple(tuple(value) if isinstance(value, list) else value for value in pool)

        def open_(whole: bool) -> Callable[[int], Any]:
            codes = _listed(self.checked_ints(name, len(values)), whole)
            if isinstance(codes, list):
                return list(map(values.__getitem__, codes)).__getitem__
            return lambda index: values[int(codes[index])]

        return self.column(self.sections.rows(name, "<i4"), open_)

    def pairs_of_floats(self, name: str) -> Column[tuple[float, float]]:
        count = self.sections.rows(name, "<f8")
        if count % 2:
            raise MatcherFileError(f"{self.source}: damaged: {name!r} holds no whole number of pairs")

        def open_(whole: bool) -> Callable[[int], tuple[float, float]]:
            array = _listed(self.array(name, "<f8"), whole)
            return lambda index: (float(array[2 * index]), float(array[2 * index + 1]))

        return self.column(count // 2, open_)

    def _int_dtype(self, name: str) -> str:
        dtype = self.sections.dtype(name)
        if dtype not in ("<i4", "<i8"):
            raise MatcherFileError(f"{self.source}: damaged: section {name!r} holds {dtype}, not whole numbers")
        return dtype

    def ends(self, name: str, total: int) -> Any:
        """Where each row ends, checked to rise and to end at ``total``."""
        array = self.sections.array(name, self._int_dtype(name))
        if len(array) and (array[-1] != total or array[0] < 0 or bool((np.diff(array) < 0).any())):
            raise MatcherFileError(f"{self.source}: damaged: the rows of {name!r} do not line up")
        if not len(array) and total:
            raise MatcherFileError(f"{self.source}: damaged: the rows of {name!r} do not line up")
        return array
