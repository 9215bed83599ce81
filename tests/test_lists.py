"""CSV and text-list readers: one indicator or one problem per data row, on the published files."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._common.model import DIRECTORY, DOMAIN, EMAIL, FILE_NAME, IPV4, IPV6, MD5, PORT, SHA1, SHA256, SHA512, URL
from iocmatch._feeds.detect import detect_format
from iocmatch._feeds.lists import infer_kind, looks_like_csv, read_csv, read_text_list
from iocmatch._feeds.objects import SourceObjects
from iocmatch._feeds.reading import read_file
from iocmatch._feeds.stix2_build import EPOCH, OBJECT_PATHS
from iocmatch._indicators import loader
from iocmatch._patterns.canonical import canonical_value
from iocmatch._patterns.clauses import compile_pattern

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "apt10"
FEEDS = CORPUS.parent / "feeds"
PWC_CSV = "janhenrikdotcom_iocs/Operation Cloud Hopper - Indicators of Compromise v3.csv"

_KIND_OF_PATH = {path: kind for kind, path in OBJECT_PATHS.items()}
_COMPARISON = re.compile(r"\[(?P<path>[^=\[]+?) = '(?P<value>(?:[^'\\]|\\.)*)'\]")


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the APT10 corpus is not at {CORPUS}")
    return CORPUS


def _read(corpus: Path, name: str) -> SourceObjects:
    path = corpus / name
    reader = read_csv if path.suffix == ".csv" else read_text_list
    return reader(path.read_bytes(), str(path))


def _kind_and_value(obj: dict[str, Any]) -> tuple[str, str]:
    """A single-comparison pattern's kind and value, re-canonicalised (it must already be canonical)."""
    found = _COMPARISON.fullmatch(obj["pattern"])
    assert found is not None, obj["pattern"]
    kind = _KIND_OF_PATH[found["path"]]
    value = re.sub(r"\\(.)", r"\1", found["value"])
    assert canonical_value(kind, value) == value, obj["pattern"]
    return kind, value


def _indicators(objects: SourceObjects) -> list[dict[str, Any]]:
    """The indicators a list gave (a maltrail trail file also gives the objects that attribute them)."""
    return [obj for obj in objects.objects if obj["type"] == "indicator"]


def _lines_per_kind(objects: SourceObjects) -> Counter[str]:
    return Counter(_kind_and_value(obj)[0] for obj in _indicators(objects))


def _unique_per_kind(objects: SourceObjects) -> dict[str, int]:
    values = {_kind_and_value(obj) for obj in _indicators(objects)}
    return dict(Counter(kind for kind, _ in values))


def _single(data: bytes, name: str = "list.txt") -> SourceObjects:
    return read_text_list(data, name)


# --------------------------------------------------------------- PwC CSV


def test_pwc_csv_every_row_is_an_indicator_or_a_problem(corpus: Path) -> None:
    read = _read(corpus, PWC_CSV)
    assert len(read.objects) + len(read.problems) == 1898
    assert len({obj["id"] for obj in read.objects}) == 1889  # one url and one email row repeat
    simple = [obj for obj in read.objects if " AND " not in obj["pattern"]]
    assert len(read.objects) - len(simple) == 12  # `C:\...\name.ext` paths: a name AND a folder
    assert _unique_per_kind(SourceObjects(read.label, simple)) == {
        DOMAIN: 1374,
        MD5: 299,
        IPV4: 100,
        EMAIL: 59,
        FILE_NAME: 19,
        "mutex": 15,
        "windows-registry-key": 11,
    }
    variable = "holds an environment variable: logs show it expanded, so it cannot be matched as written"
    assert [(p.id.rsplit(":", 1)[1], p.reason) for p in read.problems] == [
        ("2", "'[digits].plg' is a placeholder, not a literal value"),
        ("22", rf"'%ALLUSERSPROFILE%\\SxS' {variable}"),
        ("23", rf"'%USERPROFILE%\AppData\Local\Temp\winsyslog\mPclient.dll' {variable}"),
        ("24", rf"'%USERPROFILE%\AppData\Local\Temp\winsyslog\msseces.asm' {variable}"),
        ("25", rf"'%USERPROFILE%\AppData\Local\Temp\winsyslog\msseces.exe' {variable}"),
        ("26", rf"'%USERPROFILE%\\AppData\Roaming\notron.exe' {variable}"),
        ("54", r"no STIX 2.1 object for named pipes ('\.\pipe\NamePipe_MoreWindows')"),
    ]
    assert all(p.status == "skipped" and p.source == read.label for p in read.problems)


