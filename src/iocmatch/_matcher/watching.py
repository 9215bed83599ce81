"""A Matcher kept current while a long scan runs.

Feeds change while a ``--follow`` or a pipe is scanned for months: indicators
are added, revised, revoked, and expire. A ``WatchedMatcher`` checks its
sources every ``check_every`` seconds (each feed file's size, times and inode,
and those of the feed files in a folder; a TAXII collection is read again at
each check) and rebuilds the matcher when one changed and has stayed so for
a moment (a file being written is not read halfway). The new matcher is
built in a thread beside the one in use, and taken between two blocks
(``current()``): a line is scanned by the old matcher or the new one, never
by both and never by neither.

Validity is exact at block granularity: the matcher of the next moment an
indicator's ``valid_until`` or ``valid_from`` passes is built ahead, judged
at that moment, and taken by the first block read at or after it; a block
read after it never waits for less (``current()`` waits for that build when
it is late). A rebuild that fails (a feed that cannot be read, a server
down) keeps the matcher in use and is reported; so is every swap, with counts.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, NamedTuple

from .._common.errors import IocmatchError
from .._common.model import IndicatorSet
from .._common.timestamps import parse_timestamp
from .._feeds import SourceObjects
from .._feeds.reading import FOLDER_SUFFIXES
from .._feeds.taxii import TaxiiSource, is_taxii_url
from .._feeds.taxii_poll import PolledReader
from .._indicators.loader import load
from .._scanning.blocks import BLOCK_SIZE, LINE_WINDOW
from .._scanning.lines import LineHits
from .file import load_matcher
from .matcher import Matcher


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
    known), and the next moment an indicator's validity starts or ends (inf
    when validity is not judged at the moment of the build)."""

    matcher: Matcher
    versions: dict[str, tuple[Any, ...]] | None
    next_boundary: float


# A build is a function of the moment validity is judged at (POSIX seconds; None: now).
Build = Callable[[float | None], Built]


