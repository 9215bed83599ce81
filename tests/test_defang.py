"""Defanged values in feeds (``hxxp://evil[.]com``) are refanged when loading,
with a warning naming the indicator, the value as written and the value read;
kinds that may hold brackets (file names, registry keys, ...) are never touched.
Finding defanged text in logs is another matter (not done here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import iocmatch
from iocmatch._common.model import SUBDOMAINS_ONLY
from iocmatch._feeds.openioc import read_openioc
from iocmatch._patterns.canonical import canonical_value, refang
from iocmatch._patterns.clauses import compile_pattern
from tests.conftest import bundle, indicator

# (object path, value as published, canonical value read)
DEFANGED = [
    ("url:value", "hxxp://example[.]band/x", "http://example.band/x"),
    ("url:value", "hxxps://example[.]band/x", "https://example.band/x"),
    ("url:value", "hXXp://example.band/x", "http://example.band/x"),
    ("url:value", "HXXPS://Example.band/X", "https://example.band/X"),
    ("url:value", "hxxp[://]example.band/x", "http://example.band/x"),
    ("url:value", "hxxp[:]//example.band/x", "http://example.band/x"),
    ("url:value", "http[://]example.band/x", "http://example.band/x"),
    ("url:value", "http://example(.)band/x", "http://example.band/x"),
    ("url:value", "http://example{.}band/x", "http://example.band/x"),
    ("url:value", "http://example[dot]band/x", "http://example.band/x"),
    ("url:value", "http://example.band[:]8080/x", "http://example.band:8080/x"),
    ("url:value", "http://user[@]example.band/x", "http://example.band/x"),  # no user info in a canonical URL
    # Once the scheme or host shows the URL was defanged, so were the dots of its path.
    ("url:value", "hxxp://example[.]band/a[.]php?q=1", "http://example.band/a.php?q=1"),
    ("url:value", "example[.]band/x", "example.band/x"),
    ("url:value", "hxxp://1[.]2[.]3[.]4/x", "http://1.2.3.4/x"),
    ("domain-name:value", "example[.]band", "example.band"),
    ("domain-name:value", "example(.)band", "example.band"),
    ("domain-name:value", "example{.}band", "example.band"),
    ("domain-name:value", "Example[DOT]Band", "example.band"),
    ("domain-name:value", "a[.]example[.]band", "a.example.band"),
    ("email-addr:value", "john@example[.]band", "john@example.band"),
    ("email-addr:value", "john[@]example.band", "john@example.band"),
    ("email-addr:value", "john(at)example.band", "john@example.band"),
    ("email-addr:value", "john[at]example[.]band", "john@example.band"),
    ("email-message:from_ref.value", "john[@]example.band", "john@example.band"),
    ("ipv4-addr:value", "192[.]0[.]2[.]1", "192.0.2.1"),
    ("ipv4-addr:value", "192(.)0(.)2(.)0/24", "192.0.2.0/24"),
]

# (object path, value that stays as it is written, canonical value)
UNTOUCHED = [
    ("file:name", "invoice[.]pdf", "invoice[.]pdf"),
    ("file:name", "report(at)home.doc", "report(at)home.doc"),
    ("mutex:name", "Global\\evil[.]mutex", "Global\\evil[.]mutex"),
    ("windows-registry-key:key", "HKEY_LOCAL_MACHINE\\Software\\a[.]b", "HKEY_LOCAL_MACHINE\\Software\\a[.]b"),
    ("directory:path", "C:\\Users\\x[.]y", "C:\\Users\\x[.]y"),
    # A URL whose scheme and host are as they are keeps its path as written.
    ("url:value", "http://example.band/a[.]b", "http://example.band/a[.]b"),
    ("url:value", "http://example.band/xx(at)y", "http://example.band/xx(at)y"),
    ("url:value", "http://[2001:db8::1]/x", "http://[2001:db8::1]/x"),
    # An address that has its '@': a parenthesis in it is no defanged '@'.
    ("email-addr:value", "john(at)x@example.band", "john(at)x@example.band"),
    ("domain-name:value", "example.band", "example.band"),
]


def quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def only_value(pattern: str, fast: bool) -> tuple[str, tuple[str, ...]]:
    compiled = compile_pattern(pattern, fast=fast)
    [[one]] = compiled.clauses
    return one.value, compiled.warnings


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "grammar"])
@pytest.mark.parametrize(("path", "written", "canonical"), DEFANGED)
def test_defanged_values_are_refanged_with_a_warning(path: str, written: str, canonical: str, fast: bool) -> None:
    value, warnings = only_value(f"[{path} = {quoted(written)}]", fast)
    assert value == canonical
    assert warnings == (f"defanged value {written!r} refanged to {canonical!r}",)


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "grammar"])
@pytest.mark.parametrize(("path", "written", "canonical"), UNTOUCHED)
def test_values_that_may_hold_brackets_are_not_touched(path: str, written: str, canonical: str, fast: bool) -> None:
    assert only_value(f"[{path} = {quoted(written)}]", fast) == (canonical, ())


@pytest.mark.parametrize(("path", "written", "canonical"), DEFANGED)
def test_canonical_value_refangs_for_every_reader(path: str, written: str, canonical: str) -> None:
    """Lists and STIX 1 canonicalise their values themselves, through ``canonical_value``."""
    [[read]] = compile_pattern(f"[{path} = {quoted(canonical)}]").clauses
    kind = read.kind
    assert canonical_value(kind, written) == canonical
    assert refang(kind, refang(kind, written)) == refang(kind, written)


def test_refanging_in_in_lists_like_and_or_is_the_same_on_both_paths() -> None:
    patterns = [
        "[domain-name:value IN ('a[.]example', 'b.example', 'c(.)example')]",
        "[domain-name:value LIKE '%.evil[.]example']",
        "[url:value = 'hxxp://a[.]example/'] OR [ipv4-addr:value = '192[.]0[.]2[.]7']",
        "[domain-name:value = 'a[.]example' OR domain-name:value = 'b.example']",
    ]
    for pattern in patterns:
        fast, grammar = compile_pattern(pattern), compile_pattern(pattern, fast=False)
        assert fast == grammar
        assert fast.warnings
        assert all("refanged to" in warning for warning in fast.warnings)
    [[suffix]] = compile_pattern(patterns[1]).clauses
    assert (suffix.value, suffix.mode) == ("evil.example", SUBDOMAINS_ONLY)


def test_a_value_that_is_still_invalid_once_refanged_is_skipped() -> None:
    loaded = iocmatch.load(bundle(indicator("[domain-name:value = 'evil[.]exa mple']")))
    assert loaded.report.skipped == 1
    assert "is not a valid domain name" in loaded.report.problems[0].reason


def test_a_stix_bundle_loads_its_defanged_indicators_with_a_warning_each(tmp_path: Path) -> None:
    objects = [
        indicator("[url:value = 'hxxp://example[.]band/x']", 1),
        indicator("[domain-name:value = 'evil[.]example']", 2),
        indicator("[email-addr:value = 'boss(at)evil[.]example']", 3),
        indicator("[domain-name:value = 'plain.example']", 4),
        indicator("[file:name = 'invoice[.]pdf']", 5),
    ]
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(bundle(*objects)))
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped) == (5, 5, 0)
    assert [(w.id, w.reason) for w in report.warnings] == [
        (objects[0]["id"], "defanged value 'hxxp://example[.]band/x' refanged to 'http://example.band/x'"),
        (objects[1]["id"], "defanged value 'evil[.]example' refanged to 'evil.example'"),
        (objects[2]["id"], "defanged value 'boss(at)evil[.]example' refanged to 'boss@evil.example'"),
    ]
    assert all(w.status == "warning" and w.source == str(path) for w in report.warnings)
    values = {one.value for indicator_ in loaded.indicators for clause in indicator_.clauses for one in clause}
    assert values == {"http://example.band/x", "evil.example", "boss@evil.example", "plain.example", "invoice[.]pdf"}


def test_a_text_list_loads_its_defanged_urls_with_a_warning_each(tmp_path: Path) -> None:
    """A text list tells a value's kind from its shape (``infer_kind``): the
    defanged values it takes for a kind are refanged like any other reader's."""
    path = tmp_path / "iocs.txt"
    path.write_text("# defanged\nhxxp://example[.]band/x\nhxxps://evil[.]example/a\nplain.example\n")
    report = iocmatch.load(path).report
    assert (report.read, report.compiled, report.skipped) == (3, 3, 0)
    assert sorted(w.reason for w in report.warnings) == [
        "defanged value 'hxxp://example[.]band/x' refanged to 'http://example.band/x'",
        "defanged value 'hxxps://evil[.]example/a' refanged to 'https://evil.example/a'",
    ]


