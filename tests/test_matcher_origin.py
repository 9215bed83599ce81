"""An old matcher file is visible: it records when it was compiled and a
digest of what it was compiled from; ``check -m`` and ``scan -m --stats``
show them, ``--max-age`` refuses older files, and indicators that expired
since compiling are named on stderr."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import iocmatch
from tests.conftest import bundle, indicator

FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
)


@pytest.fixture(autouse=True)
def key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "matcher.key"))


def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "iocmatch", *args], input=stdin, capture_output=True, check=False)


def compiled(tmp_path: Path, *sources: Path, options: tuple[str, ...] = ()) -> Path:
    target = tmp_path / "feed.matcher"
    arguments = [argument for source in sources for argument in ("-i", str(source))]
    result = run("compile", *arguments, *options, "-o", str(target))
    assert result.returncode == 0, result.stderr
    return target


@pytest.mark.slow
def test_a_matcher_records_when_and_from_what_it_was_compiled(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.txt"
    first.write_text(json.dumps(FEED))
    second.write_text("bad.example\n")
    before = datetime.now(timezone.utc)
    matcher_file = compiled(tmp_path, first, second)
    described = run("check", "-m", str(matcher_file), "--json")
    assert described.returncode == 0, described.stderr
    origin = json.loads(described.stdout)
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(origin["compiled_at"]) <= datetime.now(timezone.utc)
    assert origin["sources"] == [
        {"source": str(first), "sha256": hashlib.sha256(first.read_bytes()).hexdigest()},
        {"source": str(second), "sha256": hashlib.sha256(second.read_bytes()).hexdigest()},
    ]
    assert origin["indicators"] == 3
    text = run("check", "-m", str(matcher_file)).stdout.decode()
    assert f"sha256 {hashlib.sha256(first.read_bytes()).hexdigest()}" in text
    assert origin["digest"] in text
    # Another feed gives another digest.
    second.write_text("other.example\n")
    again = json.loads(run("check", "-m", str(compiled(tmp_path, first, second)), "--json").stdout)
    assert again["digest"] != origin["digest"]


@pytest.mark.slow
def test_scan_stats_show_the_matchers_origin(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))
    matcher_file = compiled(tmp_path, feed)
    result = run("scan", "-m", str(matcher_file), "--stats", "-", stdin=b"GET evil.example\n")
    assert result.returncode == 0
    err = result.stderr.decode()
    assert "1 lines read" in err
    assert f"{matcher_file}: compiled " in err
    assert hashlib.sha256(feed.read_bytes()).hexdigest() in err


@pytest.mark.slow
def test_max_age_refuses_an_older_file(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))
    matcher_file = compiled(tmp_path, feed)
    time.sleep(1.1)
    refused = run("scan", "-m", str(matcher_file), "--max-age", "1s", "-", stdin=b"evil.example\n")
    assert refused.returncode == 2
    assert "longer ago than --max-age 1s" in refused.stderr.decode()
    assert run("check", "-m", str(matcher_file), "--max-age", "1s").returncode == 2
    assert run("scan", "-m", str(matcher_file), "--max-age", "7d", "-", stdin=b"evil.example\n").returncode == 0
    for bad in ("soon", "99999999999w", "7 days"):
        refused = run("scan", "-m", str(matcher_file), "--max-age", bad, "-", stdin=b"x\n")
        assert refused.returncode == 2
        assert f"--max-age {bad!r} is not a duration" in refused.stderr.decode()
    assert run("scan", "-i", str(feed), "--max-age", "7d", "-", stdin=b"x\n").returncode == 2  # -m only


@pytest.mark.slow
def test_indicators_expired_since_compiling_are_named(tmp_path: Path) -> None:
    expiry = datetime.now(timezone.utc) + timedelta(seconds=3)
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(
            bundle(
                indicator("[domain-name:value = 'evil.example']", 1, valid_until=f"{expiry:%Y-%m-%dT%H:%M:%S.%fZ}"),
                indicator("[domain-name:value = 'lasting.example']", 2, valid_until="2999-01-01T00:00:00Z"),
            )
        )
    )
    matcher_file = compiled(tmp_path, feed)
    time.sleep(max(0.0, (expiry - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    later = run("scan", "-m", str(matcher_file), "-", stdin=b"evil.example\n")
    assert later.returncode == 0  # validity was decided when compiling: it still hits, and says so
    assert "1 of its 2 indicators have expired since it was compiled" in later.stderr.decode()
    assert json.loads(run("check", "-m", str(matcher_file), "--json").stdout)["expired_now"] == 1
    # Nothing expired, nothing said.
    feed.write_text(json.dumps(bundle(indicator("[domain-name:value = 'evil.example']", 1))))
    fresh = run("scan", "-m", str(compiled(tmp_path, feed)), "-", stdin=b"evil.example\n")
    assert (fresh.returncode, fresh.stderr) == (0, b"")


def test_the_origin_is_there_in_the_api(tmp_path: Path) -> None:
    matcher = iocmatch.compile(iocmatch.load(FEED, as_of="2025-01-01T00:00:00Z"))
    origin = matcher.origin
    assert origin.sources[0][0] == "<dict>"
    assert len(origin.sources[0][1]) == 64
    assert origin.as_of == datetime(2025, 1, 1, tzinfo=timezone.utc)
    assert origin.as_of_given
    assert origin.indicators == matcher.indicator_count == 2
    path = tmp_path / "m"
    iocmatch.save_matcher(matcher, path)
    assert iocmatch.load_matcher(path).origin == origin
