"""Scan a column of a Spark DataFrame for indicators: one output row per hit.

>>> from iocmatch.spark import match_dataframe
>>> hits = match_dataframe(spark.read.text("logs/"), "apt10.matcher")

A matcher file is checked on the driver with the key, then shipped as the
file (``SparkContext.addFile``): each executor's Python worker maps it the
first time a task needs it, checked against the driver's digest (no key on
the executors), reads only the tables its rows need, and shares the file's
pages with the other workers of its machine. A Matcher object is pickled
once on the driver and broadcast. Either is kept by each worker for every
later row, partition and task it runs.

Needs ``pip install iocmatch[spark]`` and a classic Spark session (Spark
Connect has neither broadcast variables nor addFile). Nothing else in iocmatch imports this module.
"""

from __future__ import annotations

import atexit
import os
import pickle
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ._common.errors import MatcherFileError
from ._matcher.file import load_matcher, matcher_digest
from ._matcher.matcher import Matcher

try:
    from pyspark import Broadcast, SparkFiles
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.types import ArrayType, IntegerType, StringType, StructField, StructType
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("iocmatch.spark needs pyspark: pip install 'iocmatch[spark]'") from exc

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

Hit = tuple[int, int, str, str, str, list[str], list[str], list[str]]


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
    shipped = _broadcast(df.sparkSession, matcher) if isinstance(matcher, Matcher) else _ship_file(df, matcher)
    scan = F.udf(partial(_hits_of, shipped), _hit_list(prefix), useArrow=False)
    # Only the scanned column travels to Python; the others stay in the JVM.
    return df.select("*", F.inline(scan(F.col(_quoted(column)).cast(StringType()))))


def _hit_list(prefix: str) -> ArrayType:
    fields = [StructField(prefix + field.name, field.dataType, field.nullable) for field in HIT_FIELDS]
    return ArrayType(StructType(fields), containsNull=False)


def _quoted(name: str) -> str:
    """A column name as an expression: a dot or a space in it is part of the name."""
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class _Shipped:
    """What each task receives of a matcher: the broadcast of its pickled
    bytes, or the name of its file among Spark's files and the digest the
    driver checked; and the key under which a worker keeps what it loaded."""

    key: str
    pickled: Broadcast[bytes] | None = None
    file_name: str = ""
    digest: bytes = b""


def _broadcast(spark: SparkSession, matcher: Matcher) -> _Shipped:
    pickled = spark.sparkContext.broadcast(pickle.dumps(matcher, protocol=pickle.HIGHEST_PROTOCOL))
    return _Shipped(uuid.uuid4().hex, pickled)


def _ship_file(df: DataFrame, path: str | os.PathLike[str]) -> _Shipped:
    """A copy of the file under a name of its own (two files of one name cannot both be Spark's),
    checked whole with the key (a damaged one is refused here, before a task runs), given to Spark:
    what is checked is what the executors read, whatever happens to the file after."""
    key = uuid.uuid4().hex
    staged = Path(_staging()) / f"{key}.iocm"
    try:
        shutil.copyfile(path, staged)
    except OSError as exc:
        raise MatcherFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        load_matcher(staged, check_all=True)
        digest = matcher_digest(staged)
    except MatcherFileError as exc:  # named as the file the caller gave
        staged.unlink(missing_ok=True)
        raise MatcherFileError(str(exc).replace(str(staged), os.fspath(path))) from None
    df.sparkSession.sparkContext.addFile(str(staged))
    return _Shipped(key, file_name=staged.name, digest=digest)


_STAGING: list[str] = []


def _staging() -> str:
    """A folder for the copies Spark serves to executors, removed when the driver exits."""
    if not _STAGING:
        folder = tempfile.mkdtemp(prefix="iocmatch-spark-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _STAGING.append(folder)
    return _STAGING[0]


# -- on the executors ------------------------------------------------------------

# The matchers this Python worker has unpickled, by broadcast. Spark reuses a
# worker for task after task, so each broadcast is unpickled once per worker.
_MATCHERS: dict[str, Matcher] = {}
_KEPT = 4  # a few DataFrames scanned side by side; the oldest is dropped first


def _matcher(shipped: _Shipped) -> Matcher:
    matcher = _MATCHERS.get(shipped.key)
    if matcher is None:
        if shipped.pickled is None:
            matcher = load_matcher(SparkFiles.get(shipped.file_name), digest=shipped.digest)
        else:
            matcher = pickle.loads(shipped.pickled.value)  # noqa: S301 - the driver's own broadcast of a Matcher
        if not isinstance(matcher, Matcher):
            raise TypeError(f"the broadcast holds a {type(matcher).__name__}, not a Matcher")
        while len(_MATCHERS) >= _KEPT:
            del _MATCHERS[next(iter(_MATCHERS))]
        _MATCHERS[shipped.key] = matcher
    return matcher


def _hits_of(shipped: _Shipped, line: str | None) -> list[Hit]:
    if line is None:
        return []
    return [
        (m.start, m.end, m.text, m.kind, m.value, list(m.indicators), list(m.attribution), list(m.sources))
        for m in _matcher(shipped).scan_line(line)
    ]