def test_pwc_csv_load_report(corpus: Path) -> None:
    report = iocmatch.load(corpus / PWC_CSV).report
    assert report.compiled > 0
    assert report.read == report.compiled + report.skipped + report.excluded == 1898
    assert (report.compiled, report.skipped, report.excluded) == (1889, 7, 2)
    assert report.kinds[DOMAIN] == 1374
    assert report.kinds[MD5] == 299
    assert report.kinds[IPV4] == 100
    assert report.kinds[EMAIL] == 59
    assert not report.warnings


def test_pwc_paths_keys_and_hosts_become_the_expected_patterns(corpus: Path) -> None:
    by_name = {obj["name"]: obj for obj in _read(corpus, PWC_CSV).objects}
    assert by_name[r"C:\recovery\csvde.exe"]["pattern"] == (
        r"[file:name = 'csvde.exe' AND file:parent_directory_ref.path = 'C:\\recovery']"
    )
    # STIX 2.1 wants the full hive; the matcher finds HKCU as well.
    assert by_name[r"HKCU\Software\rar\e"]["pattern"] == (
        r"[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\rar\\e']"
    )
    assert by_name["ipv4.applemusic.itemdb.com"]["pattern"] == "[domain-name:value = 'ipv4.applemusic.itemdb.com']"
    assert by_name["&#@tz931("]["pattern"] == "[mutex:name = '&#@tz931(']"


def test_pwc_indicators_are_undated_and_named_after_the_file(corpus: Path) -> None:
    obj = _read(corpus, PWC_CSV).objects[0]
    assert obj["created"] == obj["modified"] == obj["valid_from"] == EPOCH
    assert obj["external_references"] == [{"source_name": Path(PWC_CSV).name}]
    assert obj["spec_version"] == "2.1"
    assert obj["pattern_type"] == "stix"


def test_pwc_indicators_hit_log_lines(corpus: Path) -> None:
    matcher = iocmatch.compile(iocmatch.load(corpus / PWC_CSV))
    hits = matcher.scan_line(r"Image: C:\recovery\mfeann.exe")
    assert {(m.kind, m.value) for m in hits} == {(FILE_NAME, "mfeann.exe"), (DIRECTORY, r"C:\recovery")}
    assert not matcher.scan_line(r"Image: D:\recovery\mfeann.exe")  # the AND needs the folder too
    assert matcher.scan_line(r"TargetObject: HKCU\Software\rar\e")[0].text == r"HKCU\Software\rar\e"


# ------------------------------------------------------------ text lists


def test_unit42_menupass(corpus: Path) -> None:
    read = _read(corpus, "pan-unit42_iocs/menuPass")
    assert not read.problems  # the `SHA256` header and the blank line are not data
    assert _lines_per_kind(read) == {SHA256: 664, DOMAIN: 220}
    assert _unique_per_kind(read) == {SHA256: 664, DOMAIN: 155}
    report = iocmatch.load(corpus / "pan-unit42_iocs/menuPass").report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (884, 819, 0, 65)
    assert report.kinds == {DOMAIN: 155, SHA256: 664}


def test_signature_base_c2_extract(corpus: Path) -> None:
    read = _read(corpus, "Neo23x0_signature-base/c2-iocs.APT10-extract.txt")
    assert not read.problems
    assert _unique_per_kind(read) == {DOMAIN: 1433}


