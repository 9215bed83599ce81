"""Maltrail trail files: every value carries its family, aliases, references and publisher.

The real files are maltrail's ``trails/static/suspicious`` folder (feeds/SOURCES.md)
and the malware trails of the APT10 corpus (apt10/SOURCES.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._feeds.lists import read_text_list
from iocmatch._feeds.objects import SourceObjects
from iocmatch._feeds.stix2_build import stable_id
from tests.conftest import CORPUS

SUSPICIOUS = CORPUS.parent / "feeds" / "maltrail-suspicious"
MALTRAIL_IN_APT10 = CORPUS / "stamparm_maltrail"
PUBLISHER_ID = stable_id("identity", "Maltrail")
REFERENCE_LINE = re.compile(r"#\s*(?:Reference|Referecne)\s*:\s*(\S+)")


@pytest.fixture
def suspicious() -> Path:
    if not SUSPICIOUS.is_dir():
        pytest.skip(f"the real maltrail trails are not beside the project ({SUSPICIOUS} is missing)")
    return SUSPICIOUS


@pytest.fixture
def apt10_trails() -> Path:
    if not MALTRAIL_IN_APT10.is_dir():
        pytest.skip(f"the published campaign corpus is not beside the project ({MALTRAIL_IN_APT10} is missing)")
    return MALTRAIL_IN_APT10


def _read(path: Path) -> SourceObjects:
    return read_text_list(path.read_bytes(), str(path))


def _of_type(read: SourceObjects, kind: str) -> list[dict[str, Any]]:
    return [obj for obj in read.objects if obj["type"] == kind]


def _urls(obj: dict[str, Any]) -> list[str]:
    return [
        ref["url"] for ref in obj.get("external_references", []) if ref["source_name"] == "Maltrail" and "url" in ref
    ]


def _data_lines(path: Path) -> list[int]:
    """The numbers of the lines that are neither blank nor a comment: the rows maltrail reads."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [number for number, line in enumerate(lines, 1) if line.strip() and not line.strip().startswith("#")]


def _families(read: SourceObjects) -> list[str]:
    """The names each indicator indicates, as context.py would find them."""
    names = {obj["id"]: obj["name"] for obj in _of_type(read, "malware")}
    return [names[rel["target_ref"]] for rel in _of_type(read, "relationship")]


# ------------------------------------------------------------- the real files


def _suspicious_files() -> list[Any]:
    """Every file; the large ones only in the full run (``make test``)."""
    if not SUSPICIOUS.is_dir():
        return ["computrace.txt"]  # skipped by the fixture
    return [
        pytest.param(path.name, marks=pytest.mark.slow) if path.stat().st_size > 50_000 else path.name
        for path in sorted(SUSPICIOUS.glob("*.txt"))
    ]


@pytest.mark.parametrize("name", _suspicious_files())
def test_every_trail_carries_what_it_is_its_references_and_publisher(suspicious: Path, name: str) -> None:
    path = suspicious / name
    read = _read(path)
    text = path.read_text(encoding="utf-8")
    what = name.removesuffix(".txt").replace("_", " ")  # as maltrail's assemble.py names it
    indicators = _of_type(read, "indicator")
    [publisher] = _of_type(read, "identity")
    assert (publisher["id"], publisher["name"]) == (PUBLISHER_ID, "Maltrail")
    cited = list(dict.fromkeys(REFERENCE_LINE.findall(text)))
    if "# Aliases:" in text:
        # A suspicious file naming aliases names a family (connectwise, simplehelp).
        family_object = next(obj for obj in _of_type(read, "malware") if obj["name"] == what)
        # The family object holds every reference of the file, in order, once.
        assert [url for url in cited if "://" in url] == _urls(family_object)
        families = 1 + len(family_object.get("aliases", []))
    else:
        # A suspicious trail says what its values are, and names no family.
        assert (_of_type(read, "malware"), _of_type(read, "relationship")) == ([], [])
        families = 0
    indicated = Counter(rel["source_ref"] for rel in _of_type(read, "relationship"))
    for obj in indicators:
        assert obj["created_by_ref"] == PUBLISHER_ID
        assert obj["external_references"][0] == {"source_name": name}
        assert set(_urls(obj)) <= set(cited)
        assert indicated[obj["id"]] == families
        if not families:
            assert (obj["labels"], obj["indicator_types"]) == (["suspicious", what], ["anomalous-activity"])
            assert obj["description"].startswith(f"maltrail suspicious trail: {what}")
    # Rows: each data line is an indicator or a problem, as before.
    assert len(indicators) + len(read.problems) == len(_data_lines(path))
    assert sorted(read.clauses) == list(range(len(indicators)))


