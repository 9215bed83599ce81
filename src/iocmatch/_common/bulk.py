"""Building many objects at once (a feed's indicators, a matcher, a matcher
read back from a file) with the cyclic garbage collector paused: it would
walk the growing heap again and again and find nothing to free, for about a
third of the loading time of a large feed. What was built is then frozen
(moved out of the collector's sight): otherwise the first collection after
the pause walks every new object once more, for nothing."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()
