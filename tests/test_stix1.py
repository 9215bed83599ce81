"""STIX 1.x XML: US-CERT's TA17-117A package and small packages the tests write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import iocmatch
from iocmatch._feeds.reading import read_file

US_CERT = "clinthart2003_Selenium/IR-ALERT-MED-17-093-01-C.XML"
LOGHUB_CARRIERS = ("OpenSSH_2k.log", "Proxifier_2k.log", "Linux_2k.log")

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1" xmlns:indicator="http://stix.mitre.org/Indicator-2"
  xmlns:cybox="http://cybox.mitre.org/cybox-2" xmlns:cyboxCommon="http://cybox.mitre.org/common-2"
  xmlns:DomainNameObj="http://cybox.mitre.org/objects#DomainNameObject-1"
  xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2"
  xmlns:FileObj="http://cybox.mitre.org/objects#FileObject-2"
  xmlns:MutexObj="http://cybox.mitre.org/objects#MutexObject-2"
  xmlns:WinRegistryKeyObj="http://cybox.mitre.org/objects#WinRegistryKeyObject-2"
  xmlns:URIObj="http://cybox.mitre.org/objects#URIObject-2"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:test="http://example.com/test"
  id="test:Package-1" version="1.1.1" timestamp="2017-05-10T20:54:41+00:00">
 <stix:Indicators>
"""
TAIL = " </stix:Indicators>\n</stix:STIX_Package>\n"


def xml_indicator(number: int, properties: str, title: str = "T") -> str:
    return f"""  <stix:Indicator id="test:indicator-00000000-0000-4000-8000-{number:012d}"
     timestamp="2017-05-10T20:54:41+00:00"
     xsi:type="indicator:IndicatorType">
   <indicator:Title>{title}</indicator:Title>
   <indicator:Observable id="test:Observable-{number}"><cybox:Object>{properties}</cybox:Object></indicator:Observable>
  </stix:Indicator>
"""


def package(tmp_path: Path, *indicators: str) -> Path:
    path = tmp_path / "package.xml"
    path.write_text(HEAD + "".join(indicators) + TAIL)
    return path


def test_each_cybox_object_compiles_with_its_meaning(tmp_path: Path) -> None:
    path = package(
        tmp_path,
        xml_indicator(
            1,
            '<cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType">'
            '<DomainNameObj:Value condition="Equals">Evil.Example</DomainNameObj:Value></cybox:Properties>',
        ),
        xml_indicator(
            2,
            '<cybox:Properties xsi:type="AddressObj:AddressObjectType" category="ipv4-net">'
            '<AddressObj:Address_Value condition="Equals">198.51.100.0/24</AddressObj:Address_Value>'
            "</cybox:Properties>",
        ),
        xml_indicator(
            3,
            '<cybox:Properties xsi:type="FileObj:FileObjectType">'
            "<FileObj:File_Name>dropper.exe</FileObj:File_Name>"
            "<FileObj:Size_In_Bytes>1024</FileObj:Size_In_Bytes><FileObj:Hashes>"
            "<cyboxCommon:Hash><cyboxCommon:Type>MD5</cyboxCommon:Type>"
            "<cyboxCommon:Simple_Hash_Value>0123456789ABCDEF0123456789ABCDEF</cyboxCommon:Simple_Hash_Value>"
            "</cyboxCommon:Hash><cyboxCommon:Hash><cyboxCommon:Type>SSDEEP</cyboxCommon:Type>"
            "<cyboxCommon:Fuzzy_Hash_Value>3:abc:def</cyboxCommon:Fuzzy_Hash_Value></cyboxCommon:Hash>"
            "</FileObj:Hashes></cybox:Properties>",
        ),
        xml_indicator(
            4,
            '<cybox:Properties xsi:type="MutexObj:MutexObjectType">'
            "<MutexObj:Name>Global\\RedLeaves</MutexObj:Name></cybox:Properties>",
        ),
        xml_indicator(
            5,
            '<cybox:Properties xsi:type="WinRegistryKeyObj:WindowsRegistryKeyObjectType">'
            "<WinRegistryKeyObj:Key>Software\\Evil</WinRegistryKeyObj:Key>"
            "<WinRegistryKeyObj:Hive>HKEY_CURRENT_USER</WinRegistryKeyObj:Hive></cybox:Properties>",
        ),
        xml_indicator(
            6,
            '<cybox:Properties xsi:type="URIObj:URIObjectType" type="URL">'
            '<URIObj:Value condition="Equals">http://evil.example/Gate.php</URIObj:Value></cybox:Properties>',
        ),
        xml_indicator(
            7,
            '<cybox:Properties xsi:type="FileObj:FileObjectType">'
            '<FileObj:File_Path condition="Equals">C:\\recovery\\csvde.exe</FileObj:File_Path>'
            "</cybox:Properties>",
        ),
    )
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (7, 7, 0, 0)
    assert {w.reason.split(" ")[0] for w in report.warnings} == {"Size_In_Bytes", "SSDEEP", "file"}
    matcher = iocmatch.compile(loaded)

    def kinds(line: str) -> list[tuple[str, str]]:
        return [(m.kind, m.text) for m in matcher.scan_line(line)]

    assert kinds("GET http://evil.example/Gate.php 200") == [
        ("domain-name", "evil.example"),
        ("url", "evil.example/Gate.php"),
    ]
    assert kinds("SRC=198.51.100.77") == [("ipv4-addr", "198.51.100.77")]
    # The file's exact hash identifies it, renamed or not; the name alone does not.
    assert kinds("Hashes=MD5=0123456789abcdef0123456789abcdef Image=x.exe") == [
        ("md5", "0123456789abcdef0123456789abcdef")
    ]
    assert kinds("Image=C:\\dropper.exe") == []
    assert kinds("mutex Global\\RedLeaves created") == [("mutex", "Global\\RedLeaves")]
    assert kinds("HKCU\\Software\\Evil set") == [("windows-registry-key", "HKCU\\Software\\Evil")]
    assert kinds("C:\\recovery\\csvde.exe -f x") == [("directory", "C:\\recovery"), ("file-name", "csvde.exe")]
    assert kinds("csvde.exe alone") == []
    [indicator_id] = {m.indicators for m in matcher.scan_line("evil.example")}
    assert indicator_id == ("indicator--00000000-0000-4000-8000-000000000001",)


