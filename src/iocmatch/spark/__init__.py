"""Scan a column of a Spark DataFrame for indicators: one output row per hit.

>>> from iocmatch.spark import match_dataframe
>>> hits = match_dataframe(spark.read.text("logs/"), "apt10.matcher")

Each partition goes through Python as Arrow record batches (``mapInArrow``):
a batch's rows are scanned as one block of lines by the block engine, and
only the rows with a hit come back, with every column of the row. The
matcher travels as its file (``shipping.py``) or as a pickled Matcher, and
each executor's Python worker loads it once. Before anything is scanned, one
small job checks that the executors' Python has this iocmatch
(``executors.py``). Works on streaming DataFrames as on batch ones.

Needs ``pip install iocmatch[spark]`` (pyspark and pyarrow) and a classic
Spark session (Spark Connect has neither broadcast variables nor addFile).
Nothing else in iocmatch imports this package.
"""

from __future__ import annotations

import os

from .._matcher.matcher import Matcher

try:
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("iocmatch.spark needs pyspark: pip install 'iocmatch[spark]'") from exc

from . import batches
from .executors import ExecutorEnvironmentError, check_executors, guarded
from .shipping import ship

DEFAULT_PREFIX = "match_"
_STRINGS = ArrayType(StringType(), containsNull=False)
# The fields of a Match that become columns, as in Match.to_dict(); the line
# number is not among them: a row of the input is the line.
HIT_FIELDS = (
    StructField("start", IntegerType(), nullable=False),
    StructField("end", IntegerType(), nullable=False),
    StructField("text", StringType(), nullable=False),
    StructField("kind", StringType(), nullable=False),
    StructField("value", StringType(), nullable=False),
    StructField("indicators", _STRINGS, nullable=False),
    StructField("attribution", _STRINGS, nullable=False),
    StructField("sources", _STRINGS, nullable=False),
)


def output_columns(prefix: str = DEFAULT_PREFIX) -> list[str]:
    """The names of the columns ``match_dataframe`` adds, in order."""
    return [prefix + field.name for field in HIT_FIELDS]


def match_dataframe(
    df: DataFrame,
    matcher: Matcher | str | os.PathLike[str],
    column: str = "value",
    *,
    prefix: str = DEFAULT_PREFIX,
) -> DataFrame:
    """One row per hit in ``df[column]``: every input column, then the hit's
    ``start``, ``end``, ``text``, ``kind``, ``value``, ``indicators``,
    ``attribution`` and ``sources``, each name preceded by ``prefix``
    (``match_start``, ...; ``prefix=""`` gives the names of ``Match.to_dict()``).

    ``matcher`` is a Matcher or the path of a matcher file, checked here on
    the driver (so only the driver needs the key) and copied: the file may
    change or go once this returns. A column that is
    not a string is cast to one, as Spark's ``CAST(... AS STRING)`` does; a
    null holds no hit. Rows without a hit give no row.

    Raises ValueError when ``column`` is missing, or when an input column
    already has the name (in any case) of a column this adds: pass another ``prefix``.
    """
    if column not in df.columns:
        raise ValueError(f"no column {column!r} to scan; the columns are {', '.join(map(repr, df.columns))}")
    taken = {name.lower() for name in df.columns}
    clashing = [name for name in output_columns(prefix) if name.lower() in taken]
    if clashing:
        raise ValueError(
            f"the input already has column(s) {', '.join(clashing)}, which match_dataframe adds: "
            "rename them or pass another prefix"
        )
    check_executors(df.sparkSession)
    shipped = ship(df.sparkSession, matcher)
    # mapInArrow looks its columns up by name, where a dot reads as a field of a
    # struct and a name may repeat: the columns go by names of position, then
    # get theirs back. The text travels as the batches' last column.
    names = [f"c{index}" for index in range(len(df.columns) + 1)]
    text = df.select("*", F.col(_quoted(column)).cast(StringType())).toDF(*names)
    fields = zip(names[:-1], df.schema.fields, strict=True)
    inputs = [StructField(name, field.dataType, field.nullable) for name, field in fields]
    hits = [StructField(prefix + field.name, field.dataType, field.nullable) for field in HIT_FIELDS]
    scan = guarded(batches.scan_partition, tuple(shipped), prefix)
    return text.mapInArrow(scan, StructType([*inputs, *hits])).toDF(*df.columns, *output_columns(prefix))


def _quoted(name: str) -> str:
    """A column name as an expression: a dot or a space in it is part of the name."""
    return "`" + name.replace("`", "``") + "`"


__all__ = [
    "DEFAULT_PREFIX",
    "HIT_FIELDS",
    "ExecutorEnvironmentError",
    "check_executors",
    "match_dataframe",
    "output_columns",
]
