"""A progress bar on stderr for file scans, shown only to a person watching a
terminal: never in pipes, files or captured output."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TextIO


def wanted(stream: TextIO | None = None) -> bool:
    stream = stream if stream is not None else sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


class Progress:
    """Bytes of one file read so far; updated once per block, not per line."""

    def __init__(self, total: int | None, label: str, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and total:
            columns, rows = _terminal_size()
            from tqdm import tqdm  # type: ignore[import-untyped]  # only imported when a bar is shown

            self._bar = tqdm(
                total=total,
                desc=label,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                leave=False,
                file=sys.stderr,
                ncols=columns,
                nrows=rows,
            )

    def moved_to(self, position: int) -> None:
        if self._bar is not None:
            self._bar.update(position - self._bar.n)

    def writing(self) -> Any:
        """A context for writing to stdout without tearing the bar (both may be one terminal)."""
        if self._bar is None:
            return nullcontext()
        return _beside(self._bar)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _terminal_size() -> tuple[int, int]:
    """Columns and lines of the terminal; one that reports 0 (a fresh
    pseudo-terminal) gets 80x24, else tqdm would draw nothing."""
    try:
        size = os.get_terminal_size(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return 80, 24
    return size.columns or 80, size.lines or 24


@contextmanager
def _beside(bar: Any) -> Iterator[None]:
    with bar.external_write_mode(file=sys.stdout):
        yield
        sys.stdout.flush()
