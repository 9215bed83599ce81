#!/usr/bin/env python3
"""Three ways to find a feed's indicators in a DataFrame of log lines, side by side on Spark.

    .venv/bin/python benchmarks/spark_paths.py --indicators 10000,1000000 --lines 1000000 --repeat 3

For each feed size, the corpus of ``corpus.py`` (cached as ``compare.py``
caches it) is compiled once into a matcher file and its log written as
Parquet with a line number a row; the rows are cached in ``--partitions``
partitions on ``local[2]``. Then, taking turns, ``--repeat`` times each:

* **batch**: ``iocmatch.spark.match_dataframe`` (partitions as Arrow
  batches, a batch scanned as one block);
* **udf**: a Python UDF that calls ``Matcher.scan_line`` on each row and
  returns its hits, turned into rows by ``inline``: how ``match_dataframe``
  worked before the batch path;
* **join**: the lakehouse way, with Spark built-ins only:
  ``regexp_extract_all`` pulls domain-, address- and hash-shaped strings out
  of each line, ``explode`` makes a row of each, and an equi-join with the
  feed's values (broadcast) keeps those that are one;
* **floor**: ``mapInArrow`` with a function that reads every batch and
  returns nothing: what Spark's own hand-over of the rows to Python costs,
  under any batch path.

Each timed run writes every hit column to Spark's ``noop`` sink. Every path's
hits are then collected and checked against the corpus's ground truth
(``truth.tsv``): batch and udf must give exactly the planted matches (line,
start, end, value); the join's recall is the share of planted matches whose
line and value it found, and its other hits are counted. Exit 1 when batch
or udf misses or adds a match.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, StructType

import corpus as corpora
import iocmatch
from iocmatch.spark import HIT_FIELDS, match_dataframe
from iocmatch.spark.shipping import Shipped, matcher_of, ship

DEFAULT_CACHE = Path(os.environ.get("IOCMATCH_BENCH_CACHE", Path(tempfile.gettempdir()) / "iocmatch-bench"))
LOOPBACK = "127.0.0.1"
# What the join extracts (Java regular expressions): names with a dot and a
# last label of letters, dotted quads, and runs of 32, 40 or 64 hex digits.
EXTRACTED = (
    r"(?i)(?<![a-z0-9.-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?![a-z0-9-])",
    r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?![0-9])",
    r"(?i)(?<![0-9a-f])(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})(?![0-9a-f])",
)
PATHS = ("batch", "udf", "join", "floor")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("IOCMATCH_KEY_FILE", str(args.cache / "matcher.key"))
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("iocmatch spark paths")
        .config("spark.driver.host", LOOPBACK)
        .config("spark.driver.bindAddress", LOOPBACK)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "6g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    failed = False
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores; Spark {spark.version} local[2]")
    for count in args.indicators:
        failed |= _compare(spark, args, count)
    spark.stop()
    return 1 if failed else 0


def _compare(spark: SparkSession, args: argparse.Namespace, count: int) -> bool:
    data = corpora.ensure(args.cache, count, args.lines)
    matcher_path = _compiled(data.directory)
    lines = spark.read.parquet(str(_as_parquet(data.directory))).repartition(args.partitions).cache()
    rows = lines.count()
    truth = _truth(data.directory)
    values = spark.createDataFrame([(value,) for value in _feed_values(data.directory)], "indicator string")
    made = {
        "batch": lambda: _batch(lines, matcher_path),
        "udf": lambda: _udf(lines, matcher_path),
        "join": lambda: _join(lines, values),
        "floor": lambda: lines.mapInArrow(_nothing, lines.schema),
    }
    seconds: dict[str, list[float]] = {path: [] for path in PATHS}
    for path in PATHS:  # once untimed: workers started, the matcher loaded, the executors checked
        made[path]().write.format("noop").mode("overwrite").save()
    for _ in range(args.repeat):
        for path in PATHS:
            started = time.perf_counter()
            made[path]().write.format("noop").mode("overwrite").save()
            seconds[path].append(time.perf_counter() - started)
    print(f"\n## {count:,} indicators, {rows:,} lines ({len(truth):,} planted matches)\n")
    print("| path | median (runs) | rows/s | × udf | recall | other hits |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    failed = False
    udf_median = statistics.median(seconds["udf"])
    for path in PATHS:
        if path == "floor":
            median = statistics.median(seconds[path])
            runs = ", ".join(f"{value:.2f}" for value in seconds[path])
            print(f"| {path} | {median:.2f} s ({runs}) | {rows / median:,.0f} | {udf_median / median:.1f} | | |")
            continue
        found = _hits(made[path](), path)
        if path == "join":
            pairs = {(line, value) for line, _, _, value in truth}
            recall = len(pairs & found) / len(pairs)
            other = len(found - pairs)
        else:
            recall, other = len(found & truth) / len(truth), len(found - truth)
            failed |= found != truth
        median = statistics.median(seconds[path])
        runs = ", ".join(f"{value:.2f}" for value in seconds[path])
        print(
            f"| {path} | {median:.2f} s ({runs}) | {rows / median:,.0f} | {udf_median / median:.1f} "
            f"| {recall:.3f} | {other:,} |"
        )
    lines.unpersist()
    return failed


def _batch(lines: DataFrame, matcher_path: Path) -> DataFrame:
    return match_dataframe(lines, matcher_path)


def _udf(lines: DataFrame, matcher_path: Path) -> DataFrame:
    shipped = ship(lines.sparkSession, matcher_path)
    fields = StructType(list(HIT_FIELDS))
    scan = F.udf(partial(_row_hits, tuple(shipped)), ArrayType(fields, containsNull=False), useArrow=False)
    hits = lines.select("*", F.inline(scan(F.col("value"))))
    return hits.toDF(*lines.columns, *("match_" + field.name for field in HIT_FIELDS))


def _row_hits(shipped: tuple[Any, ...], line: str | None) -> list[tuple[Any, ...]]:
    if line is None:
        return []
    return [
        (m.start, m.end, m.text, m.kind, m.value, list(m.indicators), list(m.attribution), list(m.sources))
        for m in matcher_of(Shipped(*shipped)).scan_line(line)
    ]


def _join(lines: DataFrame, values: DataFrame) -> DataFrame:
    extracted = F.flatten(F.array(*(F.regexp_extract_all("value", F.lit(pattern), F.lit(0)) for pattern in EXTRACTED)))
    candidates = lines.select("line", "value", F.explode(extracted).alias("candidate"))
    candidates = candidates.withColumn("indicator", F.lower("candidate"))
    return candidates.join(F.broadcast(values), "indicator")


def _nothing(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        batch.column(batch.num_columns - 1)  # each batch reaches Python, and is dropped
    return iter(())


def _hits(df: DataFrame, path: str) -> set[tuple[Any, ...]]:
    if path == "join":
        return {(row["line"], row["indicator"]) for row in df.select("line", "indicator").collect()}
    selected = df.select("line", "match_start", "match_end", "match_value").collect()
    return {(row[0], row[1], row[2], row[3]) for row in selected}


def _truth(directory: Path) -> set[tuple[int, int, int, str]]:
    found = set()
    for entry in (directory / "truth.tsv").read_text(encoding="utf-8").splitlines():
        line, start, end, value, _ = entry.split("\t")
        found.add((int(line), int(start), int(end), value))
    return found


def _feed_values(directory: Path) -> list[str]:
    """The feed's values as the join compares them: lower case, networks as written."""
    indicators = iocmatch.load(directory / corpora.FEED)
    return sorted({atom.value.lower() for item in indicators.indicators for clause in item.clauses for atom in clause})


def _compiled(directory: Path) -> Path:
    path = directory / "matcher.iocm"
    if not path.exists():
        command = [sys.executable, "-m", "iocmatch", "compile", "-i", str(directory / corpora.FEED), "-o", str(path)]
        subprocess.run(command, check=True)
    return path


def _as_parquet(directory: Path) -> Path:
    path = directory / "log.parquet"
    if not path.exists():
        text = (directory / corpora.LOG).read_text(encoding="utf-8").splitlines()
        table = pa.table({"line": pa.array(range(1, len(text) + 1), pa.int64()), "value": pa.array(text)})
        pq.write_table(table, path)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--indicators", type=lambda text: [int(n) for n in text.split(",")], default=[10_000, 1_000_000]
    )
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    return parser


if __name__ == "__main__":
    sys.exit(main())