def test_signature_base_hash_extract_keeps_comments(corpus: Path) -> None:
    read = _read(corpus, "Neo23x0_signature-base/hash-iocs.APT10-extract.txt")
    assert not read.problems
    assert _unique_per_kind(read) == {MD5: 448, SHA1: 41, SHA256: 65}
    assert read.objects[0]["description"] == "APT10 IOCs - Source: AlienVault OTX"
    report = iocmatch.load(corpus / "Neo23x0_signature-base/hash-iocs.APT10-extract.txt").report
    assert report.kinds == {MD5: 448, SHA1: 41, SHA256: 65}


def test_jonaslejon_hashes_with_one_short_value(corpus: Path) -> None:
    read = _read(corpus, "jonaslejon_apt10/hash-iocs.txt")
    assert _unique_per_kind(read) == {MD5: 299}
    assert len(read.objects) == 299
    [problem] = read.problems
    assert problem.id.endswith("hash-iocs.txt:140")
    assert "'6E311F3AF7FBF98B0AF1241E26E07E4'" in problem.reason
    assert "31 hex digits" in problem.reason
    assert read.objects[0]["description"] == "APT10 / Cloud Hopper https://goo.gl/CywXnS"


def test_maltrail_addresses_with_ports_are_the_address_on_that_port(corpus: Path) -> None:
    read = _read(corpus, "stamparm_maltrail/apt_menupass.txt")
    assert not read.problems
    addresses = [obj for obj in _indicators(read) if obj["pattern"].startswith("[network-traffic:")]
    assert len(addresses) == 11  # every one written `address:port`
    # 89.117.79.31 is listed with four ports: four indicators, one per port.
    assert len({obj["id"] for obj in addresses}) == 11
    assert len({re.findall(r"dst_ref.value = '([^']+)'", obj["pattern"])[0] for obj in addresses}) == 8
    first = next(obj for obj in addresses if obj["name"] == "185.117.88.80:8088")
    assert first["pattern"] == "[network-traffic:dst_ref.value = '185.117.88.80' AND network-traffic:dst_port = 8088]"
    matcher = iocmatch.compile(iocmatch.load(corpus / "stamparm_maltrail/apt_menupass.txt"))
    squid = "1700000000.1 51 10.1.2.3 TCP_TUNNEL/200 81 CONNECT 185.117.88.80:8088 - HIER_DIRECT/185.117.88.80 -"
    assert {(h.kind, h.value) for h in matcher.scan_line(squid)} == {("ipv4-addr", "185.117.88.80"), ("port", "8088")}
    assert matcher.scan_line("1700000000.1 51 10.1.2.3 TCP_TUNNEL/200 81 CONNECT 185.117.88.80:443 - -") == []
    others = SourceObjects(read.label, [obj for obj in _indicators(read) if obj not in addresses])
    assert _lines_per_kind(others)[URL] == 2
    # SOURCES.md counts 1490 lines, 1467 unique: the stored copy holds more.
    assert _lines_per_kind(others)[DOMAIN] == 1638
    assert _unique_per_kind(others)[DOMAIN] == 1486


def test_signature_base_filename_regexes_are_problems(corpus: Path) -> None:
    read = _read(corpus, "Neo23x0_signature-base/filename-iocs.CloudHopper-extract.txt")
    assert not read.objects
    assert len(read.problems) == 45
    assert all(p.reason.endswith("is a regular expression, not a literal value") for p in read.problems)
    assert read.problems[0].reason == r"'\\mfeann\.data' is a regular expression, not a literal value"
    report = iocmatch.load(corpus / "Neo23x0_signature-base/filename-iocs.CloudHopper-extract.txt").report
    assert (report.read, report.compiled, report.skipped) == (45, 0, 45)


@pytest.mark.parametrize(
    "name",
    [
        "pan-unit42_iocs/menuPass",
        "Neo23x0_signature-base/c2-iocs.APT10-extract.txt",
        "Neo23x0_signature-base/hash-iocs.APT10-extract.txt",
        "jonaslejon_apt10/hash-iocs.txt",
        "stamparm_maltrail/apt_menupass.txt",
        "stamparm_maltrail/lodeinfo.txt",
        "eset_malware-ioc/mirrorface/samples.sha256",
        PWC_CSV,
    ],
)
def test_corpus_lists_load_and_add_up(corpus: Path, name: str) -> None:
    report = iocmatch.load(corpus / name).report
    assert report.compiled > 0
    assert report.read == report.compiled + report.skipped + report.excluded
    assert not report.warnings


