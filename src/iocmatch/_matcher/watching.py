"""A Matcher kept current while a long scan runs.

Feeds change while a ``--follow`` or a pipe is scanned for months: indicators
are added, revised, revoked, and expire. A ``WatchedMatcher`` checks its
sources every ``check_every`` seconds (each feed file's and folder's size,
time and inode; a TAXII collection is read again at each check), and rebuilds
the matcher when one changed, or when an indicator's ``valid_until`` or
``valid_from`` passed. The new matcher is built in a thread beside the one in
use, and taken between two blocks (``current()``): a line is scanned by the
old matcher or the new one, never by both and never by neither. A rebuild
that fails (a feed caught halfway through being written, a server down)
keeps the matcher in use and is reported; so is every swap, with counts.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from .._common.errors import IocmatchError
from .._common.model import IndicatorSet
from .._common.timestamps import parse_timestamp
from .._feeds import SourceObjects, read_source
from .._feeds.taxii import TaxiiSource, is_taxii_url
from .._indicators.loader import load
from .._scanning.blocks import BLOCK_SIZE, LINE_WINDOW
from .._scanning.lines import LineHits
from .file import load_matcher
from .matcher import Matcher

if TYPE_CHECKING:
    from concurrent.futures import Future


@dataclass(frozen=True)
class Swap:
    """One change of the matcher in use: why, when, and what it holds now.
    ``added``, ``removed`` and ``changed`` count indicators by id against the
    matcher before (None for a matcher file, whose indicators are not listed)."""

    at: datetime
    reason: str
    indicators: int
    added: int | None = None
    removed: int | None = None
    changed: int | None = None

    def text(self) -> str:
        counts = f"{self.indicators:,} live indicators"
        if self.added is not None:
            counts += f" ({self.added:,} new, {self.changed:,} changed, {self.removed:,} gone)"
        return f"indicators reloaded ({self.reason}): {counts}"


class Built(NamedTuple):
    """A rebuilt matcher, its indicators' versions by id (None when not
    known), and the next time an indicator's validity starts or ends."""

    matcher: Matcher
    versions: dict[str, tuple[Any, ...]] | None
    next_boundary: float


