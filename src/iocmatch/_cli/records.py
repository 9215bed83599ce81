"""``scan --events``: the record scanner the command builds from its
indicators and the schema (or mapping file) asked for.

Patterns with observation operators see the records of every input in time
order. A scan of files (stdin among them, or stdin redirected from a file)
reads them all first and evaluates those records in exact order at the end
(``--lateness`` asks for evaluation as they come instead); ``--follow`` and
stdin alone from a pipe are evaluated as they come, a record waiting
``LIVE_LATENESS`` seconds (or ``--lateness``) for those behind it.

Records are judged with every live indicator: those loading compiled for
text, and those it skipped only because their pattern says what no literal in
a line can (``dst_port != 80``, ``<``, ``NOT``): such a pattern can still be
decided on a record's fields.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from datetime import datetime
from typing import Any

from .._common.model import IndicatorSet
from .._common.timestamps import parse_timestamp
from .._events import MappingError, SchemaMapping, bundled_mappings, read_mapping
from .._feeds import SourceObjects
from .._matcher.matcher import Matcher
from .._matcher.records import AUTO, LIVE_LATENESS, PatternIndicator, RecordScanner

# Skips that say the object itself is unusable, not its pattern: never judged on records either.
_NOT_LIVE = ("invalid 'modified'", "invalid validity timestamp")


def check_events_usage(args: argparse.Namespace) -> None:
    """``--events`` needs the indicators' patterns; ``--lateness`` needs ``--events``."""
    if args.lateness is not None and (args.events is None or not 0 <= args.lateness <= 365 * 86400):
        args.usage_error("argument --lateness: needs --events, and from 0 to a year of seconds")
    if args.events is None:
        return
    if args.matcher:
        args.usage_error("argument --events: needs the indicators (-i); a matcher file keeps no patterns")
    if args.json or args.json_field:
        args.usage_error("argument --events: not allowed with --json or --json-field")


def distinct_logs(names: list[str]) -> tuple[list[str], list[str]]:
    """The inputs, a file named twice (or through a link) kept once: its
    records read twice would be two observations each, and ``REPEATS`` would
    count one event twice. Also what was left out, for stderr."""
    kept: list[str] = []
    seen: dict[tuple[int, int], str] = {}
    dropped: list[str] = []
    for name in names:
        try:
            info = os.stat(name) if name != "-" else _regular_stdin()
        except OSError:
            info = None  # named at its turn, as any unreadable input
        identity = None if info is None else (info.st_dev, info.st_ino)
        if identity is not None and identity in seen:
            dropped.append(f"{name} is {seen[identity]}, read once with --events")
            continue
        if identity is not None:
            seen[identity] = name
        kept.append(name)
    return kept, dropped