def test_a_suspicious_trail_hit_names_no_family(suspicious: Path) -> None:
    path = suspicious / "computrace.txt"
    matcher = iocmatch.compile(iocmatch.load(path))
    [hit] = matcher.scan_line(
        "14-Jun-2024 15:16:01.123 queries: info: client 10.0.0.5#53124: query: search.namequery.com IN A"
    )
    assert (hit.value, hit.attribution, hit.sources) == ("search.namequery.com", (), ("Maltrail",))
    # A copy of a malware trail outside a folder named "suspicious" names its family, as maltrail's do.
    elsewhere = read_text_list(path.read_bytes(), "/trails/static/malware/computrace.txt")
    assert [obj["name"] for obj in _of_type(elsewhere, "malware")] == ["computrace"]


@pytest.mark.slow
def test_aliases_follow_the_family(suspicious: Path) -> None:
    read = _read(suspicious / "connectwise.txt")
    [family] = [obj for obj in _of_type(read, "malware") if "aliases" in obj]
    assert (family["name"], family["aliases"]) == ("connectwise", ["ScreenConnect"])
    # `# Referecne:` (sic) is a reference too.
    assert any("ref_id=44e17870769" in url for url in _urls(family))
    # An alias that only repeats the family's name adds nothing.
    simplehelp = _read(suspicious / "simplehelp.txt")
    assert [(obj["name"], obj.get("aliases")) for obj in _of_type(simplehelp, "malware")] == [("simplehelp", None)]


def test_a_value_cites_the_references_above_it(suspicious: Path) -> None:
    read = _read(suspicious / "computrace.txt")
    url = "http://securelist.com/analysis/publications/58278/absolute-computrace-revisited/"
    assert all(_urls(obj) == [url] for obj in _of_type(read, "indicator"))
    mining = {obj["name"]: obj for obj in _of_type(_read(suspicious / "crypto_mining.txt"), "indicator")}
    # Lines 324-327 cite four references; 163.172.114.218 is the first value below them.
    [rising] = [ref for ref in mining["163.172.114.218"]["external_references"] if "Rising" in ref.get("url", "")]
    assert rising["description"] == "# Note: different ports used"
    assert len(_urls(mining["163.172.114.218"])) == 4


def test_apt10_malware_trails(apt10_trails: Path) -> None:
    menupass = _read(apt10_trails / "apt_menupass.txt")
    assert set(_families(menupass)) == {"apt menupass", "apt10", "stone panda", "gallium", "earth kasha", "noopldr"}
    mirrorface = _read(apt10_trails / "apt_mirrorface.txt")
    [family] = [obj for obj in _of_type(mirrorface, "malware") if "aliases" in obj]
    assert (family["name"], family["aliases"]) == ("apt mirrorface", ["mirrorstealer", "lodeinfo"])
    assert len(_urls(family)) == 11
    hogfish = _read(apt10_trails / "apt_hogfish.txt")
    assert {obj["name"] for obj in _of_type(hogfish, "malware")} == {"apt hogfish"}


# ------------------------------------------------------------- hits in logs


@pytest.mark.slow
def test_a_squid_line_names_the_family_and_its_aliases(suspicious: Path) -> None:
    matcher = iocmatch.compile(iocmatch.load(suspicious / "connectwise.txt"))
    line = "1745239000.417    512 10.1.2.3 TCP_TUNNEL/200 4120 CONNECT 91158.to:443 - HIER_DIRECT/104.21.4.9 -"
    [hit] = matcher.scan_line(line)
    assert (hit.kind, hit.value) == ("domain-name", "91158.to")
    assert hit.attribution == ("connectwise", "ScreenConnect")
    assert hit.sources == ("Maltrail",)


def test_a_bind_query_names_the_group_and_its_aliases(apt10_trails: Path) -> None:
    matcher = iocmatch.compile(iocmatch.load(apt10_trails / "apt_menupass.txt"))
    line = (
        "14-Jun-2024 15:16:01.123 queries: info: client @0x7f1c 10.0.0.5#53124 (dick.ccfchrist.com): "
        "query: dick.ccfchrist.com IN A +E(0) (10.0.0.1)"
    )
    hits = matcher.scan_line(line)
    assert {hit.value for hit in hits} >= {"dick.ccfchrist.com"}
    for hit in hits:
        assert hit.attribution == ("apt menupass", "apt10", "stone panda", "gallium", "earth kasha", "noopldr")
        assert hit.sources == ("Maltrail",)


# ------------------------------------------------------------ the load report


