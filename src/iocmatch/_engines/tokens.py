"""Hashed tokens: the candidate engine for very large sets of domains and hashes.

A domain or file name can only hit where it starts a run of host characters
``[a-z0-9_-]`` and ends one, the runs in between joined by single dots: its
boundary rules say so. A hash can only hit as a whole run of hex digits. So
instead of searching a block for a million keys, the engine lists the few
spans a key could fill (each run of a dotted token with the next 1, 2, ...
runs, for the label counts the keys have, and every hex run of 32, 40, 64 or
128 digits), takes a fingerprint of each with numpy (its length, first and
last eight bytes, ASCII-lowered), and looks the fingerprints up among the
keys'. Building is a sort, so a million keys cost seconds, not minutes.

A span whose fingerprint is found is compared with its key byte for byte, so
equal fingerprints of unequal text cost a comparison, never a wrong
candidate; every candidate is then verified by the boundary rules like any
other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

_DOT = ord(".")
HASH_LENGTHS = (32, 40, 64, 128)
_DOTTED = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_HEX_KEY = re.compile(r"[0-9a-f]+")
_WORD = 8  # bytes in a fingerprint's first and last word
# Odd multipliers (from splitmix64) that spread a fingerprint over its bits.
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))
# Below this many bytes (a line), plain Python is quicker than numpy's cost per call.
SMALL_INPUT = 4096
_DOTTED_RUNS = re.compile(rb"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
# Tried only where a run starts: inside a word it would fail again and again.
_DOTTED_RUNS_WITH_A_DOT = re.compile(rb"(?<![a-z0-9_-])[a-z0-9_-]+(?:\.[a-z0-9_-]+)+")
# A whole run of hex digits of a hash's length (the longest alternative first).
_HASH_RUN = re.compile(rb"(?<![0-9a-f])(?:[0-9a-f]{128}|[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9a-f])")
_FILTER_SLOTS_PER_KEY = 32  # 32 to 64 slots a key let about 1 span in 32 through


def is_dotted_token(key: str) -> bool:
    """Host-character runs joined by single dots, lower case ASCII."""
    return _DOTTED.fullmatch(key) is not None


def is_hex_token(key: str) -> bool:
    return len(key) in HASH_LENGTHS and _HEX_KEY.fullmatch(key) is not None


class TokenEngine:
    """Finds the dotted keys that fill whole dotted tokens of host runs, and
    the hex keys that fill whole hex runs, in blocks or lines of bytes.

    Its tables are three columns in fingerprint order: the fingerprints, the
    key index of each and its text. An engine read from a matcher file is
    made from them the first time it searches (``of_tables``)."""

    __slots__ = ("_by_text", "_count", "_filter", "_fingerprints", "_has_hex", "_key_ids", "_label_counts",
                 "_small_inputs", "_tables", "_texts")  # fmt: skip

    def __init__(self, dotted: dict[int, str], hexadecimal: dict[int, str]) -> None:
        """``dotted`` and ``hexadecimal``: key index -> key, each passing its test above."""
        keys = {**dotted, **hexadecimal}
        ids = np.fromiter(keys, dtype=np.int64, count=len(keys))
        texts = list(keys.values())
        fingerprints = _key_fingerprints(texts)
        order = np.argsort(fingerprints, kind="stable")
        label_counts = tuple(sorted({key.count(".") + 1 for key in dotted.values()}))
        ordered = tuple(map(texts.__getitem__, order.tolist()))
        self._start(label_counts, bool(hexadecimal), len(keys), lambda: (fingerprints[order], ids[order], ordered))

    @classmethod
    def of_tables(
        cls, label_counts: tuple[int, ...], has_hex: bool, count: int, tables: Callable[[], Tables]
    ) -> TokenEngine:
        """An engine of ``count`` keys whose columns ``tables`` gives when first needed."""
        engine = cls.__new__(cls)
        engine._start(label_counts, has_hex, count, tables)
        return engine

    def _start(self, label_counts: tuple[int, ...], has_hex: bool, count: int, tables: Callable[[], Tables]) -> None:
        self._label_counts = label_counts
        self._has_hex = has_hex
        self._count = count
        self._tables: Callable[[], Tables] | None = tables
        self._fingerprints: Any = None
        self._key_ids: Any = None
        self._texts: Sequence[str] = ()
        self._filter: _Filter | None = None
        self._by_text: dict[str, int] | None = None
        self._small_inputs = 0

    def _ready(self) -> _Filter:
        if self._tables is not None:
            fingerprints, key_ids, texts = self._tables()
            self._fingerprints, self._key_ids, self._texts = fingerprints, key_ids, texts
            self._filter = _Filter(fingerprints)
            self._tables = None
        return cast(_Filter, self._filter)

    def __len__(self) -> int:
        return self._count

    def key_indexes(self) -> list[int]:
        """The key index of every key it holds."""
        self._ready()
        return list(self._key_ids.tolist())

    def spans(self, block: bytes) -> list[tuple[int, int, int]]:
        """(start, end, key index) of every occurrence that fills its token."""
        if not self._count or not block:
            return []
        key_filter = self._ready()
        if len(block) < SMALL_INPUT:
            # One line: a dict lookup beats numpy's cost per call, but the dict costs a read of every key:
            # it is made once inputs have been small many times (a stream of lines), not for a file's last block.
            if self._by_text is not None:
                return self._spans_of_line(block, self._by_text)
            self._small_inputs += 1
            if self._small_inputs > _SMALL_INPUTS_BEFORE_DICT or self._count <= _KEYS_ALWAYS_IN_DICT:
                self._by_text = dict(zip(self._texts, self._key_ids.tolist(), strict=True))
                return self._spans_of_line(block, self._by_text)
        data = np.frombuffer(block, dtype=np.uint8)
        lowered = _lowered(data)
        starts, ends = [], []
        if self._label_counts:
            first, last = _dotted_spans(data, *_runs(_is_host(lowered[: len(data)])), self._label_counts)
            starts.append(first)
            ends.append(last)
        if self._has_hex:
            first, last = _runs(_is_hex(lowered[: len(data)]))
            whole = np.isin(last - first, HASH_LENGTHS)
            starts.append(first[whole])
            ends.append(last[whole])
        span_starts, span_ends = np.concatenate(starts), np.concatenate(ends)
        fingerprints = _fingerprints(lowered, span_starts, span_ends)
        maybe = np.flatnonzero(key_filter.may_hold(fingerprints))
        if not len(maybe):
            return []
        return self._confirm(block, span_starts[maybe], span_ends[maybe], fingerprints[maybe])

    def _spans_of_line(self, block: bytes, by_text: dict[str, int]) -> list[tuple[int, int, int]]:
        """What ``spans`` finds, the same spans looked up by their text in
        ``by_text`` (key -> index)."""
        lowered = block.lower()
        spans: list[tuple[int, int]] = []
        if self._label_counts:
            # Single words are most tokens: when no key is one, they are not looked at.
            tokens = _DOTTED_RUNS if self._label_counts[0] == 1 else _DOTTED_RUNS_WITH_A_DOT
            for token in tokens.finditer(lowered):
                runs, at = [], token.start()
                for label in token.group().split(b"."):
                    runs.append((at, at + len(label)))
                    at += len(label) + 1
                for count in self._label_counts:
                    spans += [(runs[i][0], runs[i + count - 1][1]) for i in range(len(runs) - count + 1)]
        if self._has_hex:
            spans += [run.span() for run in _HASH_RUN.finditer(lowered)]
        found = []
        for start, end in spans:
            # The span is host characters and dots, or hex digits: ASCII.
            index = by_text.get(lowered[start:end].decode("ascii"))
            if index is not None:
                found.append((start, end, index))
        return found

    def _confirm(self, block: bytes, starts: Any, ends: Any, fingerprints: Any) -> list[tuple[int, int, int]]:
        """The spans whose text is a key's: equal fingerprints are only a hint."""
        table = self._fingerprints
        slots = np.searchsorted(table, fingerprints)
        equal = np.flatnonzero(table[np.minimum(slots, len(table) - 1)] == fingerprints)
        found = []
        texts = self._texts
        for start, end, fingerprint, first_slot in zip(
            starts[equal].tolist(),
            ends[equal].tolist(),
            fingerprints[equal].tolist(),
            slots[equal].tolist(),
            strict=True,
        ):
            slot = first_slot
            text = b""
            while slot < len(table) and int(table[slot]) == fingerprint:
                text = text or block[start:end].lower()
                if text == texts[slot].encode("ascii"):
                    found.append((start, end, int(self._key_ids[slot])))
                slot += 1
        return found

    def tables(self) -> Tables:
        """The fingerprints (sorted), the key index of each, and each key's text."""
        self._ready()
        return self._fingerprints, self._key_ids, self._texts

    def __getstate__(self) -> tuple[object, ...]:
        return (self._label_counts, self._has_hex, self._count, self.tables())

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        label_counts, has_hex, count, tables = state
        self._start(label_counts, has_hex, count, lambda: tables)


