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
