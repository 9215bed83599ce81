"""``scan --reload``: the matcher a long scan uses, built again when its
indicators change (``_matcher/watching.py``), each change told on stderr."""

from __future__ import annotations

import argparse
import math
import sys
from datetime import datetime, timezone
from typing import Any

from .._common.model import LoadReport
from .._feeds.taxii import is_taxii_url
from .._feeds.taxii_poll import PolledReader
from .._matcher.watching import Built, Swap, WatchedMatcher, built_from
from .._outputs.catalog import Catalog, build_catalog
from .matcher_files import matcher_file
from .scan_run import STDIN
from .sources import compiled, read_and_load


def check_usage(args: argparse.Namespace) -> None:
    if args.reload is None:
        return
    if not 0 < args.reload < math.inf:
        args.usage_error(f"argument --reload: {args.reload:g} is not a number of seconds above 0")
    if not args.follow and any(name != STDIN for name in args.files):
        args.usage_error("argument --reload: with --follow or stdin only (a file: one set of indicators)")
    if args.events is not None:
        args.usage_error("argument --reload: not allowed with --events (records held for later hold their patterns)")


class Reloads:
    """What the reloads of one scan said that the exit status must know:
    when the indicators in use came to hold none live."""

    def __init__(self) -> None:
        self.emptied: list[str] = []

    def told(self, swap: Swap) -> None:
        print(f"iocmatch: {swap.text()}", file=sys.stderr, flush=True)
        if not swap.indicators:
            self.emptied.append(f"{swap.at:%Y-%m-%d %H:%M:%S} UTC ({swap.reason})")

    def incomplete(self, args: argparse.Namespace) -> str | None:
        """Why the exit status cannot say "nothing found" (None: it can)."""
        if not self.emptied or args.allow_empty:
            return None
        return (
            f"the indicators held none live from {', then '.join(self.emptied)}: lines read after that were "
            "searched for nothing (--allow-empty to accept that)"
        )


def watched_file(args: argparse.Namespace, reloads: Reloads) -> WatchedMatcher:
    """The -m file, loaded again as ``scan -m`` loads it when it changes."""

    def build(_at: float | None) -> Built:
        matcher = matcher_file(args)
        return Built(matcher.with_defanged() if args.defanged else matcher, None, math.inf)

    return WatchedMatcher(build, [args.matcher], check_every=args.reload, on_swap=reloads.told, on_error=_warned)


def watched_sources(args: argparse.Namespace, reloads: Reloads) -> tuple[WatchedMatcher, Catalog, LoadReport]:
    """The -i sources, loaded and compiled as ``scan`` does it, again when
    one changes or a validity boundary passes (validity judged at that
    moment); the ECS output's catalog is kept that of the matcher in use.
    Also the first load's report."""
    catalog: Catalog = {}
    newest: dict[str, Any] = {}
    fixed = bool(args.as_of or args.ignore_validity or args.at_event_time)
    reader = PolledReader()  # a TAXII collection asked for what it added; a file read again

    def build(at: float | None) -> Built:
        judged = args
        if at is not None and not fixed:
            judged = argparse.Namespace(**vars(args))
            judged.as_of = datetime.fromtimestamp(at, timezone.utc).isoformat()
        indicators, read = read_and_load(judged, reader)
        newest["catalog"] = build_catalog(indicators, read) if args.format == "ecs" else {}
        newest["report"] = indicators.report
        # The first load is refused when empty, as any scan's; a later one is taken, and told.
        matcher = compiled(args, indicators, empty_ok="built" in newest)
        newest["built"] = True
        return built_from(indicators, read, matcher.with_defanged() if args.defanged else matcher, at, fixed)

    def swapped(swap: Swap) -> None:
        catalog.clear()
        catalog.update(newest["catalog"])
        reloads.told(swap)

    sources = args.indicators or []
    files = [name for name in sources if not is_taxii_url(name)]
    poll = reader.fetch if len(files) < len(sources) else None
    watched = WatchedMatcher(build, files, check_every=args.reload, poll=poll, on_swap=swapped, on_error=_warned)
    catalog.update(newest["catalog"])
    return watched, catalog, newest["report"]


def _warned(message: str) -> None:
    print(f"iocmatch: {message}", file=sys.stderr, flush=True)
