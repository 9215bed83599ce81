"""Opening log files: plain or gzip, told apart by their first bytes."""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

_GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def open_log(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary stream of the log's lines, decompressed when it is gzip."""
    with open(path, "rb") as raw:
        if raw.peek(len(_GZIP_MAGIC))[: len(_GZIP_MAGIC)] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw) as unzipped:
                yield unzipped  # type: ignore[misc]  # GzipFile is a binary IO
        else:
            yield raw
