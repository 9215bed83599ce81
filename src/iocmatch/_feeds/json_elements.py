"""A bundle read object by object, for when the whole document cannot be.

``json.loads`` gives up on the whole document when one object in it is
nested deeper than the parser's recursion limit. Then the bundle's
``objects`` array is read element by element with ``raw_decode``: an
element that cannot be decoded is stepped over (brackets counted outside
strings) and reported, and the others load.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from .._common.model import Problem

_DECODER = json.JSONDecoder()
_OBJECTS_KEY = re.compile(r'"objects"\s*:\s*\[')
_SPACE = re.compile(r"[\s,]*")


def objects_one_by_one(text: str, label: str) -> tuple[list[Any], list[Problem]] | None:
    """The elements of the top-level ``objects`` array, and a problem for
    each that could not be read; None when the text is no such bundle."""
    start = _top_level_objects(text)
    if start is None:
        return None
    objects: list[Any] = []
    problems: list[Problem] = []
    at = start
    while True:
        at = _SPACE.match(text, at).end()  # type: ignore[union-attr]
        if at >= len(text) or text[at] == "]":
            return objects, problems
        try:
            element, at = _DECODER.raw_decode(text, at)
        except RecursionError:
            where = f"{label}#{len(objects) + len(problems)}"
            problems.append(Problem(where, "object nested too deeply to read", "skipped", label))
            at = _end_of_element(text, at)
            continue
        except ValueError:
            return None  # broken beyond this element: the caller reports the document
        objects.append(element)


def _top_level_objects(text: str) -> int | None:
    """Where the elements of a top-level ``"objects": [`` begin."""
    depth = 0
    for index, char in _outside_strings(text, 0):
        if char == '"':
            if depth == 1 and (found := _OBJECTS_KEY.match(text, index)):
                return found.end()
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return None


def _end_of_element(text: str, at: int) -> int:
    """The index after the element (an object or array) starting at ``at``."""
    depth = 0
    for index, char in _outside_strings(text, at):
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
    return len(text)


def _outside_strings(text: str, start: int) -> Iterator[tuple[int, str]]:
    """(index, character) of each character outside string literals, the
    opening quote of each string included."""
    in_string = escaped = False
    for index in range(start, len(text)):
        char = text[index]
        if not in_string:
            in_string = char == '"'
            yield index, char
        elif escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_string = False