def test_ids_do_not_depend_on_the_folder(tmp_path: Path) -> None:
    data = b"evil.example\n"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "iocs.txt").write_bytes(data)
    (tmp_path / "b" / "iocs.txt").write_bytes(data)
    first = iocmatch.load(tmp_path / "a" / "iocs.txt").indicators[0].id
    assert iocmatch.load(tmp_path / "b" / "iocs.txt").indicators[0].id == first
    assert read_text_list(data, r"C:\feeds\iocs.txt").objects[0]["id"] == first
    assert read_text_list(data, "other.txt").objects[0]["id"] != first


# ---------------------------------------------------------- small files


EVERY_KIND = """\
# one value of every kind
MD5
900150983CD24FB0D6963F7D28E17F72
a9993e364706816aba3e25717850c26c9cd0d89d
ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
{sha512}

evil.example
Bücher.example.
198.51.100.7
198.51.100.0/24
203.0.113.9:8443
2001:DB8::1
[2001:db8::2]:443
::ffff:192.0.2.1
http://Evil.Example:80/Path?q=1
evil.example/drop.htm
Bad.Guy@Evil.Example
evil.example:8080
""".format(sha512="cf83" * 32)


def test_a_list_with_every_kind() -> None:
    read = _single(EVERY_KIND.encode())
    assert not read.problems
    patterns = [obj["pattern"] for obj in read.objects]
    assert patterns == [
        "[file:hashes.MD5 = '900150983cd24fb0d6963f7d28e17f72']",
        "[file:hashes.'SHA-1' = 'a9993e364706816aba3e25717850c26c9cd0d89d']",
        "[file:hashes.'SHA-256' = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad']",
        f"[file:hashes.'SHA-512' = '{'cf83' * 32}']",
        "[domain-name:value = 'evil.example']",
        "[domain-name:value = 'xn--bcher-kva.example']",
        "[ipv4-addr:value = '198.51.100.7']",
        "[ipv4-addr:value = '198.51.100.0/24']",
        "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8443]",
        "[ipv6-addr:value = '2001:db8::1']",
        "[network-traffic:dst_ref.value = '2001:db8::2' AND network-traffic:dst_port = 443]",
        "[ipv4-addr:value = '192.0.2.1']",
        "[url:value = 'http://evil.example/Path?q=1']",
        "[url:value = 'evil.example/drop.htm']",
        "[email-addr:value = 'bad.guy@evil.example']",
        "[network-traffic:dst_ref.value = 'evil.example' AND network-traffic:dst_port = 8080]",
    ]
    loaded = iocmatch.load(read)
    assert loaded.report.compiled == 16
    assert loaded.report.kinds == {
        DOMAIN: 2,
        EMAIL: 1,
        IPV4: 4,
        IPV6: 2,
        PORT: 3,
        MD5: 1,
        SHA1: 1,
        SHA256: 1,
        SHA512: 1,
        URL: 2,
    }


def test_text_list_problems_name_the_line() -> None:
    data = b"evil.example\nnot a value\n\\\\evil\\.exe;90\nevil[.]example\n12345\nfile.exe;80\n"
    read = _single(data, "x.txt")
    assert [(p.id, p.reason) for p in read.problems] == [
        ("x.txt:2", "unrecognised value 'not a value'"),
        ("x.txt:3", r"'\\evil\.exe' is a regular expression, not a literal value"),
        ("x.txt:5", "unrecognised value '12345'"),
    ]
    # a defanged value is read as what it is once refanged (loading refangs it, with a warning)
    assert "[domain-name:value = 'evil.example']" in [obj.get("pattern") for obj in read.objects]
    # no regex syntax: a literal, whatever the score field says
    assert read.objects[-1]["pattern"] == "[domain-name:value = 'file.exe']"
    assert read.objects[-1]["description"] == "80"


