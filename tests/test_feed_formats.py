"""Every feed format is told apart by content, wherever it sits: a file, a folder, a folder in a folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import iocmatch
from iocmatch._feeds.detect import detect_format
from tests.conftest import CORPUS

FEEDS = CORPUS.parent / "feeds"


@pytest.fixture
def feeds() -> Path:
    if not FEEDS.is_dir():
        pytest.skip(f"the public feeds corpus is not beside the project ({FEEDS} is missing)")
    return FEEDS


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("citizenlab-openioc/202006_DarkBasin/openioc.ioc", "openioc"),
        ("citizenlab-openioc/202006_DarkBasin/iocs.csv", "misp-csv"),
        ("citizenlab-openioc/202006_DarkBasin/misp.json", "stix2-json"),  # JSON: the reader tells MISP from STIX
        ("abusech-feodotracker/ipblocklist.csv", "abusech"),
        ("abusech-urlhaus/urlhaus.csv", "abusech"),
        ("maltrail-suspicious/computrace.txt", "text"),
        ("stamparm-ipsum/ipsum.txt", "text"),
    ],
)
def test_each_real_format_is_told_by_its_content(feeds: Path, path: str, form: str) -> None:
    file = feeds / path
    assert detect_format(file.read_bytes()[:65_536], str(file)) == form


def test_a_reports_three_exports_load_by_path_and_give_the_same_domains(feeds: Path) -> None:
    report = feeds / "citizenlab-openioc" / "202006_DarkBasin"
    domains = []
    for name in ("openioc.ioc", "misp.json", "iocs.csv"):
        loaded = iocmatch.load(report / name)
        assert loaded.report.compiled > 0, name
        domains.append({atom.value for i in loaded.indicators for clause in i.clauses for atom in clause
                        if atom.kind == "domain-name"})  # fmt: skip
    assert domains[0]
    assert domains[0] <= domains[1] == domains[2]


def test_a_misp_feed_folder_is_one_feed_by_path_and_inside_a_walked_folder(feeds: Path, tmp_path: Path) -> None:
    crowdsec = feeds / "misp-feed-crowdsec"
    alone = iocmatch.load(crowdsec).report
    assert (alone.read, alone.compiled, alone.skipped, alone.excluded) == (864, 864, 0, 0)
    parent = tmp_path / "feeds"
    parent.mkdir()
    (parent / "crowdsec").symlink_to(crowdsec, target_is_directory=True)
    (parent / "local.txt").write_text("evil.example\n")
    walked = iocmatch.load(parent).report
    # manifest.json is no STIX and hashes.csv holds digests of values: neither is read as a feed.
    assert (walked.read, walked.compiled) == (865, 865)
    assert not any("manifest.json" in source or "hashes.csv" in source for source in walked.sources)


@pytest.mark.slow
def test_the_whole_feeds_corpus_loads_and_accounts_for_everything(feeds: Path) -> None:
    report = iocmatch.load(feeds).report
    assert report.read == report.compiled + report.skipped + report.excluded
    assert report.compiled > 190_000  # IPsum, URLhaus, maltrail, MISP, OpenIOC, Feodo
    for counts in report.by_source.values():
        assert counts["read"] == counts["compiled"] + counts["skipped"] + counts["excluded"]


def test_a_linked_feed_folder_is_read_and_a_link_loop_ends(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "c2.txt").write_text("203.0.113.9\n")
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "local.txt").write_text("evil.example\n")
    (feeds / "linked").symlink_to(elsewhere, target_is_directory=True)
    (elsewhere / "back").symlink_to(feeds, target_is_directory=True)  # a loop through both
    report = iocmatch.load(feeds).report
    assert (report.read, report.compiled) == (2, 2)


def test_files_beside_a_misp_feed_are_feeds_of_their_own(tmp_path: Path) -> None:
    feed = tmp_path / "feed"
    (feed / "sub").mkdir(parents=True)
    listed, unlisted = "5b3e5ad1-0000-4000-8000-0000000000aa", "5b3e5ad1-0000-4000-8000-0000000000ab"
    (feed / "manifest.json").write_text(json.dumps({listed: {"info": "listed"}}))
    (feed / "hashes.csv").write_text(f"{listed},0123456789abcdef0123456789abcdef\n")
    for uuid, value in ((listed, "listed.example"), (unlisted, "unlisted.example")):
        event = {"Event": {"info": uuid, "Attribute": [{"type": "domain", "value": value, "to_ids": True}]}}
        (feed / f"{uuid}.json").write_text(json.dumps(event))
    (feed / "other.txt").write_text("other.example\n")
    (feed / "sub" / "list.txt").write_text("deeper.example\n")
    loaded = iocmatch.load(feed)
    values = {atom.value for i in loaded.indicators for clause in i.clauses for atom in clause}
    assert values == {"listed.example", "unlisted.example", "other.example", "deeper.example"}


def test_no_real_json_feed_is_taken_for_an_abusech_one(feeds: Path) -> None:
    # MISP events and feeds, MISP warninglists: JSON, none of it abuse.ch's.
    files = sorted(feeds.rglob("*.json"))
    assert len(files) > 100
    for file in files:
        assert detect_format(file.read_bytes()[:65_536], str(file)) == "stix2-json", file


def test_threatfox_json_beside_other_json_feeds_in_a_folder(tmp_path: Path) -> None:
    threatfox = {
        "1251911": [
            {
                "ioc_value": "update.bad-cdn.example",
                "ioc_type": "domain",
                "threat_type": "botnet_cc",
                "malware": "win.lumma",
                "malware_alias": None,
                "malware_printable": "Lumma Stealer",
                "first_seen_utc": "2024-04-02 08:15:04",
                "last_seen_utc": None,
                "confidence_level": 75,
                "reference": None,
                "tags": "Lumma",
                "anonymous": "0",
                "reporter": "someone",
            }
        ]
    }
    bundle = {
        "type": "bundle",
        "id": "bundle--5b3e5ad1-0000-4000-8000-000000000001",
        "objects": [
            {
                "type": "indicator",
                "spec_version": "2.1",
                "id": "indicator--5b3e5ad1-0000-4000-8000-000000000002",
                "created": "2024-01-01T00:00:00.000Z",
                "modified": "2024-01-01T00:00:00.000Z",
                "pattern": "[domain-name:value = 'stix.bad.example']",
                "pattern_type": "stix",
                "valid_from": "2024-01-01T00:00:00.000Z",
            }
        ],
    }
    event = {"Event": {"info": "x", "Attribute": [{"type": "domain", "value": "misp.bad.example", "to_ids": True}]}}
    for name, document in (("recent.json", threatfox), ("bundle.json", bundle), ("event.json", event)):
        (tmp_path / name).write_text(json.dumps(document, indent=2))
    assert detect_format((tmp_path / "recent.json").read_bytes(), "recent.json") == "abusech"
    loaded = iocmatch.load(tmp_path)
    assert sorted((i.name, i.publisher) for i in loaded.indicators) == [
        ("", ""),
        ("update.bad-cdn.example", "abuse.ch ThreatFox"),
        ("x", ""),
    ]
    lines = {
        "query[A] update.bad-cdn.example from 10.1.2.3": ("Lumma Stealer",),
        "query[A] stix.bad.example from 10.1.2.3": (),
        "query[A] misp.bad.example from 10.1.2.3": (),
    }
    matcher = iocmatch.compile(loaded)
    for line, attribution in lines.items():
        assert [hit.attribution for hit in matcher.scan_line(line)] == [attribution], line
