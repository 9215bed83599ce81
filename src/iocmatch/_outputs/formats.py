"""How matches and load reports are written for people and for programs."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .._common.model import LoadReport, Match
from .._scanning.hits import Event, HitLine
from .catalog import Catalog
from .ecs import ecs_record, timestamp
from .sightings import SightingCounter, default_observer


def match_record(match: Match, file: str, field: str | None = None, events: tuple[Event, ...] = ()) -> dict[str, Any]:
    """The JSON-lines record of one match (the CLI's ``--format jsonl``); ``field``
    is the JSON field path of a match in a JSON event; ``events`` the records
    of a match of several (``{"file", "line", "time"}`` each)."""
    record = {"file": file, **match.to_dict()}
    if field is not None:
        record["field"] = field
    if events:
        record["events"] = [{"file": event.file, "line": event.line, "time": timestamp(event.time)} for event in events]
    return record


def jsonl(match: Match, file: str, field: str | None = None, events: tuple[Event, ...] = ()) -> str:
    # surrogateescape'd bytes of invalid UTF-8 lines are written as \udcXX escapes
    return json.dumps(match_record(match, file, field, events), ensure_ascii=True)


# grep's colours: file name magenta, line number green, the hit bold red.
_FILE, _LINE, _HIT, _RESET = "\033[35m", "\033[32m", "\033[1;31m", "\033[0m"


def text(
    match: Match, file: str, colour: bool = False, field: str | None = None, events: tuple[Event, ...] = ()
) -> str:
    """``file:line:start-end: kind value "text" [attribution] {sources} ids`` (like grep -n);
    a match in a JSON field reads ``file:line:field:start-end: ...``; a match
    of several records ends with ``events line@time,line@time``, a record of
    another log than the hit's as ``file:line@time``."""
    shown = match.text.encode("utf-8", "backslashreplace").decode("utf-8")
    attribution = f" [{'; '.join(match.attribution)}]" if match.attribution else ""
    sources = f" {{{'; '.join(match.sources)}}}" if match.sources else ""
    where = f"{field}:" if field is not None else ""
    records = " events " + ",".join(_event_text(event, file) for event in events) if events else ""
    if colour:
        file, line, shown = f"{_FILE}{file}{_RESET}", f"{_LINE}{match.line}{_RESET}", f"{_HIT}{shown}{_RESET}"
    else:
        line = str(match.line)
    return (
        f"{file}:{line}:{where}{match.start}-{match.end}: {match.kind} {match.value}"
        f' "{shown}"{attribution}{sources} {" ".join(match.indicators)}'
    ) + records


def _event_text(event: Event, file: str) -> str:
    where = str(event.line) if event.file == file else f"{event.file}:{event.line}"
    return f"{where}@{timestamp(event.time)}"


class OutputFormat:
    """Turns hit lines into output lines: ``lines`` as each hit line comes,
    ``end`` once the scan is over. ``needs_text``: the format reads the line
    itself (and the time it carries), not only its matches."""

    needs_text = False

    def lines(self, hit: HitLine) -> list[str]:
        raise NotImplementedError

    def end(self, now: datetime) -> list[str]:  # noqa: ARG002 - the formats' one signature: Sightings uses it
        return []


class TextFormat(OutputFormat):
    def __init__(self, colour: bool = False) -> None:
        self.colour = colour

    def lines(self, hit: HitLine) -> list[str]:
        return [text(found.match, hit.file, self.colour, found.field, found.events) for found in hit.matches]


class JsonlFormat(OutputFormat):
    def lines(self, hit: HitLine) -> list[str]:
        return [jsonl(found.match, hit.file, found.field, found.events) for found in hit.matches]


class EcsFormat(OutputFormat):
    needs_text = True

    def __init__(self, catalog: Catalog, observer: str | None = None) -> None:
        self.catalog = catalog
        self.observer = observer

    def lines(self, hit: HitLine) -> list[str]:
        return [json.dumps(ecs_record(hit, self.catalog, self.observer), ensure_ascii=True)]


class SightingsFormat(OutputFormat):
    needs_text = True  # first_seen and last_seen come from the lines' own times

    def __init__(self, observer: str) -> None:
        self.observer = observer
        self.counter = SightingCounter()

    def lines(self, hit: HitLine) -> list[str]:
        self.counter.add(hit)
        return []

    def end(self, now: datetime) -> list[str]:
        return [json.dumps(self.counter.bundle(self.observer, now), indent=2, ensure_ascii=True)]


FORMATS = ("text", "jsonl", "ecs", "sightings")


def output_format(name: str, *, colour: bool, catalog: Catalog, observer: str | None) -> OutputFormat:
    if name == "jsonl":
        return JsonlFormat()
    if name == "ecs":
        return EcsFormat(catalog, observer)
    if name == "sightings":
        return SightingsFormat(observer or default_observer())
    return TextFormat(colour)


def report_text(report: LoadReport) -> str:
    lines = [
        (
            f"read {report.read} indicator objects: {report.compiled} compiled, "
            f"{report.skipped} skipped, {report.excluded} excluded"
        ),
    ]
    if report.kinds:
        lines.append("unique values: " + ", ".join(f"{kind} {count}" for kind, count in report.kinds.items()))
    if len(report.by_source) > 1:
        for label, counts in report.by_source.items():
            lines.append(
                f"  {label}: read {counts['read']}, compiled {counts['compiled']}, "
                f"skipped {counts['skipped']}, excluded {counts['excluded']}"
            )
    if report.context:
        lines.append("other objects: " + ", ".join(f"{kind} {count}" for kind, count in report.context.items()))
    lines.extend(f"{p.status}: {p.id}: {p.reason}" for p in report.problems)
    lines.extend(f"warning: {p.id}: {p.reason}" for p in report.warnings)
    return "\n".join(lines)


def problem_summary(report: LoadReport, limit: int = 5) -> str | None:
    """One stderr line naming what was not compiled (None when all was)."""
    noted = [p for p in report.problems if p.status == "skipped"] + list(report.warnings)
    if not noted and not report.excluded:
        return None
    shown = "; ".join(f"{p.id}: {p.reason}" for p in noted[:limit])
    more = f" (and {len(noted) - limit} more; see 'iocmatch check')" if len(noted) > limit else ""
    head = f"{report.skipped} skipped, {report.excluded} excluded, {len(report.warnings)} warnings"
    return f"iocmatch: {head}" + (f": {shown}{more}" if shown else "")
