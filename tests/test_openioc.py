"""OpenIOC 1.0/1.1 XML: Citizen Lab's published files, and small documents the tests write."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._common.errors import SourceError
from iocmatch._feeds.objects import SourceObjects
from iocmatch._feeds.openioc import looks_like_openioc, read_openioc

from .conftest import ROOT

CITIZENLAB = ROOT.parent / "shared" / "corpus" / "feeds" / "citizenlab-openioc"

# report folder -> (IndicatorItems in the file, items compiled, items skipped)
REAL_FILES = {
    "201510_NGO_Burma": (16, 16, 0),
    "201512_PackRAT": (130, 130, 0),
    "201603_Shifting_Tactics": (30, 30, 0),
    "201604_UP007_SLServer": (21, 21, 0),
    "201605_Stealth_Falcon": (7, 7, 0),
    "201608_Group5": (14, 14, 0),
    "201608_NSO_Group": (62, 62, 0),
    "201611_KeyBoy": (24, 24, 0),
    "201702_NilePhish": (38, 38, 0),
    "201705_TaintedLeaks": (12, 12, 0),
    "201706_RecklessExploit": (125, 125, 0),
    "201706_RecklessRedux": (9, 9, 0),
    "201707_InsiderInfo": (28, 28, 0),
    "201803_BadTraffic": (25, 25, 0),
    "201808_FamiliarFeeling": (22, 22, 0),
    "201810_TheKingdomCameToCanada": (20, 20, 0),
    "201905_EndlessMayfly": (6, 6, 0),  # the one file that writes its values in Content
    "201909_MissingLink": (29, 29, 0),  # Network/UserAgent 'hots scot' among them
    "202006_DarkBasin": (462, 462, 0),
}


def real_file(report: str) -> Path:
    if not CITIZENLAB.is_dir():
        pytest.skip(f"the Citizen Lab OpenIOC files are not beside the project ({CITIZENLAB} is missing)")
    [path] = sorted((CITIZENLAB / report).glob("*.ioc"))
    return path


def read(path: Path) -> SourceObjects:
    return read_openioc(path.read_bytes(), str(path))


def indicators(read_objects: SourceObjects) -> list[dict[str, Any]]:
    return [obj for obj in read_objects.objects if obj["type"] == "indicator"]


def covered_items(read_objects: SourceObjects) -> int:
    return sum(len(obj["x_openioc_items"]) for obj in indicators(read_objects))


HEAD_10 = """<?xml version="1.0" encoding="utf-8"?>
<ioc xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="11111111-2222-4333-8444-555555555555"
  last-modified="2020-01-02T03:04:05" xmlns="http://schemas.mandiant.com/2010/ioc">
  <short_description>Test IOC</short_description>
  <description>Operation Test</description>
  <authored_by>Example Lab</authored_by>
  <authored_date>2020-01-02T03:04:05</authored_date>
  <definition>
    <Indicator operator="OR" id="00000000-0000-4000-8000-000000000000">