def test_text_list_invalid_value_of_a_known_shape() -> None:
    read = _single(b"300.1.2.3\n1.2.3.4/40\n")
    assert [p.reason for p in read.problems] == [
        "'300.1.2.3' is not a valid ipv4-addr address or network",
        "'1.2.3.4/40' is not a valid ipv4-addr address or network",
    ]


def test_text_list_crlf_bom_comments_and_headers() -> None:
    text = "\ufeffDomains:\r\n  evil.example  \r\n\r\n# c\r\nSHA-256\r\nother.example # seen 2017\r\nHashes\r\n"
    data = text.encode()
    read = _single(data)
    assert not read.problems
    assert [(obj["name"], obj.get("description")) for obj in read.objects] == [
        ("evil.example", None),
        ("other.example", "seen 2017"),
    ]


def test_empty_files() -> None:
    assert _single(b"") == SourceObjects("list.txt", [], spec_version="2.1")
    assert _single(b"\n# nothing\n\n") == SourceObjects("list.txt", [], spec_version="2.1")
    assert not looks_like_csv("")
    with pytest.raises(iocmatch.SourceError, match=r"empty\.csv"):
        read_csv(b"", "empty.csv")


def test_bytes_that_are_not_utf8_cost_only_their_row() -> None:
    # A value that is not UTF-8 is skipped; a comment that is not is kept, repaired.
    read = read_text_list("évil.example\nevil.example # café\n".encode("latin-1"), "latin.txt")
    assert [(p.id, p.reason) for p in read.problems] == [("latin.txt:1", "value is not UTF-8 text (byte 0xE9)")]
    assert [(obj["name"], obj["description"]) for obj in read.objects] == [("evil.example", "caf\ufffd")]
    read = read_csv("type,value,comment\ndomain,évil.example\ndomain,evil.example,café\n".encode("latin-1"), "l.csv")
    assert [(p.id, p.reason) for p in read.problems] == [("l.csv:2", "value is not UTF-8 text (byte 0xE9)")]
    assert [(obj["name"], obj["description"]) for obj in read.objects] == [("evil.example", "caf\ufffd")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Type,Value\nurl,evil.example\n", True),
        ("type,value\r\n", True),
        ("\ufeffTYPE,VALUE\n", True),
        ('"Indicator","Type"\n"evil.example","domain"\n', True),
        ("value;type;comment\nevil.example;domain;c2\n", True),
        ("indicator\ttype\nevil.example\tdomain\n", True),
        ("Indicator type,Indicator,Description\nhostname,evil.example,\n", True),  # OTX export
        ("uuid,event_id,category,type,value,comment\n", True),  # MISP export
        ("# exported\n\nType,Value\n", True),
        ("evil.example\nType,Value\n", False),  # the header must come first
        ("001b8f696b6576798517168cd0a0fb44;APT10\n", False),
        ("SHA256\n" + "a" * 64 + "\n", False),
        ("name,address\nx,evil.example\n", False),
        ("", False),
        ('"' + "x" * 200_000, False),
        ('# by x,"sheet 1\nType,Value\n', True),  # a comment is one line, whatever quotes it holds
    ],
)
def test_looks_like_csv(text: str, expected: bool) -> None:
    assert looks_like_csv(text) is expected


def test_csv_quoted_fields_other_delimiters_and_column_orders() -> None:
    data = (
        '\ufeff"Indicator";"Type";"Comment"\r\n'
        '"evil.example";"Domain";"C2; seen ""2017"""\r\n'
        '"1.2.3.4";"IP-DST";""\r\n'
        '"2001:db8::1";"ip-src";""\r\n'
        '"x@Evil.Example";"email-src";""\r\n'
        '"HKLM\\Software\\Evil";"regkey";""\r\n'
    ).encode()
    read = read_csv(data, "feed.csv")
    assert not read.problems
    assert [(obj["pattern"], obj.get("description")) for obj in read.objects] == [
        ("[domain-name:value = 'evil.example']", 'C2; seen "2017"'),
        ("[ipv4-addr:value = '1.2.3.4']", None),
        ("[ipv6-addr:value = '2001:db8::1']", None),
        ("[email-addr:value = 'x@evil.example']", None),
        (r"[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\Software\\Evil']", None),
    ]


