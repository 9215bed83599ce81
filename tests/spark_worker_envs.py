"""Run by test_spark.py as its own driver: match_dataframe with executors
whose Python cannot run this iocmatch. Prints, as JSON, for each worker
Python given: what ``match_dataframe`` raised, and what a task raised when
the check is passed over (a worker that joins the application later).

usage: spark_worker_envs.py WORKER_PYTHON...
"""

from __future__ import annotations

import json
import os
import sys

from pyspark.sql import SparkSession

import iocmatch
from iocmatch.spark import ExecutorEnvironmentError, executors, match_dataframe

LOOPBACK = "127.0.0.1"


def _session() -> SparkSession:
    return (
        SparkSession.builder.master("local[2]")
        .appName("iocmatch worker environments")
        .config("spark.driver.host", LOOPBACK)
        .config("spark.driver.bindAddress", LOOPBACK)
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def _outcome(worker_python: str) -> dict[str, str]:
    os.environ["PYSPARK_PYTHON"] = worker_python  # read when the session starts
    spark = _session()
    spark.sparkContext.setLogLevel("OFF")
    matcher = iocmatch.compile(iocmatch.load(iocmatch.campaign_data_path()))
    df = spark.createDataFrame([("nothing",)], "value string")
    outcome = {}
    try:
        match_dataframe(df, matcher)
        outcome["check"] = ""
    except ExecutorEnvironmentError as exc:
        outcome["check"] = str(exc)
    executors._CHECKED.add(spark.sparkContext.applicationId)  # as if these executors had passed it
    try:
        match_dataframe(df, matcher).collect()
        outcome["task"] = ""
    except Exception as exc:  # noqa: BLE001 - whatever Spark raises is reported
        outcome["task"] = str(exc)
    spark.stop()
    return outcome


if __name__ == "__main__":
    print(json.dumps([_outcome(python) for python in sys.argv[1:]]))  # noqa: T201 - the report test_spark.py reads