"""
TAIL_10 = "    </Indicator>\n  </definition>\n</ioc>\n"


def item(search: str, value: str, condition: str = "is", ident: str = "", **attributes: str) -> str:
    document = search.split("/", 1)[0]
    extra = "".join(f' {name}="{text}"' for name, text in attributes.items())
    return (
        f'<IndicatorItem id="{ident}" condition="{condition}"{extra}>'
        f'<Context document="{document}" search="{search}" type="mir" />'
        f'<Content type="string">{value}</Content></IndicatorItem>\n'
    )


def and_of(*items: str, ident: str = "") -> str:
    return f'<Indicator operator="AND" id="{ident}">{"".join(items)}</Indicator>\n'


def ioc(*parts: str) -> bytes:
    return (HEAD_10 + "".join(parts) + TAIL_10).encode()


def matcher(data: bytes) -> iocmatch.Matcher:
    return iocmatch.compile(iocmatch.load(read_openioc(data, "test.ioc")))


@pytest.mark.parametrize("report", sorted(REAL_FILES))
def test_every_indicator_item_of_each_real_file_is_compiled_or_skipped(report: str) -> None:
    path = real_file(report)
    total, compiled, skipped = REAL_FILES[report]
    assert len(re.findall(rb"<IndicatorItem\b", path.read_bytes())) == total
    assert looks_like_openioc(path.read_bytes()[:65_536])
    read_objects = read(path)
    assert (covered_items(read_objects), len(read_objects.problems)) == (compiled, skipped)
    assert all(p.status == "skipped" for p in read_objects.problems)
    report_ = iocmatch.load(read_objects).report
    # Every item of these files is its own indicator under the top OR.
    assert (report_.read, report_.compiled, report_.skipped, report_.excluded) == (total, compiled, skipped, 0)


def test_a_real_user_agent_hits_a_proxy_line() -> None:
    path = real_file("201909_MissingLink")
    [agent] = [obj for obj in indicators(read(path)) if obj["x_openioc_items"] == ["hots scot"]]
    assert (
        agent["pattern"] == "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'hots scot']"
    )
    found = iocmatch.compile(iocmatch.load(path))
    line = '10.1.2.3 - - [09/Sep/2019:10:00:00 +0000] "GET /index.php HTTP/1.1" 200 512 "-" "hots scot"'
    assert [(m.kind, m.value) for m in found.scan_line(line)] == [("user-agent", "hots scot")]
    assert found.scan_line('10.1.2.3 - - [09/Sep/2019:10:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "Mozilla/5.0"') == []


def test_values_written_in_the_item_id_are_read_with_one_warning() -> None:
    read_objects = read(real_file("201510_NGO_Burma"))
    [warning] = read_objects.warnings
    assert warning.reason.startswith("16 IndicatorItem values read from their id attribute")
    patterns = {obj["pattern"] for obj in indicators(read_objects)}
    assert "[file:hashes.MD5 = 'c4c147bdfddffec2eea6bf99661e69ee']" in patterns
    assert "[domain-name:value = 'usafbi.websecexp.com']" in patterns
    # Mayfly writes its values in Content: its UUID ids are ids, never values.
    mayfly = read(real_file("201905_EndlessMayfly"))
    assert mayfly.warnings == ()
    assert "[ipv4-addr:value = '217.182.54.223']" in {obj["pattern"] for obj in indicators(mayfly)}


def test_ids_are_values_only_in_a_document_that_writes_no_content() -> None:
    empty = item("Network/DNS", "", ident="c2.example")
    # Every item empty, as Citizen Lab's exports write them: the id is the value, said once.
    alone = read_openioc(ioc(empty), "test.ioc")
    assert [obj["pattern"] for obj in indicators(alone)] == ["[domain-name:value = 'c2.example']"]
    assert len(alone.warnings) == 1
    # Beside items with their values in Content the ids are ids: "i2" is no value to look for.
    mixed = read_openioc(ioc(item("Network/DNS", "kept.example", ident="i1"), empty.replace("c2.example", "i2")), "x")
    assert [obj["pattern"] for obj in indicators(mixed)] == ["[domain-name:value = 'kept.example']"]
    assert [(p.id, p.reason) for p in mixed.problems] == [("i2", "Network/DNS: empty Content")]
    assert mixed.warnings == ()


@pytest.mark.parametrize(
    ("part", "pattern", "line"),
    [
        (
            item("ProcessItem/name", "svchosts.exe"),
            "[process:image_ref.name = 'svchosts.exe']",
            "Sysmon 1: Image=C:\\Users\\bob\\AppData\\svchosts.exe ParentImage=C:\\Windows\\explorer.exe",
        ),
        (
            item("Network/UserAgent", "Mozilla/4.0 (compatible; MSIE 6.0; Evil)"),
            (
                "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = "
                "'Mozilla/4.0 (compatible; MSIE 6.0; Evil)']"
            ),
            (
                '10.1.2.3 - - [01/Jan/2020:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" '
                '"Mozilla/4.0 (compatible; MSIE 6.0; Evil)"'
            ),
        ),
        (
            item("Email/Subject", "Urgent: invoice 4411 overdue"),
            "[email-message:subject = 'Urgent: invoice 4411 overdue']",
            "postfix/cleanup[811]: 4F1A2: warning: header Subject: Urgent: invoice 4411 overdue from mail.example",
        ),
        (
            item("Network/URI", "/wp-content/plugins/gate.php"),
            "[network-traffic:extensions.'http-request-ext'.request_value = '/wp-content/plugins/gate.php']",
            '10.1.2.3 - - [01/Jan/2020:00:00:00 +0000] "POST /wp-content/plugins/gate.php HTTP/1.1" 200 5 "-" "-"',
        ),
        (
            item("UserItem/Username", "svc_backup2"),
            "[user-account:account_login = 'svc_backup2']",
            "sshd[2211]: Accepted password for svc_backup2 from 198.51.100.7 port 51514 ssh2",
        ),
    ],
    ids=["process-name", "user-agent", "email-subject", "request-path", "user-account"],
)
def test_literal_terms_compile_and_hit(part: str, pattern: str, line: str) -> None:
    data = ioc(part)
    assert [obj["pattern"] for obj in indicators(read_openioc(data, "test.ioc"))] == [pattern]
    assert len(matcher(data).scan_line(line)) == 1


def test_real_values_are_found_in_squid_bind_and_sysmon_lines_with_their_report_and_publisher() -> None:
    path = real_file("201510_NGO_Burma")
    found = matcher(path.read_bytes())
    md5, domain, address = "c4c147bdfddffec2eea6bf99661e69ee", "usafbi.websecexp.com", "198.44.190.85"
    assert domain in path.read_text()
    assert address in path.read_text()
    squid = (
        f"1444953600.123    412 10.1.2.3 TCP_MISS/200 5120 GET http://{address}/x.php - HIER_DIRECT/{address} text/html"
    )
    bind = (
        f"16-Oct-2015 09:12:01.552 queries: info: client @0x7f 10.1.2.3#53124 ({domain.upper()}): "
        f"query: {domain.upper()} IN A +E(0)K (10.0.0.53)"
    )
    sysmon = json.dumps(
        {
            "EventID": 1,
            "Image": "C:\\Users\\bob\\AppData\\Local\\Temp\\setup.exe",
            "Hashes": f"SHA1=0000000000000000000000000000000000000000,MD5={md5.upper()},IMPHASH=0",
        }
    )
    expected = {squid: ("ipv4-addr", address), bind: ("domain-name", domain), sysmon: ("md5", md5)}
    for line, (kind, value) in expected.items():
        matches = found.scan_line(line)
        assert matches, line
        assert {(m.kind, m.value) for m in matches} == {(kind, value)}
        for match in matches:
            assert match.attribution == (
                "Targeted Malware Attacks against NGO Linked to Attacks on Burmese Government Websites",
            )
            assert match.sources == ("citizenlab",)
    # Near misses: a longer name, a longer number.
    assert found.scan_line(f"query: x{domain}.au IN A; ip 1{address}5") == []


def test_an_and_needs_both_values_on_one_line() -> None:
    data = ioc(
        and_of(
            item("FileItem/FileName", "dropper.exe", ident="name"),
            item("FileItem/Md5sum", "0123456789abcdef0123456789abcdef", ident="hash"),
            ident="aaaaaaaa-0000-4000-8000-000000000001",
        ),
        item("Network/DNS", "c2.example", ident="c2"),
    )
    read_objects = read_openioc(data, "test.ioc")
    assert read_objects.problems == ()
    patterns = [obj["pattern"] for obj in indicators(read_objects)]
    assert patterns == [
        "[file:name = 'dropper.exe' AND file:hashes.MD5 = '0123456789abcdef0123456789abcdef']",
        "[domain-name:value = 'c2.example']",
    ]
    assert indicators(read_objects)[0]["id"] == "indicator--aaaaaaaa-0000-4000-8000-000000000001"
    found = matcher(data)
    assert found.scan_line("created dropper.exe") == []
    assert found.scan_line("md5 0123456789abcdef0123456789abcdef") == []
    both = found.scan_line("created dropper.exe md5=0123456789ABCDEF0123456789ABCDEF")
    assert {m.kind for m in both} == {"file-name", "md5"}
    assert {m.sources for m in both} == {("Example Lab",)}
    assert {m.attribution for m in both} == {("Operation Test",)}


def test_an_and_across_object_types_or_with_an_unreadable_item_is_skipped_item_by_item() -> None:
    data = ioc(
        and_of(item("Network/DNS", "c2.example", ident="d"), item("FileItem/Md5sum", "0" * 32, ident="h")),
        and_of(item("FileItem/FileName", "a.exe", ident="n"), item("ServiceItem/name", "a", ident="p")),
    )
    read_objects = read_openioc(data, "test.ioc")
    assert indicators(read_objects) == []
    reasons = {p.id: p.reason for p in read_objects.problems}
    assert set(reasons) == {"d", "h", "n", "p"}
    assert "AND across object types (domain-name, file)" in reasons["d"]
    assert reasons["p"] == "ServiceItem/name: term is not supported"
    assert reasons["n"].startswith("FileItem/FileName: part of an Indicator that is skipped: ServiceItem/name")


def test_a_mutant_handle_is_a_mutex_and_other_handles_are_skipped() -> None:
    data = ioc(
        and_of(
            item("ProcessItem/HandleList/Handle/Name", "Global\\EvilMutex", ident="mn"),
            item("ProcessItem/HandleList/Handle/Type", "Mutant", ident="mt"),
        ),
        item("ProcessItem/HandleList/Handle/Name", "\\Device\\Afd", ident="alone"),
        item("ProcessItem/Mutex", "OtherMutex", ident="mx"),
    )
    read_objects = read_openioc(data, "test.ioc")
    assert [obj["pattern"] for obj in indicators(read_objects)] == [
        "[mutex:name = 'Global\\\\EvilMutex']",
        "[mutex:name = 'OtherMutex']",
    ]
    assert indicators(read_objects)[0]["x_openioc_items"] == ["mn", "mt"]
    [problem] = read_objects.problems
    assert problem.id == "alone"
    assert "may name any handle" in problem.reason
    assert [m.value for m in matcher(data).scan_line("OpenMutex Global\\EvilMutex")] == ["Global\\EvilMutex"]


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        (item("Network/DNS", "evil", condition="contains"), "Network/DNS: condition 'contains' would be LIKE '%x%'"),
        (item("Network/DNS", "evil.example", condition="ends-with"), "condition 'ends-with' is not supported"),
        (item("Network/DNS", "evil.example", negate="true"), 'negated items (negate="true")'),
        (item("ServiceItem/name", "evilsvc"), "ServiceItem/name: term is not supported"),
        (
            item("RegistryItem/KeyPath", "Software\\Evil"),
            "RegistryItem/KeyPath: registry key 'Software\\Evil' has no hive",
        ),
        (item("FileItem/Md5sum", "not-a-hash"), "FileItem/Md5sum: 'not-a-hash' is not a valid MD5 hash"),
        (item("FileItem/FullPath", "%TEMP%\\evil.exe"), "FileItem/FullPath: '%TEMP%\\evil.exe' holds an environment"),
        (item("Network/URI", "http:///gate.php"), "Network/URI: 'http:///gate.php' is not a valid URL"),
        (item("FileItem/Md5sum", "0" * 32, condition="starts-with"), "LIKE is not supported on md5"),
        (item("Network/DNS", "", ident="00000000-0000-4000-8000-00000000000a"), "Network/DNS: empty Content"),
    ],
)
def test_what_cannot_be_matched_is_one_skip_naming_its_term(part: str, reason: str) -> None:
    read_objects = read_openioc(ioc(part, item("Network/DNS", "kept.example")), "test.ioc")
    [problem] = read_objects.problems
    assert reason in problem.reason
    assert problem.status == "skipped"
    assert covered_items(read_objects) == 1


def test_full_paths_are_a_name_in_a_folder_and_prefixes_stay_prefixes() -> None:
    data = ioc(
        item("FileItem/FullPath", "C:\\Windows\\Temp\\evil.exe"),
        item("UrlHistoryItem/URL", "http://evil.example/gate/", condition="starts-with"),
        item("RegistryItem/Path", "HKLM\\Software\\Evil"),
        item("PortItem/remoteIP", "2001:db8::7"),
    )
    read_objects = read_openioc(data, "test.ioc")
    assert read_objects.problems == ()
    assert [obj["pattern"] for obj in indicators(read_objects)] == [
        "[(file:name = 'evil.exe' AND file:parent_directory_ref.path = 'C:\\\\Windows\\\\Temp')]",
        "[url:value LIKE 'http://evil.example/gate/%']",
        "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Evil']",
        "[ipv6-addr:value = '2001:db8::7']",
    ]
    found = matcher(data)
    assert len(found.scan_line('{"Image":"c:\\\\windows\\\\temp\\\\evil.exe"}')) == 2
    assert found.scan_line("ran evil.exe") == []
    assert found.scan_line("GET http://evil.example/gate/x.php") != []
    assert found.scan_line("GET http://evil.example/other") == []


def test_openioc_1_1_is_read_from_its_metadata_and_criteria() -> None:
    document = b"""<?xml version="1.0"?>
