"""JSON-lines events: match the string fields of each JSON object line.

One event is one observation, as one line is: the selected fields are joined
by newlines and scanned once, so an AND clause may be satisfied by two fields
of the same event. A newline ends every kind of match, so joining adds no hit
and takes none away; each match is then reported in its own field, with its
span counted in that field's value. A line that is not a JSON object is
scanned as plain text; no line content raises.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from .._common.model import Match
from .._compiling.line_text import Line
from .hits import FieldMatch

_SEPARATOR = "\n"


class JsonObject(list[tuple[str, Any]]):
    """The members of one JSON object in document order, a key written twice
    kept twice: ``json.loads`` would keep only the last, and a log line can
    hide a value behind a repeated key (``{"url": "evil", "url": 1}``)."""


def string_fields(event: dict[str, Any] | JsonObject) -> Iterator[tuple[str, str]]:
    """(dotted path, value) of every string in ``event``, in document order.

    Keys join with ``.``; a list element adds ``[index]`` (``process.args[1]``).
    Walked without recursion: a deeply nested event cannot exhaust the stack.
    """
    stack: list[tuple[str, Any]] = [("", event)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            yield path, value
        elif isinstance(value, (dict, JsonObject)):
            members = value.items() if isinstance(value, dict) else value
            items = [(f"{path}.{key}" if path else str(key), item) for key, item in members]
            stack.extend(reversed(items))
        elif isinstance(value, list):
            stack.extend(reversed([(f"{path}[{index}]", item) for index, item in enumerate(value)]))


def _selected(path: str, wanted: Sequence[str]) -> bool:
    """``process`` selects ``process.command_line`` and ``process.args[0]``."""
    bare = _without_indexes(path)
    return any(bare == field or bare.startswith(field + ".") for field in wanted)


def _without_indexes(path: str) -> str:
    if "[" not in path:
        return path
    parts: list[str] = []
    depth = 0
    for char in path:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif depth == 0:
            parts.append(char)
    return "".join(parts)


def parse_event(line: Line) -> JsonObject | None:
    """The JSON object a line holds (every member, repeated keys too), else None."""
    text = line if isinstance(line, str) else bytes(line).decode("utf-8", "surrogateescape")
    if not text.lstrip().startswith("{"):
        return None
    try:
        event = json.loads(text, object_pairs_hook=JsonObject)
    except (ValueError, RecursionError):
        return None
    return event if isinstance(event, JsonObject) else None


class LineScanner(Protocol):
    """What scans a line of text: a Matcher."""

    def scan_line(self, line: Line | None, number: int = 1, at: datetime | None = None) -> list[Match]: ...

    def judged_at(self, line: Line) -> datetime | None: ...


class EventScanner:
    """Scans lines as JSON events: only ``fields`` (dotted paths), or every
    string field when ``fields`` is empty."""

    def __init__(self, matcher: LineScanner, fields: Sequence[str] = ()) -> None:
        self.matcher = matcher
        self.fields = tuple(fields)

    def scan(self, line: Line, number: int) -> tuple[list[FieldMatch], bool]:
        """The line's matches, and whether anything of it was scanned (a JSON
        object without any of the selected fields is not)."""
        event = parse_event(line)
        if event is None:
            return [FieldMatch(match) for match in self.matcher.scan_line(line, number)], True
        chosen = [
            (path, value) for path, value in string_fields(event) if not self.fields or _selected(path, self.fields)
        ]
        if not chosen:
            return [], False
        starts = []
        position = 0
        for _, value in chosen:
            starts.append(position)
            position += len(value) + len(_SEPARATOR)
        joined = _SEPARATOR.join(value for _, value in chosen)
        found = []
        # At event time, the event's own time (its @timestamp, ...), whatever the fields chosen.
        for match in self.matcher.scan_line(joined, number, self.matcher.judged_at(line)):
            index = bisect.bisect_right(starts, match.start) - 1
            path, value = chosen[index]
            start = match.start - starts[index]
            end = match.end - starts[index]
            if end <= len(value):  # never across two fields
                found.append(FieldMatch(dataclasses.replace(match, start=start, end=end), path))
        return found, True
