"""Scanning: str and bytes lines, files, laziness, and lines that never raise."""

from __future__ import annotations

import gzip
from itertools import count, islice
from pathlib import Path

import pytest
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


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_no_line_content_raises(line: str | bytes) -> None:
    for match in MATCHER.scan_line(line):
        text = line.decode("utf-8", "surrogateescape") if isinstance(line, bytes) else line
        assert text[match.start : match.end] == match.text


def test_bytes_like_lines_scan_like_bytes() -> None:
    line = b"GET evil.example"
    expected = MATCHER.scan_line(line)
    assert expected
    assert MATCHER.scan_line(bytearray(line)) == expected
    assert MATCHER.scan_line(memoryview(line)) == expected


def test_case_folding_keeps_spans_whatever_else_is_on_the_line() -> None:
    matcher = matcher_for("[mutex:name = 'ΟΔΟΣ']", "[email-addr:value = 'İnfo@evil.example']")
    # A character whose lower case is two characters elsewhere on the line must not shift spans.
    for line in ("ΟΔΟΣ", "İ ΟΔΟΣ", "İstanbul: ΟΔΟΣ"):
        [match] = matcher.scan_line(line)
        assert match.text == "ΟΔΟΣ"
    assert [m.text for m in matcher.scan_line("from İnfo@evil.example")] == ["İnfo@evil.example"]


def test_ipv6_zone_is_not_part_of_the_value() -> None:
    matcher = matcher_for("[ipv6-addr:value = 'fe80::1%eth0']", "[ipv6-addr:value = 'fe80::1']")
    assert [m.value for m in matcher.scan_line("x fe80::1%eth1 y")] == ["fe80::1"]


def test_a_bare_hive_is_a_literal_key() -> None:
    matcher = matcher_for("[windows-registry-key:key = 'HKEY_CURRENT_USER']")
    assert [m.text for m in matcher.scan_line("opened HKEY_CURRENT_USER")] == ["HKEY_CURRENT_USER"]


def test_url_prefixes_keep_their_dot_and_hosts_their_unicode_spelling() -> None:
    matcher = matcher_for("[url:value LIKE 'http://evil.%']", "[url:value = 'http://bücher.example/a']")
    assert matcher.scan_line("http://evilcorp.example/") == []
    assert [m.value for m in matcher.scan_line("http://evil.example/x")] == ["http://evil.%"]
    assert [m.text for m in matcher.scan_line("GET http://BÜCHER.example/a")] == ["BÜCHER.example/a"]
    assert [m.text for m in matcher.scan_line("GET http://xn--bcher-kva.example/a")] == ["xn--bcher-kva.example/a"]
