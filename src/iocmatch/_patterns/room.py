"""Work that recurses once per operator of a pattern, given the stack it needs.

stix2's grammar and visitor (and the compilers walking their trees) recurse
once per operator, bracket or parenthesis: a pattern nested ``MAX_NESTING``
deep would exhaust the default stack. Such work runs in a thread with room
for it, and the process-wide recursion limit is put back as soon as it is done.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from .._common.errors import PatternError
from .values import MAX_NESTING, NESTED_TOO_DEEPLY

_T = TypeVar("_T")

# Stack frames the grammar, its visitor and the compilers spend per token at
# most (measured on Python 3.11: 6, for nested parentheses), and a stack to
# hold them (address space; 16 MiB sufficed there for MAX_NESTING).
_FRAMES_PER_TOKEN = 10
_STACK_BYTES = 256 << 20
_ROOM = threading.Lock()


def with_room(work: Callable[[], _T], name: str = "iocmatch-pattern") -> _T:
    """``work()`` in a thread whose stack and recursion limit hold ``MAX_NESTING``
    levels; a RecursionError there is the pattern's nesting, refused with the limit."""
    outcome: list[_T] = []
    failure: list[Exception] = []

    def run() -> None:
        try:
            outcome.append(work())
        except RecursionError:
            failure.append(PatternError(NESTED_TOO_DEEPLY))
        except Exception as exc:  # noqa: BLE001 - handed to the caller's thread as it is
            failure.append(exc)

    with _ROOM:
        limit, stack = sys.getrecursionlimit(), threading.stack_size()
        sys.setrecursionlimit(max(limit, _FRAMES_PER_TOKEN * MAX_NESTING))
        try:
            with suppress(ValueError, RuntimeError):  # a platform that sets no stack size: its default
                threading.stack_size(_STACK_BYTES)
            worker = threading.Thread(target=run, name=name)
            worker.start()
            worker.join()
        finally:
            threading.stack_size(stack)
            sys.setrecursionlimit(limit)
    if failure:
        raise failure[0]
    return outcome[0]