def test_csv_types_and_their_problems() -> None:
    data = "\n".join(
        [
            "type\tvalue",
            "url\thttp://evil.example/a",
            "url\tevil.example:8080",
            "url\t198.51.100.1",
            "FileHash-SHA256\t" + "A" * 64,
            "sha512\t" + "b" * 128,
            "filename\tevil.exe",
            "filepath\tC:\\\\Windows\\x.exe",
            "filepath\t\\\\host\\C$\\evil.exe",
            "filepath\tC:\\ProgramData\\SxS\\",
            "filepath\t$env:TEMP\\evil.exe",
            "NamePipe\t\\\\.\\pipe\\evil",
            "YARA\trule x {}",
            "md5\tabc",
            "\tevil.example",
            "domain\t",
            "Type\tValue",
            "mutex\tGlobal\\[random]",
        ]
    ).encode()
    read = read_csv(data, "t.csv")
    assert [obj["pattern"] for obj in read.objects] == [
        "[url:value = 'http://evil.example/a']",
        "[url:value = 'evil.example:8080']",
        "[ipv4-addr:value = '198.51.100.1']",
        f"[file:hashes.'SHA-256' = '{'a' * 64}']",
        f"[file:hashes.'SHA-512' = '{'b' * 128}']",
        "[file:name = 'evil.exe']",
        r"[file:name = 'x.exe' AND file:parent_directory_ref.path = 'C:\\Windows']",
        r"[file:name = 'evil.exe' AND file:parent_directory_ref.path = '\\\\host\\C$']",
        r"[directory:path = 'C:\\ProgramData\\SxS']",
    ]
    assert [(p.id, p.reason) for p in read.problems] == [
        (
            "t.csv:11",
            (
                r"'$env:TEMP\evil.exe' holds an environment variable: logs show it expanded, "
                "so it cannot be matched as written"
            ),
        ),
        ("t.csv:12", r"no STIX 2.1 object for named pipes ('\\.\pipe\evil')"),
        ("t.csv:13", "unknown indicator type 'YARA'"),
        ("t.csv:14", "'abc' is not a valid MD5 hash (32 hex digits)"),
        ("t.csv:15", "row has no type for 'evil.example'"),
        ("t.csv:16", "row has no value"),
        ("t.csv:18", r"'Global\[random]' is a placeholder, not a literal value"),
    ]


def test_csv_without_type_and_value_columns_is_refused() -> None:
    with pytest.raises(iocmatch.SourceError, match=r"feed\.csv: CSV without a header"):
        read_csv(b"name,address\nx,evil.example\n", "feed.csv")


def test_csv_line_numbers_count_physical_lines() -> None:
    data = b'type,value,comment\r\n\r\n# note\r\ndomain,evil.example,"two\r\nlines"\r\nipv4,999.1.1.1,\r\n'
    read = read_csv(data, "n.csv")
    assert read.objects[0]["description"] == "two\r\nlines"
    assert [p.id for p in read.problems] == ["n.csv:6"]


def test_csv_loads_through_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_bytes(b"Type,Value\r\nurl,evil.example\r\nURL,EVIL.example\r\nNamePipe,\\\\.\\pipe\\x\r\n")
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (3, 1, 1, 1)
    assert iocmatch.compile(loaded).scan_line("GET http://a.evil.example/")[0].value == "evil.example"


# ------------------------------------- what a list's indicator matches is what its pattern says


def _assert_clauses_are_what_the_patterns_say(read: SourceObjects) -> None:
    """The loader takes the clauses a list's reader built, not its patterns: they must agree."""
    indicators = [position for position, obj in enumerate(read.objects) if obj["type"] == "indicator"]
    assert sorted(read.clauses) == indicators
    for position in indicators:
        obj = read.objects[position]
        compiled = compile_pattern(obj["pattern"])
        assert (read.clauses[position], compiled.warnings) == (compiled.clauses, ()), obj["pattern"]


