"""Log lines as text: bytes decoded so that no line can fail, and offsets in
the UTF-8 of a folded line mapped back to characters."""

from __future__ import annotations

import codecs

Line = str | bytes | bytearray | memoryview


def _line_bytes(error: UnicodeError) -> tuple[bytes, int]:
    """Encoding a line's text back to bytes: a surrogate-escaped byte (U+DC80 to
    U+DCFF, from decoding bytes that are not UTF-8) is that byte again; any
    other lone surrogate (text handed over as str, JSON's ``\\ud800``) is
    written as surrogatepass does. Nothing a line holds can fail to encode."""
    assert isinstance(error, UnicodeEncodeError)  # noqa: S101 - narrows the type: registered for encoding only
    out = bytearray()
    for char in error.object[error.start : error.end]:
        code = ord(char)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else char.encode("utf-8", "surrogatepass")
    return bytes(out), error.end


LINE_ERRORS = "iocmatch-line"
codecs.register_error(LINE_ERRORS, _line_bytes)


def as_text(line: Line) -> str:
    """A line's text without its line end (a final "\\n", then a final "\\r"):
    the one rule for every path, bytes or text, so offsets and shown lines agree."""
    if not isinstance(line, str):
        line = bytes(line).decode("utf-8", "surrogateescape")
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def in_characters(folded: str, occurrences: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Occurrences found in the UTF-8 bytes of ``folded`` at character offsets;
    those that start or end inside a character, or spell a key with bytes of
    an undecodable line, are dropped."""
    if len(folded) <= _SHORT_TEXT:
        offsets = _char_offsets(folded)
        to_char = [(offsets.get(start, -1), offsets.get(end, -1), key) for start, end, key in occurrences]
    else:
        to_char = _char_offsets_of_long_text(folded, occurrences)
    return [(start, end, key) for start, end, key in to_char if start >= 0 and end >= 0 and _is_utf8(folded[start:end])]


# Up to this many characters a line's offsets are mapped with a dict; longer
# texts (windows of long lines) with numpy, in memory per character, not per entry.
_SHORT_TEXT = 1 << 16


def _char_offsets(folded: str) -> dict[int, int]:
    """UTF-8 byte offset -> character offset, at every character boundary."""
    offsets = {}
    position = 0
    for index, char in enumerate(folded):
        offsets[position] = index
        position += len(char.encode("utf-8", LINE_ERRORS))
    offsets[position] = len(folded)
    return offsets


def _char_offsets_of_long_text(folded: str, occurrences: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """``_char_offsets`` for a long text: each character's UTF-8 length from
    its code point (a surrogate-escaped byte is one byte), summed; -1 where an
    offset falls inside a character."""
    import numpy

    codes = numpy.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=numpy.uint32)
    lengths = 1 + (codes >= 0x80).astype(numpy.int64) + (codes >= 0x800) + (codes >= 0x10000)
    lengths[(codes >= 0xDC80) & (codes <= 0xDCFF)] = 1
    starts = numpy.zeros(len(codes) + 1, dtype=numpy.int64)
    numpy.cumsum(lengths, out=starts[1:])
    ends = numpy.array([[start, end] for start, end, _ in occurrences], dtype=numpy.int64)
    index = numpy.searchsorted(starts, ends)
    on_boundary = starts[numpy.minimum(index, len(codes))] == ends
    mapped = numpy.where(on_boundary, index, -1).tolist()
    return [(first, last, key) for (first, last), (_, _, key) in zip(mapped, occurrences, strict=True)]


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
