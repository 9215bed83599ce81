"""A retro-check: when a feed gains indicators, past logs are scanned again
with only those it gained (new ids, or ids now matching something else)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import iocmatch
from tests.conftest import bundle, indicator

KEPT = indicator("[domain-name:value = 'kept.example']", 1)
RENAMED_BEFORE = indicator("[domain-name:value = 'renamed.example']", 2, name="before")
RENAMED_AFTER = indicator("[domain-name:value = 'renamed.example']", 2, name="after")
CHANGED_BEFORE = indicator("[domain-name:value = 'was.example']", 3)
CHANGED_AFTER = indicator("[domain-name:value = 'now.example']", 3, modified="2021-01-01T00:00:00.000Z")
ADDED = indicator("[ipv4-addr:value = '198.51.100.0/24']", 4)
LATER = "2021-01-01T00:00:00.000Z"
EXPIRED = indicator("[domain-name:value = 'back.example']", 5, valid_until="2020-06-01T00:00:00.000Z")
EXTENDED = indicator(
    "[domain-name:value = 'back.example']",
    5,
    valid_until="2999-01-01T00:00:00.000Z",
    modified="2021-01-01T00:00:00.000Z",
)
OLD = bundle(KEPT, RENAMED_BEFORE, CHANGED_BEFORE, EXPIRED)
NEW = bundle(KEPT, RENAMED_AFTER, CHANGED_AFTER, ADDED, EXTENDED)
LOG = "kept.example renamed.example was.example now.example 198.51.100.7 back.example\n"


def test_only_what_the_feed_gained_is_looked_for() -> None:
    new = iocmatch.added_since(iocmatch.load(NEW), iocmatch.load(OLD))

    assert sorted(item.id[-1] for item in new.indicators) == ["3", "4", "5"]
    assert new.report.compiled == 3
    found = iocmatch.compile(new).scan_line(LOG)
    assert [match.text for match in found] == ["now.example", "198.51.100.7", "back.example"]


def test_nothing_gained_is_an_empty_set() -> None:
    same = iocmatch.added_since(iocmatch.load(NEW), iocmatch.load(NEW))
    assert same.indicators == ()
    assert same.report.compiled == 0


def test_the_command_scans_past_logs_with_the_gained_indicators_only(tmp_path: Path) -> None:
    old, new, log = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "past.log"
    old.write_text(json.dumps(OLD), encoding="utf-8")
    new.write_text(json.dumps(NEW), encoding="utf-8")
    log.write_text("nothing\n" + LOG, encoding="utf-8")
    command = [sys.executable, "-m", "iocmatch", "scan", "--format", "jsonl", "-i", str(new), "--new-since", str(old)]

    done = subprocess.run([*command, str(log)], capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stderr
    hits = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(hit["line"], hit["text"]) for hit in hits] == [
        (2, "now.example"),
        (2, "198.51.100.7"),
        (2, "back.example"),
    ]
    assert f"3 of 5 indicators are new since {old}" in done.stderr

    same = subprocess.run(
        [*command[:-2], "--new-since", str(new), str(log)], capture_output=True, text=True, check=False
    )
    assert same.returncode == 2
    assert "no indicator is new since" in same.stderr
    refused = subprocess.run([*command, "-m", "x.iocm", str(log)], capture_output=True, text=True, check=False)
    assert refused.returncode == 2
    assert "--new-since" in refused.stderr


def test_a_list_saved_under_another_name_gains_only_its_new_values(tmp_path: Path) -> None:
    # A list's ids come from its file's name: what it matches is compared, not its ids.
    yesterday, today = tmp_path / "feed-yesterday.txt", tmp_path / "feed-today.txt"
    yesterday.write_text("kept.example\n198.51.100.7\n", encoding="utf-8")
    today.write_text("kept.example\n198.51.100.7\nadded.example\n", encoding="utf-8")

    new = iocmatch.added_since(iocmatch.load(today), iocmatch.load(yesterday))

    assert [m.text for m in iocmatch.compile(new).scan_line("kept.example added.example 198.51.100.7")] == [
        "added.example"
    ]


def test_an_indicator_that_gained_a_clause_looks_only_for_it() -> None:
    before = indicator("[domain-name:value = 'one.example']", 7)
    after = indicator("[domain-name:value = 'one.example'] OR [domain-name:value = 'two.example']", 7, modified=LATER)

    new = iocmatch.added_since(iocmatch.load(bundle(after)), iocmatch.load(bundle(before)))

    assert [m.text for m in iocmatch.compile(new).scan_line("one.example two.example")] == ["two.example"]


def test_at_event_time_a_wider_window_is_gained() -> None:
    narrow = indicator("[domain-name:value = 'one.example']", 8, valid_from="2025-06-01T00:00:00Z")
    wide = indicator("[domain-name:value = 'one.example']", 8, valid_from="2025-01-01T00:00:00Z", modified=LATER)
    old = iocmatch.load(bundle(narrow), at_event_time=True)
    new = iocmatch.load(bundle(wide), at_event_time=True)

    gained = iocmatch.added_since(new, old)

    line = "2025-03-01T12:00:00Z query one.example"
    assert iocmatch.compile(old).scan_line(line) == []
    assert [m.text for m in iocmatch.compile(gained).scan_line(line)] == ["one.example"]
    assert iocmatch.added_since(iocmatch.load(bundle(wide)), iocmatch.load(bundle(narrow))).indicators == ()