@pytest.mark.slow
def test_check_json_accounts_for_every_trail(suspicious: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "check", "-i", str(suspicious), "--json"],
        capture_output=True,
        check=False,
    )
    report = json.loads(result.stdout)
    rows = {path.name: _data_lines(path) for path in suspicious.glob("*.txt")}
    assert report["read"] == sum(map(len, rows.values())) == 59_885  # feeds/SOURCES.md
    assert report["read"] == report["compiled"] + report["skipped"] + report["excluded"]
    # Every skipped row is named by its file and line, and is a data line of that file.
    for problem in report["problems"]:
        if problem["status"] == "skipped":
            file, _, line = problem["id"].rpartition(":")
            assert int(line) in rows[Path(file).name], problem
    # An `address:port` line is that address on that port: 245 addresses written with more
    # than one port (or also bare) are one indicator per port, no longer duplicates.
    assert (report["compiled"], report["skipped"], report["excluded"]) == (56_418, 1_169, 2_298)
    # Only connectwise (7,092 values: family and alias) and simplehelp (2,094) name a family;
    # the other files say what they are.
    assert report["context"] == {"identity": 30, "malware": 3, "relationship": 7_092 * 2 + 2_094}


@pytest.mark.slow
def test_ports_and_url_paths_are_read_as_before(suspicious: Path) -> None:
    counts: Counter[str] = Counter()
    for path in sorted(suspicious.glob("*.txt")):
        read = _read(path)
        for obj in _of_type(read, "indicator"):
            counts["port"] += obj["pattern"].startswith("[network-traffic:dst_ref.value = ")
            counts["url"] += obj["pattern"].startswith("[url:")
        counts["unrecognised"] += sum(problem.reason.startswith("unrecognised value") for problem in read.problems)
    # `address:port`: the address and the port; `/path` trails are no value we can match.
    assert counts == Counter(port=1106, url=106, unrecognised=1169)


# ---------------------------------------------------- lists that are not maltrail's


def test_an_ordinary_list_gets_no_attribution(tmp_path: Path) -> None:
    read = read_text_list(b"# IOCs\n# Reference: https://example.org/report\nevil.example\n", "iocs.txt")
    assert [obj["type"] for obj in read.objects] == ["indicator"]
    assert read.objects[0]["external_references"] == [{"source_name": "iocs.txt"}]
    assert "created_by_ref" not in read.objects[0]
    # Maltrail's copyright line after the first value does not make a trail file.
    late = b"evil.example\n# Copyright (c) 2014-2026 Maltrail developers (https://github.com/stamparm/maltrail/)\n"
    assert [obj["type"] for obj in read_text_list(late, "late.txt").objects] == ["indicator"]
    path = tmp_path / "iocs.txt"
    path.write_bytes(b"evil.example\n")
    [hit] = iocmatch.compile(iocmatch.load(path)).scan_line("GET http://evil.example/")
    assert (hit.attribution, hit.sources) == ((), (str(path),))


def test_the_apt10_corpus_lists_that_are_not_maltrail_are_untouched(apt10_trails: Path) -> None:
    for path in sorted(apt10_trails.parent.rglob("*.txt")):
        if path.parent == apt10_trails:
            continue
        read = _read(path)
        assert {obj["type"] for obj in read.objects} <= {"indicator"}, path
        assert all(obj["external_references"] == [{"source_name": path.name}] for obj in read.objects), path


HEADER = b"# Copyright (c) 2014-2026 Maltrail developers (https://github.com/stamparm/maltrail/)\n"


def test_reference_groups_and_repeated_values() -> None:
    data = HEADER + (
        b"# Aliases: Foo, , bar\n"
        b"# Reference: https://a.example/1\n"
        b"# Reference: https://a.example/2 (# note)\n"
        b"one.example\n"
        b"two.example\n"
        b"# Reference: https://a.example/3\n"
        b"three.example\n"
        b"one.example\n"
        b"one.example:8080\n"
        b"# Reference:\n"
        b"four.example\n"
        b"/just/a/path.php\n"
    )
    read = read_text_list(data, "/trails/static/malware/my_family.txt")
    by_name = {obj["name"]: obj for obj in _of_type(read, "indicator")}
    assert _urls(by_name["two.example"]) == ["https://a.example/1", "https://a.example/2"]
    assert _urls(by_name["three.example"]) == ["https://a.example/3"]
    assert _urls(by_name["four.example"]) == []  # a bare `# Reference:` ends a group
    # one.example is written twice: both copies cite both groups, so they stay duplicates.
    ones = [obj for obj in _of_type(read, "indicator") if obj["name"] == "one.example"]
    assert [_urls(obj) for obj in ones] == [["https://a.example/1", "https://a.example/2", "https://a.example/3"]] * 2
    # With a port it is another indicator: that host on that port.
    assert _urls(by_name["one.example:8080"]) == ["https://a.example/3"]
    assert by_name["one.example:8080"]["pattern"] == (
        "[network-traffic:dst_ref.value = 'one.example' AND network-traffic:dst_port = 8080]"
    )
    assert [problem.reason for problem in read.problems] == ["unrecognised value '/just/a/path.php'"]
    assert _families(read)[:3] == ["my family", "Foo", "bar"]
    # One set of relationships per indicator id, however often its value is written.
    assert len(_of_type(read, "relationship")) == 5 * 3
    report = iocmatch.load(read).report
    assert (report.read, report.compiled, report.skipped, report.excluded) == (7, 5, 1, 1)