def _corpus_lists() -> list[Path]:
    files = [path for folder in (CORPUS, FEEDS) if folder.is_dir() for path in sorted(folder.rglob("*"))]
    return [path for path in files if path.is_file() and _list_format(path)]


def _list_format(path: Path) -> bool:
    try:
        return detect_format(path.read_bytes(), str(path)) in ("csv", "text")
    except iocmatch.SourceError:
        return False


@pytest.mark.slow
def test_corpus_lists_build_the_clauses_their_patterns_say() -> None:
    paths = _corpus_lists()
    if not paths:
        pytest.skip(f"the corpus is not at {CORPUS.parent}")
    for path in paths:
        _assert_clauses_are_what_the_patterns_say(read_file(path))


TRICKY_ROWS = [
    ("filename", "it's.exe"),
    ("filename", "a\\b'c\\"),
    ("filepath", "C:\\Users\\o'brien\\a.exe"),
    ("filepath", "C:\\x.exe"),
    ("filepath", "/x.sh"),
    ("filepath", "\\\\host\\C$\\a.dll"),
    ("filepath", "/tmp/a b/ c.sh "),
    ("filepath", "C:\\ProgramData\\SxS"),
    ("regkey", "HKCU\\Software\\a'b\\"),
    ("mutex", "Global\\m'x"),
    ("url", "http://evil.example/a'b\\c?d='e'"),
    ("url", "HTTP://[::FFFF:192.0.2.1]:80/x"),
    ("ip", "::ffff:192.0.2.1"),
    ("ip-dst", "2001:DB8::/32"),
    ("email", "O'Brien@Evil.Example"),
    ("domain", "Bücher.example."),
]


def test_quotes_backslashes_and_odd_values_build_the_clauses_their_patterns_say() -> None:
    read = read_csv(_csv(TRICKY_ROWS), "tricky.csv")
    assert not read.problems
    assert len(read.objects) == len(TRICKY_ROWS)
    _assert_clauses_are_what_the_patterns_say(read)


def _csv(rows: list[tuple[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["type", "value"])
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


_ANY_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=20)


_TYPES = st.sampled_from(["filename", "filepath", "regkey", "mutex", "directory", "url", "domain"])


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TYPES, _ANY_TEXT), min_size=1, max_size=8))
def test_any_values_build_the_clauses_their_patterns_say(rows: list[tuple[str, str]]) -> None:
    _assert_clauses_are_what_the_patterns_say(read_csv(_csv(rows), "any.csv"))


def test_a_lists_patterns_are_shown_not_parsed_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Parsing a path's name-AND-folder pattern takes the full STIX grammar: lists no longer pay for it.
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a list's pattern was parsed")

    monkeypatch.setattr(loader, "compile_pattern", refuse)
    csv_feed, text_feed = tmp_path / "feed.csv", tmp_path / "feed.txt"
    csv_feed.write_bytes(_csv([("filepath", "C:\\Users\\x\\evil.exe"), ("domain", "evil.example")]))
    text_feed.write_bytes(b"198.51.100.7\n")
    loaded = iocmatch.load(csv_feed, text_feed)
    assert [indicator.pattern for indicator in loaded.indicators] == [
        r"[file:name = 'evil.exe' AND file:parent_directory_ref.path = 'C:\\Users\\x']",
        "[domain-name:value = 'evil.example']",
        "[ipv4-addr:value = '198.51.100.7']",
    ]
    hits = iocmatch.compile(loaded).scan_line(r"C:\Users\x\evil.exe from 198.51.100.7")
    assert {hit.value for hit in hits} == {"evil.exe", r"C:\Users\x", "198.51.100.7"}


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("900150983cd24fb0d6963f7d28e17f72", MD5),
        ("A9993E364706816ABA3E25717850C26C9CD0D89D", SHA1),
        ("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", SHA256),
        ("f" * 128, SHA512),
        ("6E311F3AF7FBF98B0AF1241E26E07E4", None),
        ("198.51.100.7", IPV4),
        ("198.51.100.0/24", IPV4),
        ("185.117.88.80:8088", IPV4),
        ("2001:db8::1", IPV6),
        ("2001:db8::/32", IPV6),
        ("[2001:db8::1]:443", IPV6),
        ("http://45.76.222.130", URL),
        ("hxxp://evil.example", URL),
        ("evil.example/a.htm", URL),
        ("x@evil.example", EMAIL),
        ("evil.example", DOMAIN),
        (" evil.example ", DOMAIN),
        ("g00gle_jp.dynamic-dns.net", DOMAIN),
        ("malware.DSMTP.COM", DOMAIN),
        ("evil.example.", DOMAIN),
        ("пример.рф", DOMAIN),
        ("xn--e1afmkfd.xn--p1ai", DOMAIN),
        ("evil.example:443", DOMAIN),
        ("evil.123", None),
        ("localhost", None),
        ("1.2.3.4.5", None),
        ("evil[.]example", None),
        (r"\\mfeann\.data", None),
        ("", None),
        ("not a value", None),
    ],
)
def test_infer_kind(value: str, kind: str | None) -> None:
    assert infer_kind(value) == kind