def test_a_csv_list_refangs_every_kind_it_names_and_leaves_file_names(tmp_path: Path) -> None:
    path = tmp_path / "iocs.csv"
    path.write_text(
        "type,value\n"
        "domain,evil[.]example\n"
        "email-src,boss[@]evil.example\n"
        "ip-dst,192[.]0[.]2[.]9\n"
        "url,hxxp://example[.]band/x\n"
        "filename,invoice[.]pdf\n"
    )
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped) == (5, 5, 0)
    assert sorted(w.reason for w in report.warnings) == [
        "defanged value '192[.]0[.]2[.]9' refanged to '192.0.2.9'",
        "defanged value 'boss[@]evil.example' refanged to 'boss@evil.example'",
        "defanged value 'evil[.]example' refanged to 'evil.example'",
        "defanged value 'hxxp://example[.]band/x' refanged to 'http://example.band/x'",
    ]
    values = {one.value for indicator_ in loaded.indicators for clause in indicator_.clauses for one in clause}
    assert "invoice[.]pdf" in values


SQUID = "1286536308.779    180 192.0.2.224 TCP_MISS/200 411 GET http://example.band/x - DIRECT/198.51.100.1 text/html"


def test_the_refanged_value_hits_a_real_log_line_and_the_defanged_text_does_not() -> None:
    loaded = iocmatch.load(bundle(indicator("[url:value = 'hxxp://example[.]band/x']")))
    matcher = iocmatch.compile(loaded)
    [match] = matcher.scan_line(SQUID)
    assert (match.text, match.value) == ("example.band/x", "http://example.band/x")
    assert matcher.scan_line("analyst note: blocked hxxp://example[.]band/x today") == []


