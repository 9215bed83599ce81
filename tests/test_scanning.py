"""Scanning: str and bytes lines, files, laziness, and lines that never raise."""

from __future__ import annotations

import gzip
from itertools import count, islice
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import matcher_for

MATCHER = matcher_for(
    "[domain-name:value = 'evil.example']",
    "[ipv6-addr:value = '2001:db8::/32']",
    "[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']",
    "[windows-registry-key:key = 'HKLM\\\\Software\\\\Evil']",
)


def test_bytes_lines_keep_character_spans_after_invalid_utf8() -> None:
    line = b"\xff\xfe caf\xc3\xa9 evil.example\r\n"
    [match] = MATCHER.scan_line(line)
    assert (match.start, match.end, match.text) == (8, 20, "evil.example")
    assert MATCHER.scan_line(line.decode("utf-8", "surrogateescape")) == [match]


def test_scan_file_reads_plain_and_gzip(tmp_path: Path) -> None:
    content = b"nothing\n\x00\x01 evil.example\nlast line without newline 2001:db8::1"
    plain = tmp_path / "a.log"
    plain.write_bytes(content)
    packed = tmp_path / "a.log.gz"
    packed.write_bytes(gzip.compress(content))
    hits = [(m.line, m.text) for m in MATCHER.scan_file(plain)]
    assert hits == [(2, "evil.example"), (3, "2001:db8::1")]
    assert [(m.line, m.text) for m in MATCHER.scan_file(packed)] == hits


def test_scan_is_lazy_over_an_endless_stream() -> None:
    endless = (f"line {n} evil.example" for n in count(1))
    first_three = [m.line for m in islice(MATCHER.scan(endless), 3)]
    assert first_three == [1, 2, 3]


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_no_line_content_raises(line: str | bytes) -> None:
    for match in MATCHER.scan_line(line):
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        assert text[match.start : match.end] == match.text