class WatchedMatcher:
    """The matcher of ``build``, rebuilt when ``watched`` files change, at the
    validity boundaries ``build`` names, and at a check where ``poll()``
    (TAXII collections asked for what they added) says something came.

    ``current()`` is what to scan the next block or line with; ``wait()``
    also takes a rebuild that is due. ``on_swap(Swap)`` and ``on_error(str)``
    are called from ``current()`` and ``wait()``, in the caller's thread."""

    def __init__(
        self,
        build: Build,
        watched: Sequence[str | os.PathLike[str]],
        *,
        check_every: float = 60.0,
        poll: Callable[[], bool] | None = None,
        on_swap: Callable[[Swap], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not check_every > 0 or math.isinf(check_every):
            raise ValueError(f"check_every must be a number of seconds above 0, not {check_every!r}")
        self._build = build
        self._watched = [Path(path) for path in watched]
        self._check_every = check_every
        # A file must keep its new stamp this long before it is read: a writer may be halfway.
        self._settle = min(check_every, 1.0)
        self._poll = poll  # at each check, in the build's thread: whether polled sources gave anything new
        self._on_swap = on_swap
        self._on_error = on_error
        self._clock = clock
        self._stamps = _stamps(self._watched)
        started = time.monotonic()
        self._matcher, self._versions, self._boundary = build(None)  # in the caller's thread: its error to see
        self._lead = _lead(time.monotonic() - started)
        self._next_check = clock() + check_every
        self._pending: _Rebuild | None = None
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
        Unless ``load_options`` fix the time validity is judged at (``as_of``,
        ``ignore_validity``, ``at_event_time``), an indicator stops hitting at
        its ``valid_until`` and starts at its ``valid_from``."""
        loading, compiling = dict(load_options or {}), dict(compile_options or {})
        fixed = bool(loading.get("as_of") or loading.get("ignore_validity") or loading.get("at_event_time"))
        reader = PolledReader()

        def build(at: float | None) -> Built:
            judged = {} if fixed or at is None else {"as_of": datetime.fromtimestamp(at, timezone.utc)}
            read = [objects for source in sources for objects in reader(source)]
            indicators = load(*read, **{**loading, **judged})
            return built_from(indicators, read, Matcher(indicators, **compiling), at, fixed)

        files = [source for source in sources if isinstance(source, (str, os.PathLike)) and not _remote(source)]
        poll = reader.fetch if any(_remote(source) for source in sources) else None
        return cls(build, files, check_every=check_every, poll=poll, on_swap=on_swap, on_error=on_error)

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

        def build(_at: float | None) -> Built:
            return Built(load_matcher(path, check_all=True), None, math.inf)

        return cls(build, [path], check_every=check_every, on_swap=on_swap, on_error=on_error)

    def current(self) -> Matcher:
        """The matcher to scan the next block with, the newest that is due."""
        now = self._clock()
        pending = self._pending
        if pending is not None and pending.done.is_set() and (pending.at is None or now >= pending.at):
            self._take(pending)
        if self._pending is None:
            if now >= self._next_check:
                self._check(now)
            if self._pending is None and now >= self._boundary - self._lead:
                self._start(self._boundary, "an indicator's validity began or ended")
        pending = self._pending
        if pending is not None and pending.at is not None and now >= pending.at:
            # Past a validity boundary, nothing is scanned with the matcher from before it.
            pending.done.wait()
            self._take(pending)
            if now >= self._boundary:  # judged before a boundary that has passed since: again, now
                self._start(now, "an indicator's validity began or ended")
                return self.current()
        return self._matcher

    @property
    def in_use(self) -> Matcher:
        """The matcher last handed out, without checking for a newer one."""
        return self._matcher

    def wait(self) -> Matcher:
        """``current()``, after a change seen by now has settled and been
        built and taken (or refused), and any validity boundary passed by now."""
        deadline = time.monotonic() + self._settle + 1.0
        checked = False  # one check a call: a poll is one request to each server
        while True:
            now = self._clock()
            if self._pending is None and not checked:
                self._check(now)
                if self._pending is None and self._changes()[1] and time.monotonic() < deadline:
                    time.sleep(self._settle / 4)  # not settled yet: look again
                    continue
                checked = True
            if self._pending is not None and (self._pending.at is None or now >= self._pending.at):
                self._pending.done.wait()
                self._take(self._pending)
                continue
            return self.current()

    def hit_lines(
        self, stream: IO[bytes], block_size: int = BLOCK_SIZE, line_window: int = LINE_WINDOW
    ) -> Iterator[LineHits]:
        """``Matcher.hit_lines``, each block scanned with the matcher current
        when it is read (a line longer than the window keeps the one it began with)."""
        return self.current().hit_lines(stream, block_size, line_window, current=self.current)

    def close(self) -> None:
        """Stop: a rebuild under way is not taken, and does not hold the process at its exit."""
        self._pending = None

    def _changes(self) -> tuple[dict[Path, tuple[Any, ...]], list[Path]]:
        """The watched files' stamps now, and the files whose stamp differs from the last build's."""
        stamps = _stamps(self._watched)
        return stamps, [path for path in self._watched if stamps.get(path) != self._stamps.get(path)]

    def _check(self, now: float) -> None:
        self._next_check = now + self._check_every
        stamps, changed = self._changes()
        if changed:
            if time.time() - max(_newest(stamps[path]) for path in changed) < self._settle:
                self._next_check = now + self._settle  # still being written, maybe: look again soon
                return
            self._stamps = stamps
            self._start(None, f"{', '.join(path.name for path in changed)} changed")
        elif self._poll is not None:
            self._start(None, "sources polled")

    def _start(self, at: float | None, reason: str) -> None:
        first = self._poll if reason == "sources polled" else None
        self._pending = _Rebuild(self._build, at, reason, first)

    def _take(self, pending: _Rebuild) -> None:
        self._pending = None
        if pending.error is not None:
            error = pending.error
            if not isinstance(error, (IocmatchError, OSError, ValueError)):
                raise error  # a bug of ours, not a feed's fault
            if pending.at is not None:  # the boundary passes anyway: tried again a check from now
                self._boundary = max(self._boundary, self._clock() + self._check_every)
            if self._on_error is not None:
                self._on_error(f"indicators not reloaded ({pending.reason}): {error}; scanning on with those in use")
            return
        if pending.built is None:
            return  # a poll that brought nothing new
        built, before = pending.built, self._versions
        self._lead = _lead(pending.seconds)
        if pending.reason == "sources polled" and built.versions == before:
            self._boundary = built.next_boundary
            return  # a poll that found nothing new is no swap
        self._matcher, self._versions, self._boundary = built
        self.swaps += 1
        if self._on_swap is not None:
            self._on_swap(_swap(pending.reason, built, before))


class _Rebuild:
    """One build, in a thread of its own that never holds the process at exit."""

    def __init__(self, build: Build, at: float | None, reason: str, first: Callable[[], bool] | None) -> None:
        self.at, self.reason = at, reason
        self.built: Built | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0
        self.done = threading.Event()
        threading.Thread(target=self._run, args=(build, first), name="iocmatch-reload", daemon=True).start()

    def _run(self, build: Build, first: Callable[[], bool] | None) -> None:
        """``first``: asked before building; False means nothing changed, and nothing is built."""
        started = time.monotonic()
        try:
            if first is None or first():
                self.built = build(self.at)
        except BaseException as exc:  # noqa: BLE001 - handed to the scanning thread, which decides
            self.error = exc
        self.seconds = time.monotonic() - started
        self.done.set()


def _lead(seconds: float) -> float:
    """How long before a validity boundary its matcher starts being built: twice the last build, at least 1 s."""
    return max(1.0, 2 * seconds)


def built_from(
    indicators: IndicatorSet, read: Sequence[SourceObjects], matcher: Matcher, at: float | None, fixed: bool
) -> Built:
    """A Built of indicators loaded with validity judged at ``at`` (None:
    now): their versions, and when validity next starts (a ``valid_from``
    ahead, among the objects read) or ends (a ``valid_until`` ahead); never,
    when the load ``fixed`` the time validity is judged at."""
    versions = {
        item.id: (item.pattern, item.name, item.valid_from, item.valid_until, item.attribution)
        for item in indicators.indicators
    }
    if fixed:
        return Built(matcher, versions, math.inf)
    if at is None:
        at = time.time()
    ahead = [moment for moment in matcher.origin.expiries if moment > at]
    for source in read:
        for obj in source.objects:
            start = obj.get("valid_from") if isinstance(obj, dict) and obj.get("type") == "indicator" else None
            if isinstance(start, str):
                try:
                    moment = parse_timestamp(start).timestamp()
                except ValueError:
                    continue
                if moment > at:
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
    """What tells that a file, or the feed files of a folder (as the folder
    reader finds them, through links), changed: size, times and inode of each."""
    stamps: dict[Path, tuple[Any, ...]] = {}
    for path in paths:
        try:
            if path.is_dir():
                files = sorted(
                    Path(folder, name)
                    for folder, _, names in os.walk(path, followlinks=True)
                    for name in names
                    if Path(name).suffix.lower() in FOLDER_SUFFIXES or name == "manifest.json"
                )
                stamps[path] = tuple((str(entry), *_stat(entry)) for entry in files)
            else:
                stamps[path] = _stat(path)
        except OSError:
            stamps[path] = ("missing",)
    return stamps


def _stat(path: Path) -> tuple[int, int, int, int]:
    found = path.stat()
    return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino


def _newest(stamp: tuple[Any, ...]) -> float:
    """The latest change time a stamp holds, in POSIX seconds (0 for a missing file)."""
    if stamp == ("missing",):
        return 0.0
    if stamp and isinstance(stamp[0], tuple):  # a folder's files: (name, size, mtime, ctime, inode) each
        return max((float(entry[3]) / 1e9 for entry in stamp), default=0.0)
    return float(stamp[2]) / 1e9
