"""The rows of a CSV file or a text list, each read or refused on its own.

A feed is written by hand or by scripts that slip: a quote left open, a NUL, a
field of megabytes, a byte that is not UTF-8. Such a row is reported with its
line and the reason, and reading goes on at the next line, so one bad row
costs only itself.
"""

from __future__ import annotations

import csv
import io
import re
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from itertools import accumulate

# A field longer than this holds no indicator: servers refuse URLs beyond 8 to
# 16 KiB and a Windows path stops at 32,767 characters. It is a quote left open
# or a corrupt row, and refusing it bounds the work done on one row.
MAX_FIELD = 65_536
# RFC 4180 lets a quoted field run over lines (MISP exports hold YARA rules of
# 45 lines), but no field is longer than MAX_FIELD: a quote still open that far
# into the lines after its row's first was left open by mistake.
MAX_QUOTED = MAX_FIELD

# What decoding with surrogateescape makes of bytes that are not UTF-8.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def decode(data: bytes) -> str:
    """A file's text; bytes that are not UTF-8 stay as surrogate escapes, so
    that the rows holding them can be told apart and reported."""
    return data.decode("utf-8-sig", "surrogateescape")


def undecodable_bytes(text: str) -> int:
    """How many bytes that are not UTF-8 the text ``decode`` gave holds."""
    return len(_UNDECODABLE.findall(text))


def physical_lines(text: str) -> list[str]:
    """Lines split at ``\\n``, ``\\r\\n`` or ``\\r``, their endings kept, as the csv module wants them."""
    return io.StringIO(text, newline="").readlines()


def damage(fields: list[str], what: str) -> str | None:
    """Why a row (or line) cannot be read at all: a NUL, or a field too long to be a value."""
    if any("\x00" in field for field in fields):
        return f"{what} holds a NUL byte"
    if any(len(field) > MAX_FIELD for field in fields):
        return _too_long()
    return None


def not_utf8(text: str, what: str) -> str | None:
    """Why ``text`` cannot be a type or a value: it holds bytes that are not UTF-8."""
    found = _UNDECODABLE.search(text)
    if found is None:
        return None
    return f"{what} is not UTF-8 text (byte 0x{ord(found.group()) - 0xDC00:02X})"


def repaired(text: str) -> str:
    """``text`` with bytes that are not UTF-8 as U+FFFD: a comment is kept, not refused."""
    if _UNDECODABLE.search(text) is None:
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _too_long() -> str:
    return f"a field longer than {MAX_FIELD:,} characters"


# ------------------------------------------------------------------ CSV records


@dataclass(frozen=True, slots=True)
class Record:
    """A CSV record: the line it starts on and its cells, or why it could not be read."""

    line: int  # 1-based
    cells: list[str]
    problem: str | None = None


def records(
    lines: list[str], delimiter: str, broken: Callable[[list[str]], str | None] | None = None
) -> Iterator[Record]:
    """Every record but blank ones and ``#`` comments, cells stripped.

    A record whose quote is not closed, within the file or within MAX_QUOTED
    characters of the lines after its first, is a Record with a problem, and
    reading resumes at its second line. So is a record over several lines
    for whose cells ``broken`` gives a reason (a quote closed by a later
    row's, a record the lines taken in make unreadable): the lines after its
    first are then read as rows of their own, so none is lost uncounted.
    """
    extents = _Extents(lines, delimiter)
    start = 0
    while start < len(lines):
        if lines[start].lstrip().startswith("#"):  # a comment is one line, whatever quotes it holds
            start += 1
            continue
        try:
            end = extents.end(start)
            cells = _cells(lines[start:end], delimiter)
        except _Unreadable as exc:
            yield Record(start + 1, [], str(exc))
            start += 1
            continue
        reason = broken(cells) if end > start + 1 and broken is not None else None
        if reason is not None:
            yield Record(start + 1, [], reason)
            start += 1
            continue
        if any(cells) and not cells[0].startswith("#"):
            yield Record(start + 1, cells)
        start = end


class _Unreadable(Exception):
    """A record that cannot be read: a quote not closed, or a field too long."""


class _Extents:
    """Where records end. The quotes of a line are followed by regular
    expressions that read them as the csv module does (RFC 4180 quotes; a
    quote inside a field that does not start with one is kept as written),
    and each line is looked at once, however many quotes are left open."""

    def __init__(self, lines: list[str], delimiter: str) -> None:
        self.lines = lines
        self.opens, self.closes = _quote_rules(delimiter)
        self.searched_from = len(lines)  # no line in [searched_from, closing) closes a quote
        self.closing: int | None = None  # the first that does; None: none up to the end
        self.offsets: array[int] | None = None  # where each line starts, in characters

    def end(self, start: int) -> int:
        """The index after the last line of the record that starts at ``start``."""
        line = self.lines[start]
        if '"' not in line or self.opens.fullmatch(line.rstrip("\r\n")):
            return start + 1
        closing = self._closing_line(start + 1)
        if closing is None:
            raise _Unreadable("unterminated quote: still open at the end of the file")
        if self._characters(start + 1, closing + 1) > MAX_QUOTED:
            raise _Unreadable(f"unterminated quote: still open {MAX_QUOTED:,} characters on")
        return closing + 1

    def _closing_line(self, index: int) -> int | None:
        """The first line from ``index`` on that closes a quoted field open at its start."""
        if self.searched_from <= index and (self.closing is None or index <= self.closing):
            return self.closing
        self.searched_from = index
        self.closing = next(
            (
                number
                for number in range(index, len(self.lines))
                if '"' in self.lines[number] and self.closes.fullmatch(self.lines[number].rstrip("\r\n"))
            ),
            None,
        )
        return self.closing

    def _characters(self, start: int, end: int) -> int:
        if self.offsets is None:
            self.offsets = array("q", accumulate(map(len, self.lines), initial=0))
        return self.offsets[end] - self.offsets[start]


@cache
def _quote_rules(delimiter: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A line that ends outside quotes when read from a record's start, and when
    read from inside a quoted field. A pair of quotes in a quoted field is a
    quote: the closing one is the first quote not followed by another."""
    other = f"[^{re.escape(delimiter)}]*"
    quoted_rest = rf'[^"]*(?:""[^"]*)*"(?!"){other}'
    field = rf'(?:"{quoted_rest}|[^"{re.escape(delimiter)}]{other}|)'
    fields = rf"(?:{re.escape(delimiter)}{field})*"
    return re.compile(field + fields), re.compile(quoted_rest + fields)


def _cells(lines: list[str], delimiter: str) -> list[str]:
    if len(lines) == 1 and '"' not in lines[0]:
        row = lines[0].rstrip("\r\n").split(delimiter)
    else:
        try:
            row = next(csv.reader(lines, delimiter=delimiter), [])
        except csv.Error as exc:  # its field limit (128 KiB by default) is above ours
            raise _Unreadable(_too_long() if "field limit" in str(exc) else f"unreadable CSV row ({exc})") from None
    return [cell.strip() for cell in row]
