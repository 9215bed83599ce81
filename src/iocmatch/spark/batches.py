"""An Arrow record batch of rows scanned through the block path, on an executor.

The batch's text column is joined into one block of lines, one row a line,
and scanned as a log file is (one engine scan a block, only the lines that
may hold a hit decoded). Each hit line is mapped back to its row. A row that
holds a newline would be two lines: it is scanned alone, as ``scan_line``
scans it. Either way a row gets exactly ``scan_line``'s matches.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute

from .._common.model import Match
from .._matcher.matcher import Matcher
from .shipping import Shipped, matcher_of

_STRINGS = pa.list_(pa.field("element", pa.string(), nullable=False))
# The columns of a hit, as Match.to_dict() names them, without the line: a row is the line.
HIT_FIELDS = (
    pa.field("start", pa.int32(), nullable=False),
    pa.field("end", pa.int32(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("value", pa.string(), nullable=False),
    pa.field("indicators", _STRINGS, nullable=False),
    pa.field("attribution", _STRINGS, nullable=False),
    pa.field("sources", _STRINGS, nullable=False),
)


def row_matches(matcher: Matcher, values: Sequence[bytes | None]) -> list[tuple[int, Match]]:
    """(row, match) for every match in ``values``, by row, each row's
    matches in ``scan_line``'s order; a None row holds none."""
    if None not in values:
        block = b"\n".join(values)  # type: ignore[arg-type]  # no None, as just seen
        if block.count(b"\n") == len(values) - 1:  # the common case: no row holds a newline, each row a line
            lines = matcher.hit_lines(io.BytesIO(block))
            return [(number - 1, match) for number, _, _, matches in lines for match in matches]
    in_block: list[int] = []  # the row of each line of the block
    alone: list[int] = []
    for row, value in enumerate(values):
        if value is None:
            continue
        (alone if b"\n" in value else in_block).append(row)
    found: list[tuple[int, Match]] = []
    if in_block:
        joined = io.BytesIO(b"\n".join([values[row] or b"" for row in in_block]))
        # A line longer than the line window comes window by window, each with its own matches.
        for number, _, _, matches in matcher.hit_lines(joined):
            row = in_block[number - 1]
            found.extend((row, match) for match in matches)
    for row in alone:
        found.extend((row, match) for match in matcher.scan_line(values[row]))
    if alone:
        found.sort(key=lambda entry: entry[0])  # stable: each row's matches keep their order
    return found


def hit_batches(matcher: Matcher, batches: Iterator[pa.RecordBatch], prefix: str) -> Iterator[pa.RecordBatch]:
    """For each batch that holds a hit, a batch of one row per hit: the
    row's columns, then the hit's, each name after ``prefix``. A batch's
    last column is the text to scan, its others the row's (by position:
    names may repeat)."""
    schema: pa.Schema | None = None
    for batch in batches:
        found = row_matches(matcher, _texts(batch.column(batch.num_columns - 1)))
        if not found:
            continue
        if schema is None:
            schema = pa.schema([*batch.schema][:-1] + [field.with_name(prefix + field.name) for field in HIT_FIELDS])
        for part in _parts(found, _row_sizes(batch)):
            rows = pa.array([row for row, _ in part], type=pa.int64())
            inputs = [batch.column(index).take(rows) for index in range(batch.num_columns - 1)]
            hits = _hit_columns([match for _, match in part], schema, len(inputs))
            yield pa.RecordBatch.from_arrays([*inputs, *hits], schema=schema)


def _texts(column: pa.Array) -> list[bytes | None]:
    """The rows' text as UTF-8 bytes. Spark casts binary to string keeping its
    bytes; where they are not UTF-8, the row is read as Spark hands it to
    Python (one U+FFFD a bad sequence), so offsets count the characters of
    the value the output shows."""
    values: list[bytes | None] = column.cast(pa.binary()).to_pylist()
    try:
        column.cast(pa.string()).validate(full=True)
    except pa.ArrowInvalid:
        return [None if value is None else value.decode("utf-8", "replace").encode("utf-8") for value in values]
    return values


# Each hit copies its row: an output batch is cut before it passes this many
# bytes (Arrow's string columns hold at most 2 GiB a batch).
OUTPUT_BYTES = 64 << 20


def _row_sizes(batch: pa.RecordBatch) -> list[int]:
    """About how many bytes a copy of each row takes: its text (the scanned
    column is one of its columns), and an equal share of all its columns."""
    text = batch.column(batch.num_columns - 1)
    lengths = pa.compute.binary_length(text.cast(pa.binary())).fill_null(0).to_pylist()
    others = sum(batch.column(index).nbytes for index in range(batch.num_columns - 1))
    share = others // max(1, batch.num_rows)
    return [share + length for length in lengths]


def _parts(found: list[tuple[int, Match]], sizes: list[int]) -> Iterator[list[tuple[int, Match]]]:
    part: list[tuple[int, Match]] = []
    size = 0
    for entry in found:
        row_size = sizes[entry[0]] + 256  # and the hit's own columns
        if part and size + row_size > OUTPUT_BYTES:
            yield part
            part, size = [], 0
        part.append(entry)
        size += row_size
    if part:
        yield part


def _hit_columns(matches: list[Match], schema: pa.Schema, first: int) -> list[pa.Array]:
    starts, ends, texts, kinds, values, indicators, attribution, sources = zip(
        *[
            (m.start, m.end, m.text, m.kind, m.value, list(m.indicators), list(m.attribution), list(m.sources))
            for m in matches
        ],
        strict=True,
    )
    columns = (starts, ends, texts, kinds, values, indicators, attribution, sources)
    return [pa.array(column, type=schema.field(first + index).type) for index, column in enumerate(columns)]


def scan_partition(
    batches: Iterator[pa.RecordBatch], shipped: tuple[Any, ...], prefix: str
) -> Iterator[pa.RecordBatch]:
    """A task's work: the partition's batches scanned with the shipped matcher."""
    return hit_batches(matcher_of(Shipped(*shipped)), batches, prefix)
