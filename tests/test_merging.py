"""Several sources at once: shared values compile once, hits name every source."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import iocmatch
from tests.conftest import bundle, indicator

PWC = "janhenrikdotcom_iocs/Operation Cloud Hopper - Indicators of Compromise v3.csv"
US_CERT = "clinthart2003_Selenium/IR-ALERT-MED-17-093-01-C.XML"


def test_a_value_in_three_formats_is_one_hit_naming_every_indicator_and_source(tmp_path: Path) -> None:
    csv = tmp_path / "annex.csv"
    csv.write_text("Type,Value\nurl,shared.example\nipv4,198.51.100.9\n")
    text = tmp_path / "list.txt"
    text.write_text("# C2\nSHARED.example\n")
    stix = tmp_path / "feed.json"
    publisher = {"type": "identity", "id": "identity--1", "name": "Example CERT", "identity_class": "organization"}
    stix.write_text(
        json.dumps(bundle(publisher, indicator("[domain-name:value = 'shared.example']", created_by_ref="identity--1")))
    )
    loaded = iocmatch.load(csv, text, stix)
    report = loaded.report
    assert report.kinds == {"domain-name": 1, "ipv4-addr": 1}
    assert report.by_source == {
        str(csv): {"read": 2, "compiled": 2, "skipped": 0, "excluded": 0},
        str(text): {"read": 1, "compiled": 1, "skipped": 0, "excluded": 0},
        str(stix): {"read": 1, "compiled": 1, "skipped": 0, "excluded": 0},
    }
    matcher = iocmatch.compile(loaded)
    assert matcher.atom_count == 2
    [match] = matcher.scan_line("GET http://shared.example/ 200")
    assert len(match.indicators) == 3
    assert set(match.sources) == {str(csv), str(text), "Example CERT"}


def test_pwc_and_us_cert_together(corpus: Path) -> None:
    loaded = iocmatch.load(corpus / PWC, corpus / US_CERT)
    report = loaded.report
    assert report.kinds["domain-name"] == 1408
    for counts in [*report.by_source.values(), report.to_dict()]:
        assert counts["read"] == counts["compiled"] + counts["skipped"] + counts["excluded"]
    assert report.by_source[str(corpus / US_CERT)]["read"] == 603
    assert report.by_source[str(corpus / PWC)]["read"] == 1898
    # A domain both published: one hit, two indicators, two sources.
    hits = iocmatch.compile(loaded).scan_line("dns query: abc.wikaba.com A")
    [both] = [m for m in hits if m.value == "abc.wikaba.com"]
    assert len(both.indicators) == 2
    assert set(both.sources) == {str(corpus / PWC), str(corpus / US_CERT)}


def test_source_format_is_told_by_content_not_by_name(tmp_path: Path, corpus: Path) -> None:
    disguised = tmp_path / "feed.dat"
    disguised.write_bytes((corpus / US_CERT).read_bytes())
    assert iocmatch.load(disguised).report.read == 603
    csv_named_txt = tmp_path / "iocs.txt"
    csv_named_txt.write_text("Type,Value\nurl,a.example\n")
    assert iocmatch.load(csv_named_txt).report.kinds == {"domain-name": 1}


@pytest.mark.parametrize(
    ("name", "content"),
    [("blob.bin", b"\x00\x01\x02PK\x03\x04"), ("page.xml", b"<html><body>hello</body></html>")],
)
def test_a_file_that_fits_no_format_is_an_error_naming_it(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(iocmatch.SourceError, match=re.escape(str(path))):
        iocmatch.load(path)
