"""A broken row of a CSV file or a text list is one skipped row, with its line
and the reason, and every other row of the file loads and matches: a quote
left open, more cells than the header, a NUL, a field of megabytes, a value
that is not UTF-8. Files that are not text at all are still refused whole."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch import IndicatorSet
from iocmatch._common.model import PORT
from iocmatch._feeds import read_source

IOCMATCH = Path(sys.executable).with_name("iocmatch")
LONG_VALUE = b"a" * 70_000 + b".example"

# Rows of one CSV (CRLF line ends), each with the value it loads or the reason it is skipped.
CSV_ROWS: list[tuple[bytes, str]] = [
    (b"domain,good1.example,c2", "good1.example"),
    # Its quote is closed by good3's: good2 and good3 must not vanish into its value.
    (b'domain,"stray1.example,c2', "unterminated quote: its field would take in the lines after it"),
    (b"domain,good2.example", "good2.example"),
    (b'domain,good3.example,"seen ""2017"", twice"', "good3.example"),
    (b"url,http://split.example/a,b,c", "row has 4 cells, the header 3: an unquoted ',' in some cell"),
    (b'domain,good4.example,"two\r\nlines"', "good4.example"),  # RFC 4180: a quoted field over lines
    (b"domain,nul\x00.example", "row holds a NUL byte"),
    (b"domain,good5.example,caf\xe9", "good5.example"),  # only the comment is not UTF-8: it is repaired
    (b"domain,b\xe9d.example", "value is not UTF-8 text (byte 0xE9)"),
    (b"dom\xffain,badtype.example", "type is not UTF-8 text (byte 0xFF)"),
    (b"domain," + LONG_VALUE, "a field longer than 65,536 characters"),
    (b'yara,"rule x\r\n{\r\n  condition: true\r\n}",', "unknown indicator type 'yara'"),  # a MISP rule: one row
    (b"ipv4,198.51.100.7", "198.51.100.7"),
    (b'domain,"stray2.example', "unterminated quote: still open at the end of the file"),
]
TEXT_LINES: list[tuple[bytes, str]] = [
    (b"good1.example", "good1.example"),
    (b"nul\x00.example", "line holds a NUL byte"),
    (b"good2.example # caf\xe9", "good2.example"),
    (b"b\xe9d.example", "value is not UTF-8 text (byte 0xE9)"),
    (b"198.51.100.8:8080", "198.51.100.8"),
    (LONG_VALUE, "a field longer than 65,536 characters"),
    (b'"quoted.example', "unrecognised value '\"quoted.example'"),  # a quote means nothing in a list
    (b"good3.example;seen \xff", "good3.example"),
]


def _file(rows: list[tuple[bytes, str]], header: bytes, end: bytes) -> tuple[bytes, list[tuple[int, str]]]:
    """The file's bytes, and each row's first line with its value or reason."""
    data, expected, line = header, [], header.count(end) + 1
    for row, outcome in rows:
        data += row + end
        expected.append((line, outcome))
        line += row.count(end) + 1
    return data, expected


def _is_value(outcome: str) -> bool:
    """A value holds no space; a reason does."""
    return " " not in outcome


def _loads_only_the_good_rows(loaded: IndicatorSet, path: Path, expected: list[tuple[int, str]]) -> None:
    report = loaded.report
    good = [outcome for _, outcome in expected if _is_value(outcome)]
    assert report.read == len(expected)
    assert report.read == report.compiled + report.skipped + report.excluded
    assert (report.compiled, report.excluded) == (len(good), 0)
    assert [(p.id, p.reason) for p in report.problems] == [
        (f"{path}:{line}", outcome) for line, outcome in expected if not _is_value(outcome)
    ]
    matcher = iocmatch.compile(loaded)
    # The list's address with a port is that address on that port, on one line.
    hits = matcher.scan_line("seen: " + " ".join(good) + " dpt=8080")
    assert {hit.value for hit in hits if hit.kind != PORT} == set(good)
    # What reading the broken rows as they stand would have loaded.
    assert not matcher.scan_line("seen: stray1.example http://split.example/a stray2.example badtype.example")


def test_every_broken_csv_row_is_one_skipped_row(tmp_path: Path) -> None:
    data, expected = _file(CSV_ROWS, b"type,value,comment\r\n", b"\r\n")
    path = tmp_path / "feed.csv"
    path.write_bytes(data)
    _loads_only_the_good_rows(iocmatch.load(path), path, expected)
    descriptions = {obj["name"]: obj.get("description") for obj in read_source(path)[0].objects}
    assert descriptions["good4.example"] == "two\r\nlines"
    assert descriptions["good5.example"] == "caf\ufffd"


def test_every_broken_text_line_is_one_skipped_line(tmp_path: Path) -> None:
    data, expected = _file(TEXT_LINES, b"", b"\n")
    path = tmp_path / "feed.txt"
    path.write_bytes(data)
    _loads_only_the_good_rows(iocmatch.load(path), path, expected)
    descriptions = {obj["name"]: obj.get("description") for obj in read_source(path)[0].objects}
    assert descriptions["good2.example"] == "caf\ufffd"
    assert descriptions["good3.example"] == "seen \ufffd"


def test_check_reports_the_broken_rows_and_adds_up(tmp_path: Path) -> None:
    data, expected = _file(CSV_ROWS, b"type,value,comment\r\n", b"\r\n")
    path = tmp_path / "feed.csv"
    path.write_bytes(data)
    checked = subprocess.run([str(IOCMATCH), "check", "--json", "-i", str(path)], capture_output=True, check=False)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    skipped = [(line, outcome) for line, outcome in expected if not _is_value(outcome)]
    compiled = len(expected) - len(skipped)
    assert (report["read"], report["compiled"], report["skipped"]) == (len(expected), compiled, len(skipped))
    assert report["read"] == report["compiled"] + report["skipped"] + report["excluded"]
    assert [(p["id"], p["reason"]) for p in report["problems"]] == [(f"{path}:{n}", why) for n, why in skipped]


def test_a_quote_never_closed_loses_one_row_of_a_long_feed(tmp_path: Path) -> None:
    # 4,000 rows (100 KB) before a quote that could close it: past the 64 KiB an open quote may run.
    rows = [f"domain,good{number}.example" for number in range(4000)]
    last = 'domain,last.example,"a late, quoted note"'
    path = tmp_path / "feed.csv"
    path.write_text("\n".join(["type,value,comment", 'domain,"stray.example', *rows, last, ""]))
    loaded = iocmatch.load(path)
    assert [(p.id, p.reason) for p in loaded.report.problems] == [
        (f"{path}:2", "unterminated quote: still open 65,536 characters on")
    ]
    assert loaded.report.compiled == 4001
    matcher = iocmatch.compile(loaded)
    assert [hit.value for hit in matcher.scan_line("good0.example good3999.example last.example")] == [
        "good0.example",
        "good3999.example",
        "last.example",
    ]


@pytest.mark.parametrize(
    ("opening", "reason"),
    [
        ('"' + "x" * 70_000, "the lines its field takes in make a field longer than 65,536 characters"),
        ('"open \x00 quote', "the lines its field takes in make row holds a NUL byte"),
    ],
)
def test_a_record_over_several_lines_that_cannot_be_read_gives_its_lines_back(
    opening: str, reason: str, tmp_path: Path
) -> None:
    """The quote's row is skipped; the rows its quote ran over are read as
    rows of their own, so none goes missing uncounted."""
    path = tmp_path / "feed.csv"
    rows = ["type,value,comment", f"domain,q1.example,{opening}", "domain,q2.example,ok", 'domain,q3.example,end"',
            "domain,q4.example,ok"]  # fmt: skip
    path.write_text("\n".join(rows) + "\n")
    report = iocmatch.load(path).report
    assert [(p.id, p.reason) for p in report.problems] == [(f"{path}:2", f"unterminated quote: {reason}")]
    assert (report.read, report.compiled) == (4, 3)


def test_a_feed_with_a_few_bad_bytes_is_text_and_a_binary_file_is_refused(tmp_path: Path) -> None:
    good = b"".join(b"good%d.example\n" % number for number in range(30))
    feed = tmp_path / "feed.txt"
    feed.write_bytes(good + b"\x00\x01\x02\x03\xff\xfe\n")  # 6 bad bytes in 447
    report = iocmatch.load(feed).report
    assert (report.read, report.compiled, report.skipped) == (31, 30, 1)
    assert report.problems[0].reason == "line holds a NUL byte"
    compressed = tmp_path / "feed.txt.gz"
    compressed.write_bytes(gzip.compress(good * 20))
    with pytest.raises(iocmatch.SourceError, match=r"feed\.txt\.gz: binary data, not UTF-8 text"):
        iocmatch.load(compressed)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("\ufeffevil.example\r\n".encode("utf-16-le"), "UTF-16 text, not UTF-8"),
        ("\ufeffType,Value\ndomain,evil.example\n".encode("utf-16-be"), "UTF-16 text, not UTF-8"),
        ("evil.example\nother.example\n".encode("utf-16-le"), "UTF-16 text without a byte order mark"),
        ("evil.example\n".encode("utf-32"), "UTF-32 text, not UTF-8"),  # the codec writes the mark
    ],
    ids=["utf-16-le", "utf-16-be", "utf-16-le-unmarked", "utf-32"],
)
def test_utf16_is_refused_by_name(content: bytes, message: str, tmp_path: Path) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_bytes(content)
    with pytest.raises(iocmatch.SourceError, match=rf"feed\.txt: {message}") as raised:
        iocmatch.load(feed)
    assert "\n" not in str(raised.value)


# ------------------------------------------------------------ any mix of rows

_GOOD_CSV = [b"domain,{v}", b"domain,{v},a note", b'"domain","{v}","a, quoted note"', b'domain,{v},"two\nlines"']
_GOOD_CSV += [b"domain,{v},caf\xe9", b"  domain , {v} "]
_BROKEN_CSV = [b'domain,"{v}', b"url,http://{v}/a,b,c", b"domain,{v}\x00", b"domain,\xe9{v}", b"dom\xe9ain,{v}"]
_GOOD_TEXT = [b"{v}", b"{v} # a note", b"{v};caf\xe9", b"  {v}  "]
_BROKEN_TEXT = [b"{v}\x00", b"\xe9{v}", b"{v}\x00 # note"]
_NOT_DATA = [b"", b"# a comment", b'# a "quoted, comment']


@st.composite
def _feeds(draw: st.DrawFn, good: list[bytes], broken: list[bytes]) -> tuple[list[bytes], list[str], list[int]]:
    """Rows of every form in any order: the rows, the good values, the lines of the broken rows."""
    rows: list[bytes] = []
    values: list[str] = []
    broken_lines: list[int] = []
    line = 1
    for number in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["good", "broken", "not data"]))
        forms = {"good": good, "broken": broken, "not data": _NOT_DATA}[kind]
        value = f"{kind.replace(' ', '')}{number}.example"
        row = draw(st.sampled_from(forms)).replace(b"{v}", value.encode())
        if kind == "good":
            values.append(value)
        elif kind == "broken":
            broken_lines.append(line)
        rows.append(row)
        line += row.count(b"\n") + 1
    return rows, values, broken_lines


def _accounts_for_every_row(loaded: IndicatorSet, values: list[str], broken: list[str]) -> None:
    report = loaded.report
    assert report.read == report.compiled + report.skipped + report.excluded == len(values) + len(broken)
    assert sorted(indicator.name for indicator in loaded.indicators) == sorted(values)
    assert [problem.id for problem in report.problems] == broken
    # Bytes that are not UTF-8 never reach a report: it is printed as UTF-8.
    json.dumps(report.to_dict(), ensure_ascii=False).encode()


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mix=_feeds(_GOOD_CSV, _BROKEN_CSV), end=st.sampled_from([b"\n", b"\r\n"]))
def test_any_mix_of_csv_rows_loads_the_good_and_skips_the_broken(
    mix: tuple[list[bytes], list[str], list[int]], end: bytes, tmp_path: Path
) -> None:
    rows, values, broken_lines = mix
    path = tmp_path / "mix.csv"
    path.write_bytes(b"\n".join([b"type,value,comment", *rows, b""]).replace(b"\n", end))
    loaded = iocmatch.load(path)
    _accounts_for_every_row(loaded, values, [f"{path}:{line + 1}" for line in broken_lines])


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mix=_feeds(_GOOD_TEXT, _BROKEN_TEXT), end=st.sampled_from([b"\n", b"\r\n", b"\r"]))
def test_any_mix_of_text_lines_loads_the_good_and_skips_the_broken(
    mix: tuple[list[bytes], list[str], list[int]], end: bytes, tmp_path: Path
) -> None:
    rows, values, broken_lines = mix
    path = tmp_path / "mix.txt"
    path.write_bytes(b"\n".join([*rows, b""]).replace(b"\n", end))
    loaded = iocmatch.load(path)
    _accounts_for_every_row(loaded, values, [f"{path}:{line}" for line in broken_lines])