class WatchedMatcher:
    """The matcher of ``build``, rebuilt when ``watched`` files change, at the
    validity boundaries ``build`` names, and at every check when ``polled``.

    ``current()`` is what to scan the next block or line with; it never waits
    for a rebuild (``wait()`` does). ``on_swap(Swap)`` and ``on_error(str)``
    are called from ``current()``, in the caller's thread."""

    def __init__(
        self,
        build: Callable[[], Built],
        watched: Sequence[str | os.PathLike[str]],
        *,
        check_every: float = 60.0,
        polled: bool = False,
        on_swap: Callable[[Swap], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not check_every > 0 or math.isinf(check_every):
            raise ValueError(f"check_every must be a number of seconds above 0, not {check_every!r}")
        self._build = build
        self._watched = [Path(path) for path in watched]
        self._check_every = check_every
        self._polled = polled
        self._on_swap = on_swap
        self._on_error = on_error
        self._clock = clock
        self._stamps = _stamps(self._watched)
        built = build()  # the first one in the caller's thread: an error is the caller's to see
        self._matcher, self._versions, self._boundary = built
        self._next_check = clock() + check_every
        self._pending: Future[Built] | None = None
        self._reason = ""
        from concurrent.futures import ThreadPoolExecutor  # only a long scan that reloads needs it

        self._threads = ThreadPoolExecutor(max_workers=1, thread_name_prefix="iocmatch-reload")
        self.swaps = 0

    @classmethod
    def of_sources(
        cls,
        *sources: Any,
        check_every: float = 60.0,
        on_swap: Callable[[Swap], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        load_options: dict[str, Any] | None = None,
        compile_options: dict[str, Any] | None = None,
    ) -> WatchedMatcher:
        """Indicator sources (paths, TAXII collections) loaded with
        ``load(**load_options)`` and compiled with ``Matcher(**compile_options)``.
        Validity is judged at each rebuild: an indicator stops hitting once
        its ``valid_until`` passes, and starts once its ``valid_from`` does."""
        loading, compiling = dict(load_options or {}), dict(compile_options or {})

        def build() -> Built:
            read = [objects for source in sources for objects in read_source(source)]
            indicators = load(*read, **loading)
            return built_from(indicators, read, Matcher(indicators, **compiling))

        files = [source for source in sources if isinstance(source, (str, os.PathLike)) and not _remote(source)]
        polled = any(_remote(source) for source in sources)
        return cls(build, files, check_every=check_every, polled=polled, on_swap=on_swap, on_error=on_error)

    @classmethod
    def of_file(
        cls,
        path: str | os.PathLike[str],
        *,
        check_every: float = 60.0,
        on_swap: Callable[[Swap], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> WatchedMatcher:
        """A matcher file, loaded again (every table checked) when it changes.
        Its indicators' validity was judged when it was compiled."""

        def build() -> Built:
            return Built(load_matcher(path, check_all=True), None, math.inf)

        return cls(build, [path], check_every=check_every, on_swap=on_swap, on_error=on_error)

    def current(self) -> Matcher:
        """The matcher to scan the next block with, the newest that is built."""
        pending = self._pending
        if pending is not None:
            if pending.done():
                self._take(pending)
        elif self._clock() >= min(self._next_check, self._boundary):
            self._check()
        return self._matcher

    def wait(self) -> Matcher:
        """``current()``, after any rebuild due by now has been taken."""
        if self._pending is None and self._clock() >= min(self._next_check, self._boundary):
            self._check()
        if self._pending is not None:
            self._pending.exception()  # waits; an error is reported by _take
            self._take(self._pending)
        return self._matcher

    def hit_lines(
        self, stream: IO[bytes], block_size: int = BLOCK_SIZE, line_window: int = LINE_WINDOW
    ) -> Iterator[LineHits]:
        """``Matcher.hit_lines``, each block scanned with the matcher current
        when it is read (a line longer than the window keeps the one it began with)."""
        return self.current().hit_lines(stream, block_size, line_window, current=self.current)

    def close(self) -> None:
        """Stop: a rebuild under way is not taken."""
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _check(self) -> None:
        now = self._clock()
        self._next_check = now + self._check_every
        stamps = _stamps(self._watched)
        changed = [path.name for path in self._watched if stamps.get(path) != self._stamps.get(path)]
        if changed:
            reason = f"{', '.join(changed)} changed"
        elif now >= self._boundary:
            reason = "an indicator's validity began or ended"
        elif self._polled:
            reason = "sources polled"
        else:
            return
        self._stamps = stamps
        self._reason = reason
        self._pending = self._threads.submit(self._build)

    def _take(self, pending: Future[Built]) -> None:
        self._pending = None
        error = pending.exception()
        if error is not None:
            if not isinstance(error, (IocmatchError, OSError, ValueError)):
                raise error  # a bug of ours, not a feed's fault
            # The matcher in use stays; a change is tried again when it changes
            # again, a boundary at the next check.
            self._boundary = max(self._boundary, self._next_check)
            if self._on_error is not None:
                self._on_error(f"indicators not reloaded ({self._reason}): {error}; scanning on with those in use")
            return
        built = pending.result()
        before = self._versions
        self._matcher, self._versions, self._boundary = built
        self.swaps += 1
        if self._on_swap is not None:
            self._on_swap(_swap(self._reason, built, before))


def built_from(indicators: IndicatorSet, read: Sequence[SourceObjects], matcher: Matcher) -> Built:
    """A Built of loaded indicators: their versions, and when validity next
    starts (a ``valid_from`` ahead, among the objects read) or ends."""
    versions = {
        item.id: (item.pattern, item.name, item.valid_from, item.valid_until, item.attribution)
        for item in indicators.indicators
    }
    now = time.time()
    ahead = [moment for moment in matcher.origin.expiries if moment > now]
    for source in read:
        for obj in source.objects:
            start = obj.get("valid_from") if isinstance(obj, dict) and obj.get("type") == "indicator" else None
            if isinstance(start, str):
                try:
                    moment = parse_timestamp(start).timestamp()
                except ValueError:
                    continue
                if moment > now:
                    ahead.append(moment)
    return Built(matcher, versions, min(ahead, default=math.inf))


def _swap(reason: str, built: Built, before: dict[str, tuple[Any, ...]] | None) -> Swap:
    now = datetime.now(timezone.utc)
    after = built.versions
    if before is None or after is None:
        return Swap(now, reason, built.matcher.indicator_count)
    added = sum(1 for ident in after if ident not in before)
    removed = sum(1 for ident in before if ident not in after)
    changed = sum(1 for ident, version in after.items() if ident in before and before[ident] != version)
    return Swap(now, reason, built.matcher.indicator_count, added, removed, changed)


def _remote(source: Any) -> bool:
    return isinstance(source, TaxiiSource) or (isinstance(source, str) and is_taxii_url(source))


def _stamps(paths: Sequence[Path]) -> dict[Path, tuple[Any, ...]]:
    """What tells that a file or a folder's files changed: size, times and inode of each."""
    stamps: dict[Path, tuple[Any, ...]] = {}
    for path in paths:
        try:
            if path.is_dir():
                files = sorted(entry for entry in path.rglob("*") if entry.is_file())
                stamps[path] = tuple((str(entry), *_stat(entry)) for entry in files)
            else:
                stamps[path] = _stat(path)
        except OSError:
            stamps[path] = ("missing",)
    return stamps


def _stat(path: Path) -> tuple[int, int, int, int]:
    found = path.stat()
    return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino
