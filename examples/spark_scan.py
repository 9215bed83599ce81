#!/usr/bin/env python3
"""Scan text logs with Spark for a campaign's indicators; write one record per hit.

Locally (iocmatch installed with its spark extra)::

    python examples/spark_scan.py --master 'local[2]' -o hits/ --format jsonl data/samples/*.log

Each record holds ``file`` (the log's URI), ``line`` (the log line), and the
hit's ``match_start``, ``match_end``, ``match_text``, ``match_kind``,
``match_value``, ``match_indicators``, ``match_attribution`` and
``match_sources``. Spark splits files across tasks, so line numbers are not
known: the line itself says where the hit is.

As a stream (``--stream``), the one LOG folder is watched and each file that
arrives in it is scanned once; ``--checkpoint`` is where Spark records what
it read and committed, so that a job stopped and started again neither
misses a file nor writes a hit twice::

    python examples/spark_scan.py --master 'local[2]' --stream --checkpoint cp/ -o hits/ incoming/

The indicators are a feed (``-i``, repeatable; default the bundled APT10 data),
compiled on the driver, or a matcher file from ``iocmatch compile`` (``-m``),
checked with the key on the driver and shipped to the executors as the file.
Either way the executors need neither feed nor key.

On a cluster, the executors need iocmatch and its compiled dependencies
(pyahocorasick; hyperscan on Linux x86_64) for the same Python as the driver.
Ship a packed environment built from the wheel::

    python -m pip wheel --no-deps -w dist .
    python -m venv env && env/bin/pip install 'dist/iocmatch-0.1.0-py3-none-any.whl[spark]' venv-pack
    env/bin/venv-pack -o env.tar.gz
    spark-submit --master yarn --deploy-mode cluster \\
        --archives env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \\
        --files apt10.matcher,matcher.key \\
        --conf spark.yarn.appMasterEnv.IOCMATCH_KEY_FILE=matcher.key \\
        examples/spark_scan.py -m apt10.matcher -o hdfs:///hits/2024-05-01 hdfs:///logs/proxy/2024-05-01/

(where the nodes already have the dependencies, ``--py-files iocmatch.zip``,
the wheel under a ``.zip`` name, is enough). Before it scans, the job checks
that the executors' Python has this iocmatch, and stops with a message
saying what to mend when it has not. ``--files`` places the matcher
file, and the key it was signed with, in the driver's working directory; this
script looks there for a ``-m`` path that does not exist as given. In client
mode the driver is the submitting machine and reads both where they are. A key
must not be readable by other users (mode 0600), so if the cluster hands files
out readable by all, compile on the driver instead: ``--files feed.json`` and
``-i feed.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pyspark import SparkFiles
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

import iocmatch
from iocmatch.spark import match_dataframe

FORMATS = ("parquet", "jsonl")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.matcher and args.registry_aliases:
        parser.error("argument --registry-aliases: not allowed with -m (chosen when the matcher was compiled)")
    if args.stream and not args.checkpoint:
        parser.error("argument --stream: needs --checkpoint, where Spark records what it has written")
    if args.stream and len(args.logs) != 1:
        parser.error("argument --stream: takes one LOG folder, where the files arrive")
    if not args.stream and (args.checkpoint or args.once):
        parser.error("arguments --checkpoint and --once: only with --stream")
    builder = SparkSession.builder.appName("iocmatch scan")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        if args.stream:
            _write_stream(spark, args)
        else:
            hits = scan(spark.read.text(list(args.logs)), _matcher(args))
            writer = hits.write.mode("overwrite" if args.overwrite else "errorifexists")
            if args.format == "parquet":
                writer.parquet(args.output)
            else:
                writer.json(args.output)
    finally:
        spark.stop()
    return 0


def scan(lines: DataFrame, matcher: iocmatch.Matcher | str) -> DataFrame:
    """One row per hit in ``lines`` (Spark's text source, batch or stream)."""
    named = lines.select(F.col("_metadata.file_path").alias("file"), F.col("value").alias("line"))
    return match_dataframe(named, matcher, column="line")


def _write_stream(spark: SparkSession, args: argparse.Namespace) -> None:
    """Each new file under the LOG folders, scanned once: the checkpoint
    records which files were read and which output was committed, so a
    restart neither misses a file nor writes a hit twice."""
    (folder,) = args.logs
    lines = spark.readStream.format("text").load(folder)
    writer = (
        scan(lines, _matcher(args))
        .writeStream.format("json" if args.format == "jsonl" else "parquet")
        .option("path", args.output)
        .option("checkpointLocation", args.checkpoint)
    )
    # --once: what is there now, then stop.
    trigger = {"availableNow": True} if args.once else {"processingTime": f"{args.every} seconds"}
    writer.trigger(**trigger).start().awaitTermination()


def _matcher(args: argparse.Namespace) -> iocmatch.Matcher | str:
    if args.matcher:
        return _on_driver(args.matcher)  # checked on the driver, then shipped to the executors as the file
    sources = [_on_driver(source) for source in args.indicators or [str(iocmatch.campaign_data_path())]]
    indicators = iocmatch.load(*sources)
    print(f"{indicators.report.compiled} of {indicators.report.read} indicators compiled", file=sys.stderr)
    return iocmatch.compile(indicators, registry_aliases=args.registry_aliases)


def _on_driver(path: str) -> str:
    """``path`` as given, else the copy ``spark-submit --files`` made of it."""
    if os.path.exists(path):
        return path
    shipped = SparkFiles.get(os.path.basename(path))
    return shipped if os.path.exists(shipped) else path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Scan text logs with Spark for STIX indicators.")
    given = parser.add_mutually_exclusive_group()
    given.add_argument(
        "-i",
        "--indicators",
        action="append",
        metavar="SOURCE",
        help="a feed to compile on the driver (repeatable; default: the bundled APT10 data)",
    )
    given.add_argument("-m", "--matcher", metavar="FILE", help="a matcher file written by 'iocmatch compile'")
    parser.add_argument(
        "--registry-aliases",
        action="store_true",
        help="with -i: a registry key also hits under other spellings of its hive (HKU\\<SID>, as Sysmon writes)",
    )
    parser.add_argument("-o", "--output", required=True, help="where to write the hits (a folder, as Spark writes)")
    parser.add_argument("--format", choices=FORMATS, default="parquet", help="output format (default parquet)")
    parser.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    parser.add_argument("--master", help="Spark master, e.g. 'local[2]' (default: as spark-submit sets it)")
    parser.add_argument(
        "--stream",
        action="store_true",
        help="read the one LOG folder as a stream: each file that arrives in it is scanned once",
    )
    parser.add_argument(
        "--checkpoint", metavar="DIR", help="with --stream: Spark's record of what was read and written"
    )
    parser.add_argument("--once", action="store_true", help="with --stream: scan the files there now, then stop")
    parser.add_argument(
        "--every", type=int, default=10, metavar="S", help="with --stream: look for new files every S s"
    )
    parser.add_argument("logs", nargs="+", metavar="LOG", help="text log files, folders or globs Spark can read")
    return parser


if __name__ == "__main__":
    sys.exit(main())
