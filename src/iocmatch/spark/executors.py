"""That the executors can run iocmatch, checked before a task scans.

A worker whose Python lacks iocmatch would otherwise fail each task with a
bare ``ModuleNotFoundError`` deep in a Java stack trace. ``check_executors``
runs one small job first and raises one message naming what is wrong and
how to mend it. Every task's entry point says the same when it meets such a
worker later (an executor added to the application, a task retried
elsewhere).

Both functions run on workers that may lack iocmatch, so they are pickled
by value (``_detached``): their code and nothing of this package.
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from pyspark.sql import SparkSession

import iocmatch


class ExecutorEnvironmentError(RuntimeError):
    """The executors' Python cannot run this iocmatch."""


ADVICE = (
    "Each executor's Python (PYSPARK_PYTHON, or spark.pyspark.python) needs iocmatch {version} and its "
    "dependencies. On one machine, set PYSPARK_PYTHON to the driver's Python ({driver}) before the session "
    "starts. On a cluster, ship an environment packed with venv-pack: spark-submit --archives env.tar.gz#env "
    "--conf spark.pyspark.python=./env/bin/python (README, 'Spark')."
)

# Applications whose executors were found able, in this driver process.
_CHECKED: set[str] = set()


def check_executors(spark: SparkSession) -> None:
    """One task on each core of the application imports iocmatch; raise
    ExecutorEnvironmentError when one cannot, or has another version."""
    context = spark.sparkContext
    if context.applicationId in _CHECKED:
        return
    tasks = max(1, context.defaultParallelism)
    try:
        found = set(context.parallelize(range(tasks), tasks).mapPartitions(_detached(_probe)).collect())
    except Exception as exc:  # any failure of the workers' Python, which Spark wraps in its own errors
        raise ExecutorEnvironmentError(
            f"the Spark executors could not run a Python task: {_first_line(exc)}. " + advice()
        ) from exc
    wrong = sorted(entry for entry in found if entry[2] != iocmatch.__version__ or entry[3])
    if wrong:
        host, python, version, problem = wrong[0]
        if not version:
            has = f"no iocmatch ({problem})"
        elif version != iocmatch.__version__:
            has = f"iocmatch {version}"
        else:
            has = f"iocmatch without what Spark needs to hand it Arrow batches ({problem})"
        # The Python Spark was told to run, as the user wrote it; then the interpreter it turned out to be.
        told = getattr(context, "pythonExec", None) or python
        raise ExecutorEnvironmentError(
            f"the Spark executors' Python ({told}; {python} on {host}) has {has}, "
            f"the driver iocmatch {iocmatch.__version__}. " + advice()
        )
    _CHECKED.add(context.applicationId)


def advice() -> str:
    return ADVICE.format(version=iocmatch.__version__, driver=sys.executable)


def guarded(task: Callable[..., Iterator[Any]], *arguments: Any) -> Callable[[Iterator[Any]], Iterator[Any]]:
    """``task(batches, *arguments)`` as a task's entry point: on a worker
    that lacks iocmatch, or has another version, it fails with the advice.
    ``task`` is named (module, name), not pickled; ``arguments`` must
    unpickle without iocmatch."""
    message = "the Spark executor's Python cannot run this iocmatch: {problem}. " + advice()
    return partial(_detached(_entry), (task.__module__, task.__name__), iocmatch.__version__, message, arguments)


def _entry(
    task: tuple[str, str], version: str, message: str, arguments: tuple[Any, ...], batches: Iterator[Any]
) -> Iterator[Any]:
    import importlib

    problem = ""
    try:
        found = importlib.import_module("iocmatch").__version__
    except ImportError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    else:
        if found != version:
            problem = f"it has iocmatch {found}, the driver {version}"
    if not problem:
        try:
            run: Callable[..., Iterator[Any]] = getattr(importlib.import_module(task[0]), task[1])
            return run(batches, *arguments)
        except ImportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
    raise RuntimeError(message.replace("{problem}", problem))


def _probe(_partition: Iterator[int]) -> Iterator[tuple[str, str, str, str]]:
    import socket
    import sys

    try:
        import iocmatch

        version, problem = iocmatch.__version__, ""
    except Exception as exc:  # noqa: BLE001 - whatever stops the import is the answer
        version, problem = "", f"{type(exc).__name__}: {exc}"
    else:
        try:  # what mapInArrow needs on the worker
            import pandas  # noqa: F401
            import pyarrow  # noqa: F401
        except Exception as exc:  # noqa: BLE001
            problem = f"{type(exc).__name__}: {exc}"
    yield socket.gethostname(), sys.executable, version, problem


def _detached(function: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of ``function`` that belongs to no module of iocmatch, so that
    Spark pickles its code by value; it may use builtins and what it imports."""
    copy = types.FunctionType(function.__code__, {"__builtins__": builtins, "__name__": "__main__"}, function.__name__)
    copy.__module__ = "__main__"
    return copy


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if "Error" in line or "Exception" in line:
            return line.strip()
    return text.splitlines()[0] if text else type(exc).__name__
