"""``scan --events``: the record scanner the command builds from its
indicators and the schema (or mapping file) asked for.

Records are judged with every live indicator: those loading compiled for
text, and those it skipped only because their pattern says what no literal in
a line can (``dst_port != 80``, ``<``, ``NOT``): such a pattern can still be
decided on a record's fields.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .._common.model import IndicatorSet
from .._events import MappingError, SchemaMapping, bundled_mappings, read_mapping
from .._feeds import SourceObjects
from .._matcher.matcher import Matcher
from .._matcher.records import AUTO, PatternIndicator, RecordScanner

# Skips that say the object itself is unusable, not its pattern: never judged on records either.
_NOT_LIVE = ("invalid 'modified'", "invalid validity timestamp")


def check_events_usage(args: argparse.Namespace) -> None:
    """``--events`` needs the indicators' patterns and judges validity at load."""
    if args.events is None:
        return
    if args.matcher:
        args.usage_error("argument --events: needs the indicators (-i); a matcher file keeps no patterns")
    if args.json or args.json_field:
        args.usage_error("argument --events: not allowed with --json or --json-field")
    if args.at_event_time:
        args.usage_error("argument --events: judges validity when loading, not with --at-event-time")


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
        PatternIndicator(indicator.id, indicator.pattern, indicator.attribution, indicator.provenance)
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
    found.extend(PatternIndicator(ident, obj["pattern"], (), (label,)) for ident, (_, obj, label) in newest.items())
    return found


def record_only_sources(indicators: IndicatorSet, found: list[PatternIndicator]) -> set[str]:
    """The sources of indicators only records judge (text could not compile them)."""
    if not found:
        return set()  # without --events: nothing to look at
    compiled = {indicator.id for indicator in indicators.indicators}
    return {source for indicator in found if indicator.id not in compiled for source in indicator.sources}


def stream_counts_text(scanner: RecordScanner) -> str | None:
    """For ``--stats``: what patterns with observation operators did not see
    (None when nothing was left out)."""
    late, untimed, dropped = scanner.stream_counts()
    if not (late or untimed or dropped):
        return None
    return (
        f"patterns with observation operators: {late} records late (behind the newest time of their log), "
        f"{untimed} records without a time, not evaluated; {dropped} partial matches dropped for room"
    )


def _stix_indicator(obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and obj.get("type") == "indicator"
        and isinstance(obj.get("id"), str)
        and isinstance(obj.get("pattern"), str)
        and obj.get("pattern_type", "stix") == "stix"
    )


def record_scanner(
    args: argparse.Namespace, matcher: Matcher, indicators: list[PatternIndicator]
) -> RecordScanner | None:
    """The scanner ``--events`` asks for (None without it); the patterns it
    cannot compile for records are named on stderr, as loading's problems are."""
    if args.events is None:
        return None
    schema, mappings = schema_and_mappings(args)
    scanner = RecordScanner(matcher, indicators, schema, mappings)
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
            f"iocmatch: --events: {len(problems)} patterns not compiled for records (judged as text): {shown}{more}",
            file=sys.stderr,
        )
    return scanner