Tables = tuple[Any, Any, Sequence[str]]  # fingerprints, key indexes, texts: one row a key, in fingerprint order
_SMALL_INPUTS_BEFORE_DICT = 64
_KEYS_ALWAYS_IN_DICT = 50_000


class _Filter:
    """A bitmap over the fingerprints' top bits, a byte a slot (one gather to
    test): most spans are no key, and this is far cheaper than a search of
    the sorted table."""

    __slots__ = ("_shift", "_slots")

    def __init__(self, fingerprints: Any) -> None:
        bits = max(16, int(len(fingerprints) * _FILTER_SLOTS_PER_KEY).bit_length())
        self._shift = np.uint64(64 - bits)
        self._slots = np.zeros(1 << bits, dtype=bool)
        self._slots[fingerprints >> self._shift] = True

    def may_hold(self, fingerprints: Any) -> Any:
        return self._slots[fingerprints >> self._shift]


def _lowered(data: Any) -> Any:
    """ASCII-lowered copy of ``data`` with a word of zeros after it, so that
    a word can be read at any offset."""
    lowered = np.zeros(len(data) + _WORD, dtype=np.uint8)
    upper = (data - np.uint8(ord("A"))) < 26
    np.bitwise_or(data, upper.view(np.uint8) << 5, out=lowered[: len(data)])
    return lowered