def test_ipsums_count_column_is_context_and_elsewhere_no_value(tmp_path: Path) -> None:
    ipsum = tmp_path / "ipsum.txt"
    header = "# IPsum Threat Intelligence Feed\n# IP<TAB>number of (black)lists\n"
    ipsum.write_text(header + "203.0.113.7\t10\nnot a value\t4\n")
    loaded = iocmatch.load(ipsum)
    assert (loaded.report.read, loaded.report.compiled, loaded.report.skipped) == (2, 1, 1)
    assert [match.value for match in iocmatch.compile(loaded).scan(["DROP SRC=203.0.113.7 DPT=22"])] == ["203.0.113.7"]
    assert "count 10" in read_text_list(ipsum.read_bytes(), "ipsum.txt").objects[0]["description"]
    # Without IPsum's header a number beside an address may be a prefix length: no guess.
    other = tmp_path / "networks.txt"
    other.write_text("192.0.2.0\t24\n")
    assert iocmatch.load(other, allow_broad=True).report.compiled == 0


@pytest.mark.slow
def test_ipsum_compiles_every_address(corpus: Path) -> None:
    ipsum = corpus.parent / "feeds" / "stamparm-ipsum" / "ipsum.txt"
    rows = sum(1 for line in ipsum.read_text().splitlines() if line and not line.startswith("#"))
    report = iocmatch.load(ipsum).report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (rows, rows, 0, 0)


def test_csv_rows_of_the_literal_kinds(tmp_path: Path) -> None:
    """A CSV typed with the literal kinds compiles each row to what its STIX path
    means; a port or a method alone is skipped, saying why, and nothing crashes."""
    path = tmp_path / "literals.csv"
    path.write_text(
        "type,value\n"
        "command-line,vssadmin delete shadows /all /quiet\n"
        "software-name,AnyDesk\n"
        "x509-serial,0a:1b:2c:3d:4e\n"
        "port,443\n"
        "http-method,POST\n",
        encoding="utf-8",
    )
    loaded = iocmatch.load(path)
    report = loaded.report
    assert (report.read, report.compiled, report.skipped) == (5, 3, 2)
    assert [p.reason for p in report.problems] == [
        "a port alone is no indicator (it would hit every line holding that number)",
        "a request method alone is no indicator (every request has one)",
    ]
    matcher = iocmatch.compile(loaded)
    sysmon = "Process Create: CommandLine: VSSADMIN delete shadows /all /quiet User: CORP\\bob"
    assert [hit.kind for hit in matcher.scan_line(sysmon)] == ["command-line"]
    zeek = "1733475242.1\tFh3Kx1\t3\t0A1B2C3D4E\tCN=remote.example"
    assert [hit.value for hit in matcher.scan_line(zeek)] == ["0A1B2C3D4E"]
    assert not matcher.scan_line("POST /upload HTTP/1.1 443")