def test_check_prints_the_warning(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    obj = indicator("[domain-name:value = 'evil[.]example']")
    path.write_text(json.dumps(bundle(obj)))
    done = subprocess.run(
        [sys.executable, "-m", "iocmatch", "check", "-i", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert f"warning: {obj['id']}: defanged value 'evil[.]example' refanged to 'evil.example'" in done.stdout


def test_a_text_list_refangs_values_of_every_kind_it_can_tell(tmp_path: Path) -> None:
    feed = tmp_path / "list.txt"
    feed.write_text("evil[.]com\nhxxp://bad[.]example/x\na[@]b[.]com\n198.51.100[.]7\nplain.example\n")
    loaded = iocmatch.load(feed)
    assert (loaded.report.read, loaded.report.compiled, loaded.report.skipped) == (5, 5, 0)
    assert len([w for w in loaded.report.warnings if "refanged to" in w.reason]) == 4
    lines = ["GET http://www.evil.com/ 200", "GET http://bad.example/x 200", "From: a@b.com", "DST=198.51.100.7"]
    assert [m.value for m in iocmatch.compile(loaded).scan(lines)] == [
        "evil.com", "http://bad.example/x", "a@b.com", "198.51.100.7",
    ]  # fmt: skip


def test_misp_and_openioc_values_warn_when_refanged_and_only_then() -> None:
    event = {"Event": {"info": "Phishing from evil[.]com", "Attribute": [
        {"type": "domain", "value": "evil.com", "to_ids": True},
        {"type": "hostname", "value": "bad[.]example", "to_ids": True},
        {"type": "domain|ip", "value": "two[.]example|198.51.100.7", "to_ids": True},
    ]}}  # fmt: skip
    report = iocmatch.load(event).report
    assert report.compiled == 3
    assert sorted(w.reason for w in report.warnings) == [
        "defanged value 'bad[.]example' refanged to 'bad.example'",
        "defanged value 'two[.]example|198.51.100.7' refanged to 'two.example'",
    ]
    ioc = (
        '<?xml version="1.0"?>'
        '<ioc xmlns="http://schemas.mandiant.com/2010/ioc" id="5b3e5ad1-0000-4000-8000-000000000009">'
        "<short_description>x</short_description><definition>"
        '<Indicator operator="OR" id="5b3e5ad1-0000-4000-8000-00000000000a">'
        '<IndicatorItem id="5b3e5ad1-0000-4000-8000-00000000000b" condition="is">'
        '<Context document="Network" search="Network/DNS" type="mir"/><Content type="string">evil[.]org</Content>'
        "</IndicatorItem></Indicator></definition></ioc>"
    )
    loaded = iocmatch.load(read_openioc(ioc.encode(), "x.ioc"))
    assert [w.reason for w in loaded.report.warnings] == ["defanged value 'evil[.]org' refanged to 'evil.org'"]
    assert [m.value for m in iocmatch.compile(loaded).scan_line("dns query evil.org")] == ["evil.org"]