<OpenIOC xmlns="http://openioc.org/schemas/OpenIOC_1.1" id="b1b2c3d4-0000-4000-8000-000000000001">
 <metadata><short_description>One one</short_description><description>Campaign 1.1</description>
  <authored_by>Someone</authored_by><authored_date>2014-01-01T00:00:00Z</authored_date></metadata>
 <criteria><Indicator operator="OR" id="b1b2c3d4-0000-4000-8000-000000000002">
  <IndicatorItem id="b1b2c3d4-0000-4000-8000-000000000003" condition="is" preserve-case="false" negate="false">
   <Context document="Network" search="Network/DNS" type="mir"/><Content type="string">one.example</Content>
  </IndicatorItem></Indicator></criteria>
</OpenIOC>"""
    assert looks_like_openioc(document)
    [obj] = indicators(read_openioc(document, "x.ioc"))
    assert obj["pattern"] == "[domain-name:value = 'one.example']"
    assert obj["id"] == "indicator--b1b2c3d4-0000-4000-8000-000000000003"
    assert obj["created"] == "2014-01-01T00:00:00.000Z"
    [match] = matcher(document).scan_line("query one.example")
    assert (match.attribution, match.sources) == (("Campaign 1.1",), ("Someone",))


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (HEAD_10.encode(), True),
        (b'<?xml version="1.0"?><stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1">', False),
        (b'<ioc xmlns="http://example.com/other">', False),
        (b'{"type": "bundle"}', False),
        (b"evil.example\n", False),
    ],
)
def test_looks_like_openioc_only_for_an_ioc_root(head: bytes, expected: bool) -> None:
    assert looks_like_openioc(head) is expected


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (HEAD_10.encode() + b"<IndicatorItem><Context", "not well-formed XML"),
        (
            (
                b'<?xml version="1.0"?><!DOCTYPE ioc [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
                b'<ioc xmlns="http://schemas.mandiant.com/2010/ioc">&b;</ioc>'
            ),
            "refused unsafe XML",
        ),
        (
            (
                b'<?xml version="1.0"?><!DOCTYPE ioc [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                b'<ioc xmlns="http://schemas.mandiant.com/2010/ioc">&x;</ioc>'
            ),
            "refused unsafe XML",
        ),
        (b'<?xml version="1.0" encoding="UTF-0"?><ioc/>', "cannot decode"),
        (b"<html><body>not an ioc</body></html>", "not an OpenIOC document"),
    ],
)
def test_malformed_or_hostile_xml_is_one_source_error_naming_the_file(document: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message) as raised:
        read_openioc(document, "feeds/bad.ioc")
    assert "feeds/bad.ioc" in str(raised.value)