def _regular_stdin() -> os.stat_result | None:
    """Stdin's file, when it is a regular one (``- < conn.log``): it may also be named."""
    try:
        info = os.fstat(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def schema_and_mappings(args: argparse.Namespace) -> tuple[str, tuple[SchemaMapping, ...]]:
    """The schema ``--events`` names (``auto``, a bundled schema, or a mapping
    file's), and the mappings known; a usage error for anything else."""
    wanted: str = args.events
    mappings = bundled_mappings()
    if wanted == AUTO:
        return AUTO, mappings
    if wanted.endswith(".json") or os.sep in wanted:
        try:
            mapping = read_mapping(wanted)
        except (MappingError, OSError) as exc:
            args.usage_error(f"argument --events: {wanted}: {exc}")
        return mapping.schema, (*[m for m in mappings if m.schema != mapping.schema], mapping)
    if wanted not in {mapping.schema for mapping in mappings}:
        known = ", ".join(mapping.schema for mapping in mappings)
        args.usage_error(f"argument --events: unknown schema {wanted!r} (auto, a mapping .json file, or: {known})")
    return wanted, mappings


def pattern_indicators(indicators: IndicatorSet, read: list[SourceObjects]) -> list[PatternIndicator]:
    """The live indicators, compiled for text or skipped for their pattern alone."""
    found = [
        PatternIndicator(
            indicator.id,
            indicator.pattern,
            indicator.attribution,
            indicator.provenance,
            indicator.valid_from,
            indicator.valid_until,
        )
        for indicator in indicators.indicators
    ]
    unusable = {p.id for p in indicators.report.problems if p.reason.startswith(_NOT_LIVE)}
    skipped = {p.id for p in indicators.report.problems if p.status == "skipped"} - unusable
    newest: dict[str, tuple[str, dict[str, Any], str]] = {}
    for source in read:
        for obj in source.objects:
            if not _stix_indicator(obj) or obj["id"] not in skipped:
                continue
            modified = str(obj.get("modified", ""))
            if obj["id"] not in newest or modified >= newest[obj["id"]][0]:
                newest[obj["id"]] = (modified, obj, source.label)
    found.extend(
        PatternIndicator(
            ident, obj["pattern"], (), (label,), _time(obj, "valid_from"), _time(obj, "valid_until"), for_text=False
        )
        for ident, (_, obj, label) in newest.items()
    )
    return found


def _time(obj: dict[str, Any], name: str) -> datetime | None:
    """A validity time the loader read already (one it could not read made the object unusable)."""
    try:
        return parse_timestamp(obj[name]) if isinstance(obj.get(name), str) else None
    except ValueError:
        return None


def record_only_sources(indicators: IndicatorSet, found: list[PatternIndicator]) -> set[str]:
    """The sources of indicators only records judge (text could not compile them)."""
    if not found:
        return set()  # without --events: nothing to look at
    compiled = {indicator.id for indicator in indicators.indicators}
    return {source for indicator in found if indicator.id not in compiled for source in indicator.sources}


def unevaluated(scanner: RecordScanner) -> str | None:
    """Records that held an observation of a pattern with observation
    operators and were not evaluated (too late, or without a time): the
    search was not whole (None when there were none)."""
    late, untimed, _ = scanner.stream_counts()
    if not (late or untimed):
        return None
    return (
        f"patterns joining observations did not evaluate {late} records that arrived more than the lateness "
        f"behind a record already evaluated (--lateness) and {untimed} records without a time, though they held "
        "an observation of such a pattern"
    )


def dropped_note(scanner: RecordScanner) -> str | None:
    """Partial matches dropped for room (a pattern without a window over many records), if any."""
    dropped = scanner.stream_counts()[2]
    if not dropped:
        return None
    return (
        f"patterns joining observations dropped {dropped} partial matches for room (the oldest first; a WITHIN "
        "bounds what a pattern keeps)"
    )


def _stix_indicator(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") == "indicator"
        and isinstance(obj.get("id"), str)
        and isinstance(obj.get("pattern"), str)
        and obj.get("pattern_type", "stix") == "stix"
    )


def _reads_live(args: argparse.Namespace) -> bool:
    """A log still being written: ``--follow``, or stdin alone from a pipe or a terminal."""
    if args.follow:
        return True
    if args.files and args.files != ["-"]:
        return False
    return _regular_stdin() is None


def record_scanner(
    args: argparse.Namespace, matcher: Matcher, indicators: list[PatternIndicator], inputs: list[str]
) -> RecordScanner | None:
    """The scanner ``--events`` asks for (None without it); the patterns it
    cannot compile for records are named on stderr, as loading's problems are."""
    if args.events is None:
        return None
    schema, mappings = schema_and_mappings(args)
    lateness = args.lateness if args.lateness is not None else LIVE_LATENESS if _reads_live(args) else None
    scanner = RecordScanner(
        matcher, indicators, schema, mappings, lateness=lateness, at_event_time=matcher.at_event_time, inputs=inputs
    )
    print(
        f"iocmatch: --events: {scanner.pattern_count} patterns compiled for records"
        " (judged on the records whose schema maps what they read, as text elsewhere)",
        file=sys.stderr,
    )
    problems = scanner.problems
    if problems:
        shown = "; ".join(f"{p.id}: {p.reason}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        print(
            f"iocmatch: --events: {len(problems)} patterns not compiled for records (judged as text where text "
            f"compiled them): {shown}{more}",
            file=sys.stderr,
        )
    return scanner
