"""A log line as a record: flat field paths, each with the values it holds.

- A JSON object line: nested keys join with ``.`` (``{"source": {"ip": ..}}``
  and ``{"source.ip": ..}`` both give ``source.ip``, as ECS allows either);
  an array gives its elements in order, an array of objects gives each
  object's fields under the same path (``dns.answers.data``).
- A Zeek TSV line, read with the ``#separator``/``#set_separator``/``#path``/
  ``#fields``/``#types`` header lines before it: ``-`` (unset) and ``(empty)``
  give no value, a ``set[..]``/``vector[..]`` column its elements; ``#path``
  becomes the field ``_path`` that Zeek JSON carries, so one mapping serves both.
- A CEF line (``CEF:0|vendor|product|version|class|name|severity|ext``, maybe
  after a syslog header): the seven header fields by their CEF names and each
  ``key=value`` of the extension, with CEF's escapes undone.

Nothing here raises on line content: a line that is none of these is no record.
"""

from __future__ import annotations

import json
import re
from typing import Any

Fields = dict[str, list[Any]]

CEF_HEADER = ("cefVersion", "deviceVendor", "deviceProduct", "deviceVersion", "deviceEventClassId", "name", "severity")
_CEF_START = re.compile(r"CEF:\s*(\d+)\|")
# A key of the extension: a word right before "=", after a space (or at the start).
_CEF_KEY = re.compile(r"(?:^|(?<= ))([A-Za-z0-9_.\[\]-]+)=")
_CEF_HEADER_ESCAPE = re.compile(r"\\([\\|])")
_CEF_VALUE_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_CEF_VALUE_ESCAPES = {"n": "\n", "r": "\r", "=": "=", "\\": "\\"}
_ZEEK_UNSET = "-"
_ZEEK_EMPTY = "(empty)"


def flatten(event: Any) -> Fields:
    """The flat fields of a decoded JSON value, walked without recursion."""
    fields: Fields = {}
    stack: list[tuple[str, Any]] = [("", event)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            # Reversed onto the stack, so values come out in document order.
            stack.extend((f"{path}.{key}" if path else str(key), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((path, item) for item in reversed(value))
        elif value is not None and path:
            fields.setdefault(path, []).append(value)
    return fields


def json_fields(line: str) -> Fields | None:
    """The fields of a JSON object line, or None when it is not one."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return flatten(event) if isinstance(event, dict) else None


def cef_fields(line: str) -> Fields | None:
    """The header and extension fields of a CEF line, or None when it has no CEF header."""
    start = _CEF_START.search(line)
    if start is None:
        return None
    parts = _split_header(line[start.end() :])
    if parts is None:
        return None
    header, extension = parts
    fields: Fields = {"cefVersion": [start.group(1)]}
    for name, value in zip(CEF_HEADER[1:], header, strict=True):
        fields[name] = [_CEF_HEADER_ESCAPE.sub(r"\1", value)]
    keys = list(_CEF_KEY.finditer(extension))
    for index, key in enumerate(keys):
        end = keys[index + 1].start() if index + 1 < len(keys) else len(extension)
        value = extension[key.end() : end].rstrip(" ")
        fields.setdefault(key.group(1), []).append(_unescape_cef_value(value))
    return fields


def _split_header(rest: str) -> tuple[list[str], str] | None:
    """The six header fields after the version, and the extension; a ``\\|`` stays in its field."""
    header: list[str] = []
    start = index = 0
    while len(header) < 6:
        bar = rest.find("|", index)
        if bar < 0:
            return None
        if _escaped(rest, bar):
            index = bar + 1
            continue
        header.append(rest[start:bar])
        start = index = bar + 1
    return header, rest[start:]


def _escaped(text: str, at: int) -> bool:
    backslashes = 0
    while at - backslashes - 1 >= 0 and text[at - backslashes - 1] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _unescape_cef_value(value: str) -> str:
    return _CEF_VALUE_ESCAPE.sub(lambda found: _CEF_VALUE_ESCAPES.get(found.group(1), found.group(0)), value)


class ZeekHeader:
    """The header of a Zeek TSV log, read line by line as the log goes on."""

    def __init__(self) -> None:
        self.separator = "\t"
        self.set_separator = ","
        self.path = ""
        self.names: list[str] = []
        self.types: list[str] = []
        self._container_columns: list[bool] | None = None

    def read(self, line: str) -> bool:
        """Take a ``#`` header line; False when the line is not one."""
        if not line.startswith("#"):
            return False
        text = line.rstrip("\r\n")
        if text.startswith("#separator "):
            # Zeek writes it escaped (``\x09``); a header it cannot be read from keeps the one before.
            try:
                separator = text[len("#separator ") :].encode("ascii", "replace").decode("unicode_escape")
            except UnicodeDecodeError:
                return True
            if separator:
                self.separator = separator
            return True
        name, _, value = text[1:].partition(self.separator)
        if name == "set_separator":
            if value:  # an empty one would split nothing
                self.set_separator = value
        elif name == "path":
            self.path = value
        elif name == "fields":
            self.names = value.split(self.separator)
            self.types = []
            self._container_columns = None
        elif name == "types":
            self.types = value.split(self.separator)
            self._container_columns = None
        return True

    def fields(self, line: str) -> Fields | None:
        """The fields of a data line, or None when there is no ``#fields`` header or the column count differs."""
        if not self.names:
            return None
        columns = line.rstrip("\r\n").split(self.separator)
        if len(columns) != len(self.names):
            return None
        containers = self._containers()
        fields: Fields = {"_path": [self.path]} if self.path else {}
        for name, column, is_container in zip(self.names, columns, containers, strict=False):
            if column in (_ZEEK_UNSET, _ZEEK_EMPTY):
                continue
            fields[name] = column.split(self.set_separator) if is_container else [column]
        return fields

    def _containers(self) -> list[bool]:
        """Which columns hold sets or vectors (by ``#types``), worked out once per header."""
        if self._container_columns is None or len(self._container_columns) != len(self.names):
            kinds = self.types + [""] * (len(self.names) - len(self.types))
            self._container_columns = [kind.startswith(("set[", "vector[")) for kind in kinds[: len(self.names)]]
        return self._container_columns


class RecordReader:
    """Lines of one log -> records; keeps the Zeek header state between lines."""

    def __init__(self) -> None:
        self.zeek = ZeekHeader()

    def read(self, line: str | dict[str, Any]) -> Fields | None:
        """The fields of one line (or of an event already decoded), or None for a header or no record."""
        if isinstance(line, dict):
            return flatten(line)
        if self.zeek.read(line):
            return None
        return json_fields(line) or cef_fields(line) or self.zeek.fields(line)