def test_unsupported_objects_and_conditions_are_reported_not_guessed(tmp_path: Path) -> None:
    path = package(
        tmp_path,
        xml_indicator(
            1,
            '<cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType">'
            '<DomainNameObj:Value condition="Contains">evil</DomainNameObj:Value></cybox:Properties>',
        ),
        xml_indicator(2, '<cybox:Properties xsi:type="test:NetworkConnectionObjectType"/>'),
        xml_indicator(
            3,
            '<cybox:Properties xsi:type="AddressObj:AddressObjectType" category="ipv4-addr">'
            "<AddressObj:Address_Value>300.1.2.3</AddressObj:Address_Value></cybox:Properties>",
        ),
        xml_indicator(
            4,
            '<cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType">'
            "<DomainNameObj:Value>ok.example</DomainNameObj:Value></cybox:Properties>",
        ),
    )
    report = iocmatch.load(path).report
    assert (report.read, report.compiled, report.skipped) == (4, 1, 3)
    reasons = {p.id[-1]: p.reason for p in report.problems}
    assert "Contains" in reasons["1"]
    assert "NetworkConnectionObjectType" in reasons["2"]
    assert "300.1.2.3" in reasons["3"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            (
                '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
                '<stix:STIX_Package xmlns:stix="s">&a;</stix:STIX_Package>'
            ),
            "unsafe XML",
        ),
        (
            (
                '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                '<stix:STIX_Package xmlns:stix="s">&e;</stix:STIX_Package>'
            ),
            "unsafe XML",
        ),
        ('<stix:STIX_Package xmlns:stix="s"><unclosed></stix:STIX_Package>', "not well-formed"),
        ("<html><body>not stix</body></html>", "not a STIX 1.x package"),
    ],
)
def test_hostile_or_foreign_xml_is_refused_naming_the_file(tmp_path: Path, document: str, message: str) -> None:
    path = tmp_path / "feed.xml"
    path.write_text(document)
    with pytest.raises(iocmatch.SourceError, match=message) as raised:
        iocmatch.load(path)
    assert str(path) in str(raised.value)


def test_us_cert_package_accounts_for_all_603_indicators(corpus: Path) -> None:
    loaded = iocmatch.load(corpus / US_CERT)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (603, 601, 2, 0)
    # Two File objects carry nothing but an SSDEEP hash: reported, not faked.
    assert all("SSDEEP" in p.reason for p in report.problems)
    assert report.kinds["domain-name"] == 505
    assert report.kinds["ipv4-addr"] == 34
    assert (report.kinds["md5"], report.kinds["sha1"], report.kinds["sha256"]) == (46, 45, 41)
    first = next(i for i in loaded.indicators if i.id == "indicator--f8c293b0-34f6-11e7-8e8e-0050569a115c")
    assert first.name == "Malicious FQDN Indicator"


