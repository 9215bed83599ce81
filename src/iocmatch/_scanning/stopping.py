"""Signals that stop the command: before scanning they end it with an error;
while scanning they end reading, and what was read is still scanned and
written (the sightings bundle, the statistics).

SIGINT and SIGTERM are both stops: Ctrl-C at a terminal, SIGTERM from a
service manager or ``timeout``. While scanning, the first one only records
the signal; the readers look at it between reads (``logfiles.py``), so no
output is torn. A second one ends the run at once, as the first would
without us: a write to a reader that never reads, or anything else that
does not come back, cannot hold the process for ever. Opening a FIFO that no
one writes to blocks in the kernel where no flag is looked at, so there the
first signal ends the wait at once (``interruptible``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A stop signal that ends the run where it is: before scanning began
    (loading, compiling), or a second one while scanning."""

    def __init__(self, number: int, again: bool = False) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = int(number)
        self.name = signal.Signals(number).name
        self.again = again

    def __reduce__(self) -> tuple[type[Interrupted], tuple[int, bool]]:
        # Raised inside a worker pool's machinery, it may be pickled.
        return Interrupted, (self.number, self.again)


class StopRequest:
    """Called, says whether a stop signal has arrived; ``name`` is its name."""

    def __init__(self) -> None:
        self.name: str | None = None

    def __call__(self) -> bool:
        return self.name is not None

    def receive(self, number: int, _frame: FrameType | None) -> None:
        if self.name is not None:
            raise Interrupted(number, again=True)
        self.name = signal.Signals(number).name

    def receive_and_raise(self, number: int, _frame: FrameType | None) -> None:
        self.name = self.name or signal.Signals(number).name
        raise Interrupted(number)


def _raise_interrupted(number: int, _frame: FrameType | None) -> None:
    raise Interrupted(number)


@contextmanager
def interrupted_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``Interrupted`` (one line, exit 2, not a
    traceback or a silent death) until the context ends."""
    with _handlers(_raise_interrupted):
        yield


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """SIGINT and SIGTERM set the yielded ``StopRequest`` until the context ends."""
    request = StopRequest()
    with _handlers(request.receive):
        yield request


@contextmanager
def interruptible(stopped: Callable[[], bool]) -> Iterator[None]:
    """Around a call that may block where no flag is looked at: a stop signal
    is recorded in ``stopped`` (a ``StopRequest``) and raises ``Interrupted``."""
    if not isinstance(stopped, StopRequest):
        yield
        return
    if stopped():
        raise Interrupted(signal.Signals[stopped.name or "SIGINT"])
    with _handlers(stopped.receive_and_raise):
        yield


@contextmanager
def _handlers(handler: signal._HANDLER) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers: the defaults stay
        return
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, handler)
    try:
        yield
    finally:
        for number, old in previous.items():
            signal.signal(number, old)
