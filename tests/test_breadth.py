"""Over-broad indicators and allowlists: excluded by default and reported with
the reason, kept when the caller allows them; an allowlist names the entry
that suppressed each indicator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch import SourceError
from tests.conftest import bundle, indicator
from tests.test_cli import run

TOO_BROAD = [
    ("[ipv4-addr:value = '0.0.0.0/0']", "wider than /8"),
    ("[ipv4-addr:value = '10.0.0.0/7']", "wider than /8"),
    ("[ipv6-addr:value = '2001::/16']", "wider than /32"),
    ("[ipv6-addr:value = '::/0']", "wider than /32"),
    ("[domain-name:value = 'com']", "public suffix"),
    ("[domain-name:value = 'CO.UK']", "public suffix"),
    ("[domain-name:value = 'github.io']", "public suffix"),
    ("[domain-name:value LIKE '%.co.uk']", "public suffix"),
    ("[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", "MD5 of an empty file"),
    ("[file:hashes.'SHA-1' = 'DA39A3EE5E6B4B0D3255BFEF95601890AFD80709']", "SHA1 of an empty file"),
    ("[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']", "empty file"),
    ("[ipv4-addr:value = '8.8.8.8']", "public DNS resolver (Google Public DNS)"),
    ("[ipv4-addr:value = '1.1.1.1/32']", "public DNS resolver (Cloudflare DNS)"),
    ("[ipv6-addr:value = '2606:4700:4700:0::1111']", "public DNS resolver"),
    # A LIKE prefix needs four letters or digits; a URL's scheme does not count.
    ("[file:name LIKE 'w%']", "LIKE 'w%' fixes fewer than 4 letters or digits"),
    ("[directory:path LIKE '/%']", "fixes fewer than 4 letters or digits"),
    ("[domain-name:value LIKE 'ev.%']", "fixes fewer than 4"),
    ("[url:value LIKE 'http://www.%']", "fixes fewer than 4"),
    ("[url:value LIKE 'https:%']", "holds only a URL scheme"),
    ("[url:value LIKE 'http%']", "holds only a URL scheme"),
    ("[file:name = 'a']", "file name 'a' has fewer than 3 characters"),
    ("[file:name = 'ab']", "fewer than 3 characters"),
    ("[file:name = 'svchost.exe']", "svchost.exe is the name of a program on every Windows host"),
    ("[file:name = 'CMD.EXE']", "program on every Windows host"),
    ("[file:name = 'rundll32.exe']", "program on every Windows host"),
    ("[file:name = 'powershell.exe']", "program on every Windows host"),
    ("[file:name LIKE 'svch%']", "covers svchost.exe"),
    ("[directory:path = 'c:\\\\Windows']", "a Windows system folder (C:\\Windows)"),
    ("[directory:path = 'C:\\\\WINDOWS\\\\system32\\\\']", "a Windows system folder (C:\\Windows\\System32)"),
    ("[directory:path = 'C:/Windows/SysWOW64']", "(C:\\Windows\\SysWOW64)"),
    ("[directory:path = 'C:\\\\Program Files (x86)']", "a Windows system folder"),
    ("[directory:path = 'c:\\\\programdata\\\\']", "a Windows system folder"),
    ("[directory:path = 'C:\\\\Users\\\\Public']", "a user's profile folder"),
    ("[directory:path = 'C:\\\\Users\\\\alice\\\\AppData\\\\Local\\\\Temp']", "a folder in every user's profile"),
    ("[directory:path = 'D:\\\\Users\\\\bob\\\\Downloads']", "a folder in every user's profile"),
    ("[directory:path = '%TEMP%']", "(C:\\Users\\*\\AppData\\Local\\Temp)"),
    ("[directory:path = '%AppData%\\\\']", "(C:\\Users\\*\\AppData\\Roaming)"),
    ("[directory:path = '%SystemRoot%\\\\System32']", "(C:\\Windows\\System32)"),
    ("[directory:path = '%ProgramFiles%']", "a Windows system folder"),
    ("[directory:path = '%USERPROFILE%']", "a user's profile folder"),
    ("[file:parent_directory_ref.path = 'C:\\\\Windows\\\\Temp']", "a Windows system folder"),
    ("[directory:path LIKE 'C:\\\\Windows\\\\%']", "covers a Windows system folder (C:\\Windows)"),
    ("[directory:path LIKE 'C:\\\\Program%']", "covers a Windows system folder (C:\\Program Files)"),
    ("[directory:path = '/']", "the root folder"),
    ("[directory:path = '/tmp/']", "a system folder (/tmp)"),
    ("[directory:path = '/var/tmp']", "a system folder"),
    ("[directory:path = '/dev/shm']", "a system folder"),
    ("[directory:path = '/usr/local/bin']", "a system folder"),
    ("[directory:path = '/home/alice']", "a user's home folder"),
    # A text list reads `svchost.exe` as a host name: still the name of a program everywhere.
    ("[domain-name:value = 'svchost.exe']", "the name of a program on every Windows host"),
    ("[directory:path LIKE '/usr/bin/%']", "covers a system folder (/usr/bin)"),
]
# Private, reserved and documentation ranges are what internal hunts and tests use.
KEPT = [
    "[ipv4-addr:value = '10.0.0.0/8']",
    "[ipv4-addr:value = '192.168.0.0/16']",
    "[ipv4-addr:value = '198.51.100.0/24']",
    "[ipv4-addr:value = '127.0.0.1']",
    "[ipv6-addr:value = '2001:db8::/32']",
    "[ipv4-addr:value = '8.8.8.9']",
    "[domain-name:value = 'evil.co.uk']",
    "[domain-name:value = 'pages.github.io']",
    "[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']",
    # Names, folders and ANDs the bundled campaign data holds: specific to it.
    "[file:name = 't.vbs']",
    "[file:name = 'quser.exe']",
    "[file:name = 'nltest.exe']",
    "[directory:path = 'C:\\\\Windows\\\\Vss']",
    "[directory:path = 'C:\\\\Windows\\\\Temp\\\\winsyslog']",
    "[file:name = 'MsMpEng.exe' AND file:parent_directory_ref.path = 'C:\\\\recovery']",
    "[file:name = 'RedLeaves.exe' AND file:parent_directory_ref.path = 'C:\\\\windows\\\\system32']",
    # Below a system folder, a prefix that fixes enough, an AND with a specific part.
    "[directory:path = 'C:\\\\Users\\\\alice\\\\AppData\\\\Roaming\\\\Evil']",
    "[directory:path = '/tmp/.ICE-unix-evil']",
    "[directory:path = '/TMP']",  # POSIX names keep their case
    "[directory:path LIKE 'C:\\\\Windows\\\\Temp\\\\winsyslog\\\\%']",
    "[file:name LIKE 'mimi%']",
    "[url:value LIKE 'http://evil%']",
    "[file:name = 'svchost.exe' AND file:parent_directory_ref.path = 'C:\\\\ProgramData\\\\Evil']",
]


def _load(*patterns: str, **options: Any) -> iocmatch.IndicatorSet:
    loaded = iocmatch.load(bundle(*(indicator(p, n) for n, p in enumerate(patterns, 1))), **options)
    report = loaded.report
    assert report.read == report.compiled + report.skipped + report.excluded
    return loaded


@pytest.mark.parametrize(("pattern", "reason"), TOO_BROAD)
def test_an_over_broad_value_is_excluded_with_its_reason(pattern: str, reason: str) -> None:
    report = _load(pattern).report
    assert (report.compiled, report.excluded) == (0, 1)
    (problem,) = report.problems
    assert problem.status == "excluded"
    assert problem.id == indicator(pattern, 1)["id"]
    assert problem.reason.startswith("too broad: ")
    assert reason in problem.reason


@pytest.mark.parametrize(("pattern", "reason"), TOO_BROAD)
def test_an_over_broad_value_is_kept_when_allowed(pattern: str, reason: str) -> None:  # noqa: ARG001 - TOO_BROAD's 2nd column
    assert _load(pattern, allow_broad=True).report.compiled == 1


def test_private_reserved_and_documentation_values_are_kept() -> None:
    report = _load(*KEPT).report
    assert (report.compiled, report.excluded) == (len(KEPT), 0), report.problems


def test_an_or_loses_only_its_over_broad_part_and_says_so() -> None:
    loaded = _load("[ipv4-addr:value = '8.8.8.8' OR domain-name:value = 'evil.example']")
    assert loaded.report.compiled == 1
    (warning,) = loaded.report.warnings
    assert "8.8.8.8 is a public DNS resolver" in warning.reason
    assert "left out" in warning.reason
    matcher = iocmatch.compile(loaded)
    assert [m.text for m in matcher.scan_line("query evil.example from 8.8.8.8")] == ["evil.example"]


def test_an_and_with_one_specific_part_stays_whole() -> None:
    pattern = "[file:name = 'dropper.exe' AND file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"
    loaded = _load(pattern)
    assert loaded.report.compiled == 1
    assert not loaded.report.warnings


@pytest.mark.slow
def test_an_and_of_over_broad_parts_names_the_same_reason_on_every_run(tmp_path: Path) -> None:
    # The parts of an AND are a set, whose order changes with the hash seed from run to run.
    feed = tmp_path / "feed.csv"
    feed.write_text("type,value\nfilepath,C:\\Windows\\System32\\svchost.exe\n")
    script = f"import iocmatch; print(iocmatch.load({str(feed)!r}).report.problems[0].reason)"
    reasons = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            check=False,
        ).stdout
        for seed in range(8)
    }
    assert reasons == {b"too broad: C:\\Windows\\System32 is a Windows system folder (C:\\Windows\\System32)\n"}


WARNINGLISTS: list[tuple[dict[str, Any], str, str]] = [
    (
        {"name": "Known good", "type": "string", "list": ["Good.Example"]},
        "[domain-name:value = 'good.example']",
        "string 'Good.Example'",
    ),
    (
        {"name": "CDN", "type": "substring", "list": ["akamai"]},
        "[domain-name:value = 'a1.akamaiedge.net']",
        "substring 'akamai'",
    ),
    (
        {"name": "Microsoft", "type": "hostname", "list": ["microsoft.com"]},
        "[url:value = 'https://login.microsoft.com/x']",
        "hostname 'microsoft.com'",
    ),
    (
        {"name": "Microsoft", "type": "hostname", "list": ["microsoft.com."]},
        "[domain-name:value = 'update.microsoft.com']",
        "hostname 'microsoft.com.'",
    ),
    (
        {"name": "Cloud ranges", "type": "cidr", "list": ["20.0.0.0/11"]},
        "[ipv4-addr:value = '20.1.2.0/24']",
        "cidr '20.0.0.0/11'",
    ),
    (
        {"name": "Sinkholes", "type": "regex", "list": ["/^sinkhole\\d+\\./i"]},
        "[domain-name:value = 'SINKHOLE7.evil.example']",
        "regex",
    ),
]


@pytest.mark.parametrize(("warninglist", "pattern", "entry"), WARNINGLISTS)
def test_an_allowlist_suppresses_and_names_the_entry(
    warninglist: dict[str, Any], pattern: str, entry: str, tmp_path: Path
) -> None:
    path = tmp_path / "list.json"
    path.write_text(json.dumps(warninglist))
    report = _load(pattern, "[domain-name:value = 'evil.example']", allowlists=[path]).report
    assert (report.compiled, report.excluded) == (1, 1)
    (problem,) = report.problems
    assert problem.id == indicator(pattern, 1)["id"]
    assert problem.reason.startswith("allowlisted: ")
    assert repr(warninglist["name"]) in problem.reason
    assert entry in problem.reason


def test_an_allowlist_does_not_suppress_what_it_does_not_hold() -> None:
    lists = [
        {"type": "cidr", "list": ["20.1.2.0/25"]},  # inside the indicator's range, not around it
        {"type": "hostname", "list": ["soft.com"]},  # microsoft.com is not under soft.com
        {"type": "string", "list": ["evil.example.org"]},
    ]
    report = _load(
        "[ipv4-addr:value = '20.1.2.0/24']", "[domain-name:value = 'microsoft.com']", allowlists=lists
    ).report
    assert report.compiled == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"type": "string"}', "not a MISP warninglist"),
        ('{"type": "glob", "list": ["a"]}', "type 'glob' is not one of"),
        ('{"type": "cidr", "list": ["300.1.1.0/24"]}', "'300.1.1.0/24' is not an address or CIDR"),
        ('{"type": "regex", "list": ["(unclosed"]}', "is not a regular expression"),
    ],
)
def test_a_bad_allowlist_is_refused_naming_the_file(content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad-list.json"
    path.write_text(content)
    with pytest.raises(SourceError, match=message):
        _load("[domain-name:value = 'evil.example']", allowlists=[path])
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(bundle(indicator("[domain-name:value = 'evil.example']"))))
    result = run("check", "-i", str(feed), "--allowlist", str(path))
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert str(path) in line
    assert message.split("'", maxsplit=1)[0] in line
    assert "Traceback" not in line


@pytest.fixture
def broad_feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    objects = [indicator("[ipv4-addr:value = '8.8.8.8']", 1), indicator("[domain-name:value = 'evil.example']", 2)]
    path.write_text(json.dumps(bundle(*objects)))
    return path


@pytest.mark.slow
def test_cli_reports_and_scans_without_the_over_broad(broad_feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "dns.log"
    log.write_text("client 10.0.0.5 query evil.example via 8.8.8.8\n")
    checked = run("check", "--json", "-i", str(broad_feed))
    assert checked.returncode == 0
    report = json.loads(checked.stdout)
    assert (report["compiled"], report["excluded"]) == (1, 1)
    assert "public DNS resolver" in report["problems"][0]["reason"]
    scanned = run("scan", "--format", "jsonl", "-i", str(broad_feed), str(log))
    assert [json.loads(line)["text"] for line in scanned.stdout.decode().splitlines()] == ["evil.example"]
    assert "1 excluded" in scanned.stderr.decode()
    allowed = run("scan", "--format", "jsonl", "--allow-broad", "-i", str(broad_feed), str(log))
    assert [json.loads(line)["text"] for line in allowed.stdout.decode().splitlines()] == ["evil.example", "8.8.8.8"]


@pytest.mark.slow
def test_cli_strict_makes_any_problem_an_error(broad_feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "dns.log"
    log.write_text("query evil.example\n")
    result = run("scan", "--strict", "-i", str(broad_feed), str(log))
    assert result.returncode == 2
    assert result.stdout == b""
    message = result.stderr.decode()
    assert "--strict: 1 problems" in message
    assert "8.8.8.8 is a public DNS resolver" in message
    assert "Traceback" not in message
    clean = tmp_path / "clean.json"
    clean.write_text(json.dumps(bundle(indicator("[domain-name:value = 'evil.example']"))))
    assert run("scan", "--strict", "-i", str(clean), str(log)).returncode == 0


def test_a_matcher_file_refuses_loading_options(broad_feed: Path, tmp_path: Path) -> None:
    result = run("scan", "-m", str(tmp_path / "m.iocm"), "--allow-broad", str(broad_feed))
    assert result.returncode == 2
    assert "not allowed with --allow-broad" in result.stderr.decode()


@pytest.mark.parametrize("pattern", ["[url:value LIKE 'http://%']", "[url:value LIKE 'HXXPS://%']"])
def test_a_url_like_of_a_bare_scheme_is_skipped_as_never_hitting(pattern: str) -> None:
    # URLs are looked for without their scheme (a URL hits under any scheme): nothing is left to look for.
    for allow_broad in (False, True):
        report = _load(pattern, allow_broad=allow_broad).report
        (problem,) = report.problems
        assert (report.skipped, problem.status) == (1, "skipped")
        assert "can never hit a log line" in problem.reason
    loaded = _load(pattern[:-1] + " OR domain-name:value = 'evil.example']")
    assert loaded.report.compiled == 1
    (warning,) = loaded.report.warnings
    assert "can never hit a log line" in warning.reason


@pytest.mark.slow
def test_cli_excludes_system_folders_short_names_and_bare_schemes(tmp_path: Path) -> None:
    path = tmp_path / "feed.json"
    patterns = [
        "[directory:path = 'c:\\\\Windows']",
        "[file:name LIKE 'w%']",
        "[url:value LIKE 'http://%']",
        "[domain-name:value = 'evil.example']",
    ]
    path.write_text(json.dumps(bundle(*(indicator(p, n) for n, p in enumerate(patterns, 1)))))
    checked = run("check", "--json", "-i", str(path))
    assert checked.returncode == 0
    report = json.loads(checked.stdout)
    assert (report["compiled"], report["excluded"], report["skipped"]) == (1, 2, 1)
    reasons = sorted((problem["status"], problem["reason"]) for problem in report["problems"])
    assert reasons == [
        ("excluded", "too broad: LIKE 'w%' fixes fewer than 4 letters or digits"),
        ("excluded", "too broad: c:\\Windows is a Windows system folder (C:\\Windows)"),
        (
            "skipped",
            (
                "LIKE 'http://%' can never hit a log line: URLs are looked for without their scheme, "
                "and nothing follows it"
            ),
        ),
    ]
    allowed = json.loads(run("check", "--json", "--allow-broad", "-i", str(path)).stdout)
    assert (allowed["compiled"], allowed["excluded"], allowed["skipped"]) == (3, 0, 1)
    strict = run("check", "--strict", "-i", str(path))
    assert strict.returncode == 2
    message = strict.stderr.decode()
    assert "--strict: 3 problems" in message
    assert "Windows system folder" in message
    assert "Traceback" not in message