def test_us_cert_metadata_is_kept(corpus: Path) -> None:
    from iocmatch._feeds.reading import read_file

    objects = read_file(corpus / US_CERT).objects
    domain = next(o for o in objects if o["id"] == "indicator--f8c293b0-34f6-11e7-8e8e-0050569a115c")
    assert domain["kill_chain_phases"] == [
        {"kill_chain_name": "lm-cyber-kill-chain", "phase_name": "command-and-control"}
    ]
    assert domain["x_sightings"] == ["2016-09-12T00:00:00.000Z"]
    assert "Stone Panda" in domain["description"]
    assert domain["external_references"][0]["external_id"] == "IR-ALERT-MED-17-093-01-D"


def _planted_values(corpus: Path) -> tuple[list[str], list[str]]:
    objects = __import__("iocmatch._feeds.reading", fromlist=["read_file"]).read_file(corpus / US_CERT).objects
    domains, addresses = [], []
    for obj in objects:
        value = obj["pattern"].split("'")[1]
        if obj["pattern"].startswith("[domain-name"):
            domains.append(value)
        elif obj["pattern"].startswith("[ipv4-addr"):
            addresses.append(value)
    return domains, addresses


@pytest.mark.slow
def test_every_us_cert_domain_and_address_is_found_between_real_log_lines(corpus: Path, tmp_path: Path) -> None:
    loghub = corpus.parent / "logs" / "loghub"
    carriers = [line for name in LOGHUB_CARRIERS for line in (loghub / name).read_text().splitlines()]
    domains, addresses = _planted_values(corpus)
    assert (len(set(domains)), len(set(addresses))) == (505, 34)
    lines, planted = [], {}
    for n, value in enumerate(domains + addresses):
        lines.append(carriers[n % len(carriers)])
        written = value.upper() if n % 3 == 0 else value
        lines.append(f"Dec 10 06:55:46 gw proxy[42]: CONNECT {written}:443 from 10.0.{n % 250}.7 [{value}]")
        planted[len(lines)] = value
        # Near misses that must not hit: a longer label or TLD; a longer dotted number.
        if n < len(domains):
            lines.append(f"Dec 10 06:55:47 gw dns[7]: query x{value}.au A, {value}-cdn.example A, {value}.evil2 A")
        else:
            lines.append(f"Dec 10 06:55:47 gw fw[7]: version {value}5 build 1.{value} and {value}.7")
    log = tmp_path / "mixed.log"
    log.write_text("\n".join(lines) + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(corpus / US_CERT), "--format", "jsonl", str(log)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    found = {(hit["line"], hit["value"]) for hit in map(json.loads, result.stdout.splitlines())}
    assert {line for line, _ in found} == set(planted)
    for line, value in planted.items():
        assert (line, value) in found


def test_windows_folders_match_in_any_case_posix_folders_exactly(tmp_path: Path) -> None:
    path = package(
        tmp_path,
        xml_indicator(
            1,
            '<cybox:Properties xsi:type="FileObj:FileObjectType">'
            "<FileObj:File_Path>C:\\windows\\system32\\RedLeaves.exe</FileObj:File_Path>"
            "</cybox:Properties>",
        ),
        xml_indicator(
            2,
            '<cybox:Properties xsi:type="FileObj:FileObjectType">'
            "<FileObj:File_Path>/tmp/.x/implant</FileObj:File_Path></cybox:Properties>",
        ),
    )
    matcher = iocmatch.compile(iocmatch.load(path))
    sysmon = '{"Image": "C:\\\\Windows\\\\System32\\\\RedLeaves.exe"}'
    assert [m.text for m in matcher.scan_line(sysmon)] == ["C:\\\\Windows\\\\System32", "RedLeaves.exe"]
    assert len(matcher.scan_line("exec /tmp/.x/implant")) == 2
    assert matcher.scan_line("exec /TMP/.X/implant") == []


def _file_properties(inner: str) -> str:
    return f'<cybox:Properties xsi:type="FileObj:FileObjectType">{inner}</cybox:Properties>'


@pytest.mark.parametrize(
    ("inner", "hits", "misses"),
    [
        # CybOX lets File_Path hold only the folder when File_Name is given.
        (
            "<FileObj:File_Name>a.exe</FileObj:File_Name><FileObj:File_Path>C:\\Temp</FileObj:File_Path>",
            ["C:\\Temp\\a.exe"],
            ["C:\\Windows\\notepad.exe", "a.exe"],
        ),
        (
            "<FileObj:File_Name>a.exe</FileObj:File_Name><FileObj:File_Path>C:\\Temp\\a.exe</FileObj:File_Path>",
            ["c:\\temp\\A.EXE"],
            ["C:\\Temp\\b.exe"],
        ),
        (
            "<FileObj:File_Path>C:\\a\\x.exe##comma##C:\\b\\y.exe</FileObj:File_Path>",
            ["C:\\a\\x.exe", "C:\\b\\y.exe"],
            ["C:\\a\\y.exe"],
        ),
        ('<FileObj:File_Path fully_qualified="false">/opt/implant</FileObj:File_Path>', ["/opt/implant/x"], []),
    ],
)
def test_file_paths_mean_what_cybox_says(tmp_path: Path, inner: str, hits: list[str], misses: list[str]) -> None:
    loaded = iocmatch.load(package(tmp_path, xml_indicator(1, _file_properties(inner))))
    assert loaded.report.compiled == 1, loaded.report.problems
    matcher = iocmatch.compile(loaded)
    for line in hits:
        assert matcher.scan_line(line), line
    for line in misses:
        assert not matcher.scan_line(line), line


def test_malformed_observables_are_reported_not_raised(tmp_path: Path) -> None:
    looping = (
        '  <stix:Indicator id="test:indicator-00000000-0000-4000-8000-000000000001" xsi:type="indicator:IndicatorType">'
        '<indicator:Observable id="test:Observable-loop"><cybox:Observable_Composition operator="OR">'
        '<cybox:Observable idref="test:Observable-loop"/></cybox:Observable_Composition></indicator:Observable>'
        "</stix:Indicator>\n"
    )
    empty_list = xml_indicator(2, _file_properties("<FileObj:File_Path>##comma##</FileObj:File_Path>"))
    composite = (
        '  <stix:Indicator id="test:indicator-00000000-0000-4000-8000-000000000003" xsi:type="indicator:IndicatorType">'
        '<indicator:Composite_Indicator_Expression operator="AND">'
        + xml_indicator(
            4,
            '<cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType">'
            "<DomainNameObj:Value>a.example</DomainNameObj:Value></cybox:Properties>",
        )
        + "</indicator:Composite_Indicator_Expression></stix:Indicator>\n"
    )
    mapped = xml_indicator(
        5,
        '<cybox:Properties xsi:type="AddressObj:AddressObjectType" category="ipv6-addr">'
        "<AddressObj:Address_Value>::ffff:198.51.100.1</AddressObj:Address_Value>"
        "</cybox:Properties>",
    )
    loaded = iocmatch.load(package(tmp_path, looping, empty_list, composite, mapped))
    report = loaded.report
    assert (report.read, report.compiled, report.skipped) == (5, 1, 4)
    reasons = {p.id[-1]: p.reason for p in report.problems}
    assert "refers to itself" in reasons["1"]
    assert "empty" in reasons["2"]
    assert "composite" in reasons["3"]
    assert "composite" in reasons["4"]  # its part does not compile alone, which would weaken the AND
    matcher = iocmatch.compile(loaded)
    assert [m.kind for m in matcher.scan_line("SRC=198.51.100.1")] == ["ipv4-addr"]
    assert matcher.scan_line("only a.example here") == []


def test_a_timestamp_before_the_first_day_is_read_as_none(tmp_path: Path) -> None:
    # Year 1 in a zone ahead of UTC falls before datetime's range: it once stopped the whole read.
    domain = (
        '<cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType">'
        "<DomainNameObj:Value>evil.example</DomainNameObj:Value></cybox:Properties>"
    )
    path = package(tmp_path, xml_indicator(1, domain))
    path.write_text(path.read_text().replace("2017-05-10T20:54:41+00:00", "0001-01-01T00:00:00+01:00"))
    (obj,) = read_file(path).objects
    assert obj["created"] == "1970-01-01T00:00:00.000Z"
    assert iocmatch.compile(iocmatch.load(path)).scan_line("GET evil.example")[0].value == "evil.example"


def test_a_defanged_value_is_refanged_with_a_warning_naming_it(tmp_path: Path) -> None:
    path = package(
        tmp_path,
        xml_indicator(
            1,
            '<cybox:Properties xsi:type="URIObj:URIObjectType" type="URL">'
            '<URIObj:Value condition="Equals">hxxp://evil[.]example/gate.php</URIObj:Value></cybox:Properties>',
        ),
        xml_indicator(
            2,
            '<cybox:Properties xsi:type="DomainNameObj:DomainNameObjectType">'
            '<DomainNameObj:Value condition="Equals">plain.example</DomainNameObj:Value></cybox:Properties>',
        ),
    )
    loaded = iocmatch.load(path)
    assert loaded.report.compiled == 2
    assert [(w.id, w.reason) for w in loaded.report.warnings] == [
        (
            "indicator--00000000-0000-4000-8000-000000000001",
            "defanged value 'hxxp://evil[.]example/gate.php' refanged to 'http://evil.example/gate.php'",
        )
    ]
    hits = iocmatch.compile(loaded).scan_line("GET http://evil.example/gate.php HTTP/1.1")
    assert [hit.value for hit in hits] == ["http://evil.example/gate.php"]