def _is_host(lowered: Any) -> Any:
    """[a-z0-9_-], in ASCII-lowered bytes (arithmetic: quicker than a table)."""
    return (
        ((lowered - np.uint8(ord("a"))) < 26)
        | ((lowered - np.uint8(ord("0"))) < 10)
        | (lowered == ord("_"))
        | (lowered == ord("-"))
    )


def _is_hex(lowered: Any) -> Any:
    return ((lowered - np.uint8(ord("0"))) < 10) | ((lowered - np.uint8(ord("a"))) < 6)


def _fingerprints(lowered: Any, starts: Any, ends: Any) -> Any:
    """A span's length, first and last word (one word when it is shorter),
    mixed into 64 bits; ``lowered`` ends in a word of padding."""
    words = np.lib.stride_tricks.as_strided(
        np.frombuffer(lowered.data, dtype=np.uint64, count=1), shape=(len(lowered) - _WORD + 1,), strides=(1,)
    )
    lengths = (ends - starts).astype(np.uint64)
    # Bytes past a short span's end are not the span's: mask them off.
    short_mask = (np.uint64(1) << (np.minimum(lengths, _WORD - 1) * np.uint64(8))) - np.uint64(1)
    mask = np.where(lengths >= _WORD, np.uint64(0xFFFFFFFFFFFFFFFF), short_mask)
    first = words[starts] & mask
    last = words[np.maximum(ends - _WORD, starts)] & mask
    mixed = first * _MIX[0] ^ last * _MIX[1] ^ lengths * _MIX[2]
    mixed ^= mixed >> np.uint64(31)
    return mixed * _MIX[1]


def _key_fingerprints(keys: list[str]) -> Any:
    """The fingerprints of the keys, laid end to end as one buffer."""
    encoded = [key.encode("ascii") for key in keys]
    lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
    ends = np.cumsum(lengths)
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    return _fingerprints(_lowered(data), ends - lengths, ends)


def _runs(member: Any) -> tuple[Any, Any]:
    """Starts and ends (exclusive) of the runs of True."""
    padded = np.zeros(len(member) + 2, dtype=bool)
    padded[1:-1] = member
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[0::2], edges[1::2]


def _dotted_spans(data: Any, starts: Any, ends: Any, label_counts: tuple[int, ...]) -> tuple[Any, Any]:
    """Each run with the next n - 1 runs, when single dots join them all."""
    if not len(starts):
        return starts, ends
    joined = np.zeros(len(starts), dtype=bool)
    gaps = starts[1:] - ends[:-1]
    joined[1:] = (gaps == 1) & (data[np.minimum(ends[:-1], len(data) - 1)] == _DOT)
    # Runs of one dotted token share a token number.
    token = np.cumsum(~joined)
    span_starts, span_ends = [], []
    for count in label_counts:
        if count > len(starts):
            break
        first = np.flatnonzero(token[: len(token) - count + 1] == token[count - 1 :])
        span_starts.append(starts[first])
        span_ends.append(ends[first + count - 1])
    if not span_starts:
        return starts[:0], ends[:0]
    return np.concatenate(span_starts), np.concatenate(span_ends)
