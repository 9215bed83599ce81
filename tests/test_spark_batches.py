"""The Arrow batches Spark hands an executor, scanned through the block path:
each row gets exactly the matches ``scan_line`` finds in it, and each hit
row carries its own columns. No Spark session is needed: these are the
functions a task runs."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch.spark import batches
from iocmatch.spark.batches import HIT_FIELDS, hit_batches, row_matches
from tests.conftest import bundle, indicator

MATCHER = iocmatch.compile(
    iocmatch.load(
        bundle(
            indicator("[domain-name:value = 'evil.example']", 1),
            indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
            indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']", 3),
            indicator("[url:value = 'http://bad.example/a?b=c']", 4),
        )
    )
)
PIECES = [
    "evil.example",
    "x.evil.example",
    "evil.example.au",
    "198.51.100.7",
    "198.51.100.7.5",
    "0123456789ABCDEF0123456789ABCDEF",
    "http://bad.example/a?b=c",
    "bad.example:80/a?b=c",
    "(4)evil(7)example(0)",
    "evil%2Eexample",
    " ",
    "\t",
    "\n",
    "\r",
    "é",
    "✓",
    "{",
    '"host":"bad.example","uri":"/a?b=c"',
]


def _row(pieces: list[str], raw: bytes) -> bytes:
    return "".join(pieces).encode("utf-8") + raw


rows = st.lists(
    st.one_of(
        st.none(),
        st.builds(
            _row,
            st.lists(st.sampled_from(PIECES), max_size=6),
            st.sampled_from([b"", b"\xff", b"\xc3", b"\r", b"\r\n", b"\n"]),
        ),
    ),
    max_size=12,
)


def expected(values: Sequence[bytes | None]) -> list[tuple[int, iocmatch.Match]]:
    return [(row, match) for row, value in enumerate(values) for match in MATCHER.scan_line(value)]


def _spans(found: list[tuple[int, iocmatch.Match]]) -> list[tuple[object, ...]]:
    # The line number is the block's, not the row's: a Spark row has none.
    return [(row, m.start, m.end, m.text, m.kind, m.value, m.indicators) for row, m in found]


@settings(max_examples=300, deadline=None)
@given(rows)
def test_each_row_gets_exactly_the_matches_scan_line_finds(values: list[bytes | None]) -> None:
    assert _spans(row_matches(MATCHER, values)) == _spans(expected(values))


def test_rows_that_hold_newlines_or_none_keep_their_place() -> None:
    values = [
        b"evil.example",
        None,
        b"a\nevil.example",
        b"",
        b"198.51.100.1\r",
        b"x\n\n0123456789abcdef0123456789abcdef",
    ]
    found = _spans(row_matches(MATCHER, values))
    assert [(row, text) for row, _, _, text, *_ in found] == [
        (0, "evil.example"),
        (2, "evil.example"),
        (4, "198.51.100.1"),
        (5, "0123456789abcdef0123456789abcdef"),
    ]
    assert found == _spans(expected(values))


@pytest.mark.slow
def test_a_row_longer_than_the_line_window_is_scanned_whole() -> None:
    long_row = b"x " * (3 << 20) + b"evil.example " + b"y " * (1 << 20) + b"198.51.100.9"
    values = [b"first evil.example", long_row, b"last 198.51.100.1"]
    found = _spans(row_matches(MATCHER, values))
    assert [(row, text) for row, _, _, text, *_ in found] == [
        (0, "evil.example"),
        (1, "evil.example"),
        (1, "198.51.100.9"),
        (2, "198.51.100.1"),
    ]
    assert found == _spans(expected(values))


def test_a_hit_row_carries_its_own_columns_by_position() -> None:
    batch = pa.RecordBatch.from_arrays(
        [
            pa.array([1, 2, 3, 4], pa.int32()),
            pa.array([["a"], [], None, ["b", "c"]], pa.list_(pa.string())),
            pa.array(["x", "y", "z", "w"]),  # a second column named "id": names may repeat
            pa.array(["see evil.example and 198.51.100.2", "nothing", None, "1.evil.example"]),
        ],
        names=["id", "tags", "id", "text to scan"],
    )

    (out,) = list(hit_batches(MATCHER, iter([batch]), "match_"))

    assert out.schema.names == ["id", "tags", "id", *("match_" + field.name for field in HIT_FIELDS)]
    assert [field.type for field in out.schema][3:] == [field.type for field in HIT_FIELDS]
    rows = out.to_pylist()  # duplicate names: to_pylist keeps the last
    assert [(r["id"], r["tags"], r["match_text"], r["match_kind"]) for r in rows] == [
        ("x", ["a"], "evil.example", "domain-name"),
        ("x", ["a"], "198.51.100.2", "ipv4-addr"),
        ("w", ["b", "c"], "evil.example", "domain-name"),
    ]
    assert out.column(0).to_pylist() == [1, 1, 4]
    assert rows[0]["match_start"] == 4
    assert rows[0]["match_end"] == 16
    assert rows[2]["match_indicators"] == list(MATCHER.scan_line("1.evil.example")[0].indicators)


def test_batches_without_a_hit_give_nothing() -> None:
    batch = pa.RecordBatch.from_arrays([pa.array(["nothing here", None])], names=["value"])
    assert list(hit_batches(MATCHER, iter([batch, batch]), "match_")) == []


def test_text_that_is_not_utf8_is_read_as_spark_shows_it() -> None:
    # Spark's CAST(binary AS STRING) keeps the bytes; the row it hands back shows
    # one U+FFFD for each bad sequence, and the offsets count its characters.
    raw = [b"\xe2\x82 evil.example", b"\xff\xfe 198.51.100.1", b"ok evil.example"]
    text = pa.array(raw, pa.binary()).cast(pa.string(), safe=False)
    batch = pa.RecordBatch.from_arrays([text], names=["raw"])
    (out,) = list(hit_batches(MATCHER, iter([batch]), ""))
    assert out.column("text").to_pylist() == ["evil.example", "198.51.100.1", "evil.example"]
    shown = [value.decode("utf-8", "replace") for value in raw]
    assert [shown[0][2:14], shown[1][3:15]] == ["evil.example", "198.51.100.1"]
    assert out.column("start").to_pylist() == [2, 3, 3]


def test_hits_that_copy_a_large_row_many_times_are_cut_into_several_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each hit copies its row: one batch of them all could pass what an Arrow string column holds.
    monkeypatch.setattr(batches, "OUTPUT_BYTES", 64 << 10)
    row = "evil.example " * 1000  # 13 KB, 1,000 hits
    batch = pa.RecordBatch.from_arrays([pa.array([1, 2]), pa.array(["none", row])], names=["id", "line"])

    out = list(hit_batches(MATCHER, iter([batch]), "match_"))

    assert len(out) > 100
    assert all(part.nbytes < (64 << 10) + len(row) * 2 for part in out)
    assert sum(part.num_rows for part in out) == 1000
    starts = [start for part in out for start in part.column("match_start").to_pylist()]
    assert starts == [13 * n for n in range(1000)]
    assert {value for part in out for value in part.column("id").to_pylist()} == {2}
