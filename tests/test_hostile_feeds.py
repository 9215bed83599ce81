"""Feeds come from outside: a bad object is reported with its id and reason and
the good ones load; a source that cannot be read at all stops the run with one
line naming it. Tried from the command line, as a pipeline runs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bundle, indicator
from tests.test_cli import run

YEAR_ONE = "0001-01-01T00:00:00+01:00"
GOOD = indicator("[domain-name:value = 'evil.example']", 1)
BAD_OBJECTS: list[tuple[Any, str]] = [
    (5, "not a JSON object"),
    ("indicator", "not a JSON object"),
    ({"id": "indicator--00000000-0000-4000-8000-0000000000aa"}, "object has no 'type'"),
    ({"type": 7, "id": "indicator--00000000-0000-4000-8000-0000000000ab"}, "object has no 'type'"),
    (indicator("[domain-name:value = 'a' AND", 2), "indicator--00000000-0000-4000-8000-000000000002"),
    (indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcde']", 3), "not a valid MD5 hash"),
    (indicator("[ipv4-addr:value = '198.51.300.1']", 4), "198.51.300.1"),
    (indicator("[x-custom:value = 'a']", 5), "not supported"),
    (indicator("[domain-name:value = 'b.example'] FOLLOWEDBY [domain-name:value = 'c.example']", 6), "FOLLOWEDBY"),
    ({**indicator("[domain-name:value = 'd.example']", 7), "pattern_type": "sigma"}, "pattern_type 'sigma'"),
    ({**indicator("[domain-name:value = 'e.example']", 8), "pattern": 42}, "no pattern"),
    ({**indicator("[domain-name:value = 'f.example']", 9), "modified": "yesterday"}, "invalid 'modified'"),
    (indicator("[domain-name:value = '" + "x" * 1_000_000 + ".example']", 10), "characters)"),
    # JSON can spell lone surrogates; once they made every engine's compile fail, losing the whole feed.
    (indicator("[file:name = 'a\udcffb.exe']", 11), "lone surrogate"),
    (indicator("[mutex:name = 'x\ud800y'] OR [mutex:name LIKE 'z\udc80%']", 12), "lone surrogate"),
    # Year 1 in a zone ahead of UTC is before datetime's first day: it once stopped the load.
    ({**indicator("[domain-name:value = 'g.example']", 13), "modified": YEAR_ONE}, "'modified'"),
    ({**indicator("[domain-name:value = 'h.example']", 14), "valid_until": YEAR_ONE}, "range of dates"),
]


@pytest.mark.slow
def test_bad_objects_are_reported_and_the_good_one_scans(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(bundle(GOOD, *(obj for obj, _ in BAD_OBJECTS))))
    checked = run("check", "--json", "-i", str(feed))
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert (report["read"], report["compiled"]) == (len(BAD_OBJECTS) + 1, 1)
    assert report["read"] == report["compiled"] + report["skipped"] + report["excluded"]
    reasons = [f"{problem['id']}: {problem['reason']}" for problem in report["problems"]]
    for _, expected in BAD_OBJECTS:
        assert any(expected in reason for reason in reasons), (expected, reasons)
    assert max(len(reason) for reason in reasons) < 1000  # a huge value is not repeated whole
    log = tmp_path / "dns.log"
    log.write_text("query evil.example\nquery b.example\n")
    scanned = run("scan", "--format", "jsonl", "-i", str(feed), str(log))
    assert scanned.returncode == 0
    assert [json.loads(line)["line"] for line in scanned.stdout.decode().splitlines()] == [1]
    assert f"{len(BAD_OBJECTS)} skipped" in scanned.stderr.decode()
    strict = run("scan", "--strict", "-i", str(feed), str(log))
    assert strict.returncode == 2
    assert "--strict:" in strict.stderr.decode()


BOMB = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1">&lol2;</stix:STIX_Package>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<stix:STIX_Package xmlns:stix="http://stix.mitre.org/stix-1"><x>&xxe;</x></stix:STIX_Package>
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"type": "bundle", "objects": [', "not valid JSON"),
        (b'{"a":' * 100_000, "nested too deeply"),
        (b"\x00\x01\x02binary\xff" * 100, "binary data"),
        (b"\xff\xfe\xfa not text" * 100, "not UTF-8"),
        (BOMB.encode(), "refused unsafe XML"),
        (EXTERNAL.encode(), "refused unsafe XML"),
        (b'<?xml version="1.0"?><root/>', "not a STIX 1.x package"),
        # Found by fuzz/fuzz_readers.py: an unknown encoding raised LookupError.
        (b'<?xml version="1.0" encoding="UTF-0"?><stix:STIX_Package xmlns:stix="s"/>', "cannot decode"),
        (b'{"type": "bundle", "objects": {"not": "a list"}}', "'objects' is not a list"),
    ],
)
def test_an_unreadable_source_is_one_line_and_exit_2(content: bytes, message: str, tmp_path: Path) -> None:
    feed = tmp_path / "feed.bin"
    feed.write_bytes(content)
    for command in (["check"], ["compile", "-o", str(tmp_path / "m.iocm")]):
        result = run(*command, "-i", str(feed), stdin=b"")
        assert result.returncode == 2
        assert result.stdout == b""
        (line,) = result.stderr.decode().splitlines()
        assert line.startswith(f"iocmatch: error: {feed}: ")
        assert message in line


def test_a_missing_source_names_itself(tmp_path: Path) -> None:
    result = run("check", "-i", str(tmp_path / "nowhere.json"))
    assert result.returncode == 2
    (line,) = result.stderr.decode().splitlines()
    assert "nowhere.json" in line


@pytest.mark.slow
def test_an_object_nested_too_deeply_is_skipped_and_the_others_load(tmp_path: Path) -> None:
    first, last = (
        indicator("[domain-name:value = 'evil.example']", 1),
        indicator("[ipv4-addr:value = '198.51.100.7']", 3),
    )
    deep = '{"type": "indicator", "id": "indicator--deep", "x_deep": ' + "[" * 50_000 + "]" * 50_000 + "}"
    # An "objects" key inside an object, and brackets inside strings, must not mislead the reader.
    decoy = {"type": "x-note", "id": "x-note--1", "objects": ["]", "{"], "text": 'a "quoted" ] and ['}
    text = (
        '{"type": "bundle", "note": "\\"objects\\": [", "id": "bundle--1", "objects": ['
        + ", ".join([json.dumps(decoy), json.dumps(first), deep, json.dumps(last)])
        + "]}"
    )
    feed = tmp_path / "feed.json"
    feed.write_text(text)
    checked = run("check", "--json", "-i", str(feed))
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert (report["read"], report["compiled"], report["skipped"]) == (3, 2, 1)
    assert report["problems"] == [
        {"id": f"{feed}#2", "reason": "object nested too deeply to read", "status": "skipped", "source": str(feed)}
    ]
    scanned = run("scan", "--format", "jsonl", "-i", str(feed), stdin="evil.example 198.51.100.7")
    assert [json.loads(line)["text"] for line in scanned.stdout.decode().splitlines()] == [
        "evil.example",
        "198.51.100.7",
    ]
