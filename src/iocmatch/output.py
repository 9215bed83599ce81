"""How matches and load reports are written for people and for programs."""

from __future__ import annotations

import json
from typing import Any

from .model import LoadReport, Match


def match_record(match: Match, file: str) -> dict[str, Any]:
    """The JSON-lines record of one match (the CLI's ``--format jsonl``)."""
    return {"file": file, **match.to_dict()}


def jsonl(match: Match, file: str) -> str:
    # surrogateescape'd bytes of invalid UTF-8 lines are written as \udcXX escapes
    return json.dumps(match_record(match, file), ensure_ascii=True)


def text(match: Match, file: str) -> str:
    """``file:line:start-end: kind value "text" [attribution] {sources} ids`` (like grep -n)."""
    shown = match.text.encode("utf-8", "backslashreplace").decode("utf-8")
    attribution = f" [{'; '.join(match.attribution)}]" if match.attribution else ""
    sources = f" {{{'; '.join(match.sources)}}}" if match.sources else ""
    return (
        f"{file}:{match.line}:{match.start}-{match.end}: {match.kind} {match.value}"
        f' "{shown}"{attribution}{sources} {" ".join(match.indicators)}'
    )


FORMATS = {"text": text, "jsonl": jsonl}


def report_text(report: LoadReport) -> str:
    lines = [
        f"read {report.read} indicator objects: {report.compiled} compiled, "
        f"{report.skipped} skipped, {report.excluded} excluded",
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
