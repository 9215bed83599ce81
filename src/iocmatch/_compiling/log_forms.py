"""Values a log's form hides, and the line as they read once it is undone: a
**view** of the line, with where each of its characters came from.

* percent-encoding (``%2F``, ``%2e``, ``%C3%A9``): one level, so ``%252F`` is
  ``%2F`` in the view; a byte that is not UTF-8 is read as such a byte of a
  line is (U+DC80 to U+DCFF), and a control character (``%0A``, ``%00``)
  becomes a space, so a view is still one line;
* Windows DNS debug names, ``(3)cia(3)toh(4)info(0)``: each label after its
  length, the run ending with ``(0)``; a name whose lengths do not hold is
  left as written, and so is a name of one label (found as written anyway);
* Zeek http.log: the ``host`` and ``uri`` columns joined, in TSV (a tab between
  a host and a field starting with ``/``) and in JSON (``"host":"h","uri":"/p"``
  in a line holding a ``{``);
* defanged text (only when asked for): ``hxxp``, ``[.]``, ``(.)``, ``{.}``,
  ``[dot]``, ``[@]``, ``(at)`` and the like, ``[:]``, ``[://]``: the marks a
  feed's values are refanged from when loading.

The forms are undone in that order, each on the result of the one before. A
view's span maps back to the line from the start of its first character's
source to the end of its last's. A block of lines gets the same view, as
bytes and without the map (``block_view``), so that the block path can tell
which lines to scan whole. Nothing here raises on line content.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any, NamedTuple

# (start, end, replacement) in the text one form reads. A replacement as long
# as what it replaces maps character by character; any other maps each of its
# characters to the whole of what it replaces.
Edit = tuple[int, int, str]


class View(NamedTuple):
    """A line with its forms undone; ``starts[i]``/``ends[i]``: where in the
    line the view's character ``i`` comes from."""

    text: str
    starts: list[int]
    ends: list[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """A span of the view as a span of the line."""
        return self.starts[start], self.ends[end - 1]


def _both(pattern: str, flags: int = 0) -> tuple[re.Pattern[str], re.Pattern[bytes]]:
    """One pattern for a line's text and for a block's bytes: ASCII only, so
    both find the same places."""
    return re.compile(pattern, flags | re.ASCII), re.compile(pattern.encode("ascii"), flags)


_PERCENT, _ = _both(r"(?:%[0-9A-Fa-f]{2})+")
# A name of two labels or more (one label is found as written): each label
# printable ASCII without parentheses, at most 63 characters.
_DNS_NAME, _DNS_NAME_BYTES = _both(r"(?:\([1-9][0-9]?\)[!-'*-~]{1,63}){2,}\(0\)")
_DNS_LABEL, _ = _both(r"\(([1-9][0-9]?)\)([!-'*-~]+)")
# How every such name ends; it starts with a fixed character, which re finds fast.
_DNS_END, _DNS_END_BYTES = _both(r"\)[!-'*-~]{1,63}\(0\)")
_HOST = r"[A-Za-z0-9_\[][A-Za-z0-9._:\[\]-]*"
_ZEEK_TSV, _ZEEK_TSV_BYTES = _both(rf"(\t{_HOST})\t/")
_ZEEK_JSON, _ZEEK_JSON_BYTES = _both(rf'("host": ?"{_HOST})"[ ]?,[ ]?"uri": ?"/')
# Literal searches, which re makes fast: how the block path tells a form may be there.
_TAB_SLASH_BYTES = re.compile(rb"\t/")
_URI_BYTES = re.compile(rb'"uri"')
# The marks a feed's values are refanged from when loading (``refang``), in any case.
_DEFANGED, _DEFANGED_BYTES = _both(
    r"\[(?:\.|dot|@|at)\]|\((?:\.|dot|@|at)\)|\{(?:\.|dot|@|at)\}|\[://\]|\[:\]|hxxp(?=s?(?::|\[:\]|\[://\]))",
    re.IGNORECASE,
)
_REFANGED = {"[://]": "://", "[:]": ":"}


def _refanged(written: str) -> str:
    written = written.lower()
    return _REFANGED.get(written) or ("http" if written[0] == "h" else "." if written[1] in ".d" else "@")


# -- a line's view, with the map back


def _percent(text: str) -> Iterator[Edit]:
    for run in _PERCENT.finditer(text):
        at = run.start()
        for byte in bytes.fromhex(run.group().replace("%", "")).decode("utf-8", "surrogateescape"):
            size = len(byte.encode("utf-8", "surrogateescape"))
            # A control character would end the line or a value: a space says as much.
            yield at, at + 3 * size, " " if byte < " " or byte == "\x7f" else byte
            at += 3 * size


def _percent_text(text: str) -> str:
    """``_percent``'s text, a run at a time."""
    return _PERCENT.sub(
        lambda run: bytes.fromhex(run.group().replace("%", "")).decode("utf-8", "surrogateescape").translate(_SPACED),
        text,
    )


_SPACED = dict.fromkeys([*range(0x20), 0x7F], " ")


def _dns_names(text: str) -> Iterator[Edit]:
    for name in _DNS_NAME.finditer(text):
        labels = list(_DNS_LABEL.finditer(name.group()))
        if any(int(label.group(1)) != len(label.group(2)) for label in labels):
            continue  # a length that does not hold: not a name
        base = name.start()
        for number, label in enumerate(labels):
            yield base + label.start(), base + label.start(2), "." if number else ""
        yield name.end() - 3, name.end(), ""


def _joined(pattern: re.Pattern[str]) -> Callable[[str], Iterator[Edit]]:
    """What stands between the end of group 1 and the next ``/`` goes."""

    def edits(text: str) -> Iterator[Edit]:
        for found in pattern.finditer(text):
            yield found.end(1), found.end() - 1, ""

    return edits


def _defanged(text: str) -> Iterator[Edit]:
    for found in _DEFANGED.finditer(text):
        yield found.start(), found.end(), _refanged(found.group())


class _Form(NamedTuple):
    may_be_in: Callable[[str], bool]  # a quick test that the form may be in a line
    edits: Callable[[str], Iterator[Edit]]
    places: Callable[[bytes], Any]  # offsets in a block where the form may be (a list or numpy array)
    in_block: Callable[[bytes], bytes]  # the form undone in lines of a block
    in_text: Callable[[str], str] | None = None  # the form undone in a line, when quicker than by its edits


# -- a block's view: the same text, bytes, no map


def _percent_marks(block: bytes) -> Any:
    """Where each ``%XX`` of a block starts, and its byte (a control byte as a
    space), with numpy: a proxy log has one on most lines."""
    if b"%" not in block:
        return (), ()
    import numpy

    data = numpy.frombuffer(block, numpy.uint8)
    marks = numpy.flatnonzero(data[:-2] == _PERCENT_SIGN)
    hex_value = _hex_value()
    high, low = hex_value[data[marks + 1]], hex_value[data[marks + 2]]
    valid = (high >= 0) & (low >= 0)
    values = high[valid] * 16 + low[valid]
    values[(values < 0x20) | (values == 0x7F)] = 0x20
    return marks[valid], values


def _percent_signs(block: bytes) -> Any:
    if b"%" not in block:
        return ()
    import numpy

    return numpy.flatnonzero(numpy.frombuffer(block, numpy.uint8) == _PERCENT_SIGN)


def _percent_block(block: bytes) -> bytes:
    marks, values = _percent_marks(block)
    if not len(marks):
        return block
    import numpy

    decoded = numpy.frombuffer(block, numpy.uint8).copy()
    decoded[marks] = values
    keep = numpy.ones(len(decoded), dtype=bool)
    keep[marks + 1] = keep[marks + 2] = False
    return bytes(decoded[keep])


_PERCENT_SIGN = ord("%")


@cache
def _hex_value() -> Any:
    """The value of each byte as a hex digit, -1 for a byte that is not one."""
    import numpy

    values = numpy.full(256, -1, dtype=numpy.int16)
    for digit in "0123456789abcdefABCDEF":
        values[ord(digit)] = int(digit, 16)
    return values


def _dns_block(block: bytes) -> bytes:
    if not _DNS_END_BYTES.search(block):
        return block

    def name(found: re.Match[bytes]) -> bytes:
        text = found.group().decode("ascii")
        return "".join(edited_text(text, list(_dns_names(text)))).encode("ascii")

    return _DNS_NAME_BYTES.sub(name, block)


def _found_at(pattern: re.Pattern[bytes], first: bytes = b"") -> Callable[[bytes], list[int]]:
    """Where ``pattern`` is in a block that holds ``first`` (a byte memchr finds)."""

    def places(block: bytes) -> list[int]:
        if first and first not in block:
            return []
        return [found.start() for found in pattern.finditer(block)]

    return places


def _joined_in_block(pattern: re.Pattern[bytes], sign: re.Pattern[bytes], first: bytes) -> Callable[[bytes], bytes]:
    """``_joined`` in a block: group 1, then the ``/`` that ended the match, on
    a line holding ``first`` (as a line's own view is made only then)."""

    def in_block(block: bytes) -> bytes:
        if first not in block or not sign.search(block):
            return block

        def joined(found: re.Match[bytes]) -> bytes:
            start = block.rfind(b"\n", 0, found.start()) + 1
            end = block.find(b"\n", found.end())
            on_line = first in block[start : end if end >= 0 else len(block)]
            return found.group(1) + b"/" if on_line else found.group()

        return pattern.sub(joined, block)

    return in_block


_FORMS = (
    _Form(lambda text: "%" in text, _percent, _percent_signs, _percent_block, _percent_text),
    _Form(lambda text: _DNS_END.search(text) is not None, _dns_names, _found_at(_DNS_END_BYTES, b")"), _dns_block),
    _Form(
        lambda text: "\t/" in text,
        _joined(_ZEEK_TSV),
        _found_at(_TAB_SLASH_BYTES, b"\t"),
        _joined_in_block(_ZEEK_TSV_BYTES, _TAB_SLASH_BYTES, b"\t"),
    ),
    _Form(
        lambda text: '"uri"' in text and "{" in text,
        _joined(_ZEEK_JSON),
        _found_at(_URI_BYTES, b"{"),
        _joined_in_block(_ZEEK_JSON_BYTES, _URI_BYTES, b"{"),
    ),
)
_DEFANGED_FORM = _Form(
    lambda text: _DEFANGED.search(text) is not None,
    _defanged,
    _found_at(_DEFANGED_BYTES),
    lambda block: _DEFANGED_BYTES.sub(lambda found: _refanged(found.group().decode("ascii")).encode("ascii"), block),
)


def _forms(defanged: bool) -> tuple[_Form, ...]:
    return (*_FORMS, _DEFANGED_FORM) if defanged else _FORMS


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


def _decoded_at(text: str, at: int) -> tuple[str, int]:
    """The character at ``at`` once percent-decoded, and where the next one starts."""
    escape = _ESCAPE.match(text, at)
    if escape is not None:
        return chr(int(escape.group(1), 16)), at + 3
    return text[at : at + 1], at + 1


def name_goes_on(text: str, end: int) -> bool:
    """Whether a name that ends at ``end`` as written goes on once decoded:
    ``%2E`` or ``%2D`` before a host character (``cia.toh.info%2Eattacker.net``
    is another host in the view)."""
    after, following = _decoded_at(text, end)
    if after in _NAME_CHARS and text[end : end + 1] == "%":
        return True
    return after == "." and text[end : end + 1] == "%" and _decoded_at(text, following)[0] in _NAME_CHARS


def may_hold_forms(text: str, defanged: bool) -> bool:
    """Whether any form may be in the line ``text`` (quick tests, before a view is made)."""
    return (
        "%" in text
        or ("(0)" in text and _DNS_END.search(text) is not None)
        or "\t/" in text
        or '"uri"' in text
        or (defanged and _DEFANGED.search(text) is not None)
    )


def view_text(text: str, defanged: bool = False) -> str:
    """The text of ``view_of(text)``, without the map back (quicker: most
    views hold no hit, and the map is made only for those that do)."""
    for form in _forms(defanged):
        if not form.may_be_in(text):
            continue
        if form.in_text is not None:
            text = form.in_text(text)
        elif edits := list(form.edits(text)):
            text = "".join(edited_text(text, edits))
    return text


def view_of(text: str, defanged: bool = False) -> View | None:
    """The line ``text`` with its forms undone, or None when no form is in it."""
    starts: list[int] | None = None
    ends: list[int] = []
    for form in _forms(defanged):
        if not form.may_be_in(text):
            continue
        edits = list(form.edits(text))
        if not edits:
            continue
        if starts is None:
            starts, ends = list(range(len(text))), list(range(1, len(text) + 1))
        starts, ends = _mapped(edits, starts, ends)
        text = "".join(edited_text(text, edits))
    return None if starts is None else View(text, starts, ends)


def edited_text(text: str, edits: list[Edit]) -> Iterator[str]:
    at = 0
    for start, end, replacement in edits:
        yield text[at:start]
        yield replacement
        at = end
    yield text[at:]


def _mapped(edits: list[Edit], starts: list[int], ends: list[int]) -> tuple[list[int], list[int]]:
    """Where each character of the edited text comes from in the line."""
    new_starts: list[int] = []
    new_ends: list[int] = []
    at = 0
    for start, end, replacement in edits:
        new_starts += starts[at:start]
        new_ends += ends[at:start]
        if len(replacement) == end - start:
            new_starts += starts[start:end]
            new_ends += ends[start:end]
        else:
            new_starts += [starts[start]] * len(replacement)
            new_ends += [ends[end - 1]] * len(replacement)
        at = end
    new_starts += starts[at:]
    new_ends += ends[at:]
    return new_starts, new_ends


# -- the block path: which lines to scan whole


def lines_with_forms(block: bytes, defanged: bool) -> tuple[bytes, list[int]]:
    """The lines of ``block`` where a form may be, joined by newlines (the
    block itself when they are most of its lines), and where each of them
    starts in the block. Each form's places are found over the whole block at once."""
    return lines_at(block, _places(block, defanged))


def lines_at(block: bytes, found: list[Any]) -> tuple[bytes, list[int]]:
    """``lines_with_forms`` of the places ``found`` (lists or arrays of offsets)."""
    places = [offsets for offsets in found if len(offsets)]
    if not places:
        return b"", []
    if len(block) < _SHORT_BLOCK:
        lines = _lines_around(block, sorted({int(offset) for found in places for offset in found}))
    else:
        import numpy

        offsets = numpy.concatenate([numpy.asarray(found, dtype=numpy.int64) for found in places])
        newlines = numpy.flatnonzero(numpy.frombuffer(block, numpy.uint8) == _NEWLINE)
        holds = numpy.zeros(len(newlines) + 1, dtype=bool)
        holds[numpy.searchsorted(newlines, offsets)] = True
        starts = numpy.append(0, newlines + 1)
        if 2 * int(numpy.count_nonzero(holds)) > len(holds):
            return block, starts.tolist()
        numbers = numpy.flatnonzero(holds)
        lines = list(zip(starts[numbers].tolist(), numpy.append(newlines, len(block))[numbers].tolist(), strict=True))
    return b"\n".join([block[start:end] for start, end in lines]), [start for start, _ in lines]


def _places(block: bytes, defanged: bool) -> list[Any]:
    """Each form's places in ``block``. Where Hyperscan is, one scan of a
    large block finds those of the forms ``_MARKS`` names, each at an offset
    inside its match (on the same line: no mark spans a newline); ``re``
    would pass over the block once for each (twice Hyperscan's time, at the
    ``)`` of every line of a BIND log)."""
    forms = _forms(defanged)
    marks = _marks_engine() if len(block) >= _SHORT_BLOCK else None
    if marks is None:
        return [form.places(block) for form in forms]
    found: list[list[int]] = [[] for _ in _MARKS]
    for end, mark in marks.candidates(block):
        found[mark].append(end - 1)
    return [forms[0].places(block), *found, *(form.places(block) for form in forms[1 + len(_MARKS) :])]


# The forms after the first (percent-encoding, found by its sign) found in one Hyperscan scan: the
# patterns of their places in _FORMS, in order.
_MARKS = (_DNS_END_BYTES.pattern, _TAB_SLASH_BYTES.pattern, _URI_BYTES.pattern)


@cache
def _marks_engine() -> Any:
    from .._engines.hyperscan import AVAILABLE, HyperscanEngine

    if not AVAILABLE:
        return None
    try:
        return HyperscanEngine.of_expressions(_MARKS)
    # A Hyperscan that imports but cannot compile here (a CPU it does not support): each form's own search.
    except Exception:  # noqa: BLE001
        return None


_NEWLINE = ord("\n")
# Up to this size a block's lines are found in plain Python: numpy costs more per call (and to import).
_SHORT_BLOCK = 4096


def _lines_around(block: bytes, offsets: list[int]) -> list[tuple[int, int]]:
    lines: list[tuple[int, int]] = []
    for offset in offsets:
        if lines and offset <= lines[-1][1]:
            continue
        end = block.find(b"\n", offset)
        lines.append((block.rfind(b"\n", 0, offset) + 1, len(block) if end < 0 else end))
    return lines


def block_view(block: bytes, defanged: bool = False) -> bytes:
    """A block of lines with their forms undone, each line's view encoded as
    scanning encodes text (``LINE_ERRORS``): its lines are the block's, one
    for one, as no form reaches across a newline or makes one."""
    for form in _forms(defanged):
        block = form.in_block(block)
    return block


def lines_holding(view: bytes, offsets: list[int]) -> list[int]:
    """The numbers (from 0) of the lines of ``view`` that hold ``offsets``."""
    numbers: list[int] = []
    line = 0  # lines of the view before `at`
    at = 0
    for offset in sorted(offsets):
        line += view.count(b"\n", at, offset)
        at = offset
        if not numbers or numbers[-1] != line:
            numbers.append(line)
    return numbers
