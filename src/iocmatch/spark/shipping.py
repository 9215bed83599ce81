"""How a matcher reaches the executors, and is kept there.

On the driver, a matcher file is checked whole with the key, copied under a
name of its own and handed to ``SparkContext.addFile`` with the digest of the
copy; a Matcher object is pickled once and broadcast. On an executor, each
Python worker loads it the first time a task needs it (a file mapped and
checked against the digest, no key needed) and keeps it for every later
task: Spark reuses a worker for task after task.
"""

from __future__ import annotations

import atexit
import os
import pickle
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import NamedTuple

from pyspark import Broadcast, SparkFiles
from pyspark.sql import SparkSession

from .._common.errors import MatcherFileError
from .._matcher.file import load_matcher, matcher_digest
from .._matcher.matcher import Matcher


class Shipped(NamedTuple):
    """What each task receives of a matcher: the broadcast of its pickled
    bytes, or the name of its file among Spark's files and the digest the
    driver checked; and the key under which a worker keeps what it loaded."""

    key: str
    pickled: Broadcast[bytes] | None = None
    file_name: str = ""
    digest: bytes = b""


def ship(spark: SparkSession, matcher: Matcher | str | os.PathLike[str]) -> Shipped:
    if isinstance(matcher, Matcher):
        pickled = spark.sparkContext.broadcast(pickle.dumps(matcher, protocol=pickle.HIGHEST_PROTOCOL))
        return Shipped(uuid.uuid4().hex, pickled)
    return _ship_file(spark, matcher)


def _ship_file(spark: SparkSession, path: str | os.PathLike[str]) -> Shipped:
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
    spark.sparkContext.addFile(str(staged))
    return Shipped(key, file_name=staged.name, digest=digest)


_STAGING: list[str] = []


def _staging() -> str:
    """A folder for the copies Spark serves to executors, removed when the driver exits."""
    if not _STAGING:
        folder = tempfile.mkdtemp(prefix="iocmatch-spark-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _STAGING.append(folder)
    return _STAGING[0]


# -- on the executors ------------------------------------------------------------

# The matchers this Python worker has loaded, by key.
_MATCHERS: dict[str, Matcher] = {}
_KEPT = 4  # a few DataFrames scanned side by side; the oldest is dropped first


def matcher_of(shipped: Shipped) -> Matcher:
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
