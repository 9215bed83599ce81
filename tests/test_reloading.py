"""Indicators that change while a long scan runs: the matcher is rebuilt
beside the one in use and taken between blocks, so that every line is
scanned once, by the old indicators or the new; expired ones stop hitting;
a rebuild that fails keeps the indicators in use and says so."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import pytest

import iocmatch
from tests.conftest import bundle, indicator

OLD = indicator("[domain-name:value = 'old.example']", 1)
NEW = indicator("[domain-name:value = 'new.example']", 2)


def _write(path: Path, *objects: dict[str, Any]) -> None:
    """Replace the feed at once, as a feed should be written (a rename)."""
    temporary = path.with_suffix(".writing")
    temporary.write_text(json.dumps(bundle(*objects)), encoding="utf-8")
    temporary.replace(path)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _until(condition: Any, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def _hit_lines_written(path: Path) -> int:
    """How many hit lines a running scan has written to ``path`` (its output file)."""
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def _values(matcher: iocmatch.Matcher, line: str) -> list[str]:
    return sorted(match.value for match in matcher.scan_line(line))


# -- the library --------------------------------------------------------------------


def test_a_changed_feed_is_taken_between_two_lines_and_the_swap_counted(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    changed = indicator("[domain-name:value = 'old.example']", 3, name="another version")
    _write(feed, OLD, changed)
    swaps: list[iocmatch.Swap] = []
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=0.01, on_swap=swaps.append)
    try:
        assert _values(watched.current(), "old.example new.example") == ["old.example"]
        time.sleep(0.02)
        _write(feed, NEW, {**changed, "pattern": "[domain-name:value = 'new.example']"})

        matcher = watched.wait()

        assert _values(matcher, "old.example new.example") == ["new.example"]
        (swap,) = swaps
        assert (swap.indicators, swap.added, swap.changed, swap.removed) == (2, 1, 1, 1)
        assert "feed.json changed" in swap.reason
        assert "2 live indicators (1 new, 1 changed, 1 gone)" in swap.text()
    finally:
        watched.close()


def test_an_indicator_stops_hitting_when_its_valid_until_passes(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    until = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    _write(feed, {**OLD, "valid_until": _stamp(until)}, NEW)
    swaps: list[iocmatch.Swap] = []
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=3600, on_swap=swaps.append)
    try:
        assert _values(watched.current(), "old.example new.example") == ["new.example", "old.example"]
        _until(lambda: datetime.now(timezone.utc) >= until)

        # The first matcher asked for after valid_until holds it no more: no block waits for a rebuild.
        assert _values(watched.current(), "old.example new.example") == ["new.example"]
        assert [swap.reason for swap in swaps] == ["an indicator's validity began or ended"]
        assert swaps[0].removed == 1
    finally:
        watched.close()


def test_the_matcher_of_a_validity_boundary_is_built_ahead_and_taken_at_it(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    until = datetime.now(timezone.utc) + timedelta(seconds=2.5)
    _write(feed, {**OLD, "valid_until": _stamp(until)}, NEW)
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=3600)
    try:
        seen = []
        while datetime.now(timezone.utc) < until + timedelta(seconds=0.3):
            now = datetime.now(timezone.utc)
            seen.append((now, _values(watched.current(), "old.example")))
            time.sleep(0.02)
        assert all(values == ["old.example"] for now, values in seen if now < until)
        assert all(values == [] for now, values in seen if now >= until)
        assert any(now >= until for now, _ in seen)
    finally:
        watched.close()


def test_the_last_live_indicator_expiring_leaves_an_empty_matcher(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    until = datetime.now(timezone.utc) + timedelta(seconds=1.2)
    _write(feed, {**OLD, "valid_until": _stamp(until)})
    swaps: list[iocmatch.Swap] = []
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=3600, on_swap=swaps.append)
    try:
        _until(lambda: datetime.now(timezone.utc) >= until)
        assert _values(watched.current(), "old.example") == []
        assert [(swap.indicators, swap.removed) for swap in swaps] == [(0, 1)]
    finally:
        watched.close()


def test_a_feed_broken_when_a_boundary_passes_is_told_once_and_scanning_goes_on(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    until = datetime.now(timezone.utc) + timedelta(seconds=1.2)
    _write(feed, {**OLD, "valid_until": _stamp(until)}, NEW)
    errors: list[str] = []
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=3600, on_error=errors.append)
    try:
        watched.current()
        feed.write_text("{", encoding="utf-8")
        _until(lambda: datetime.now(timezone.utc) >= until)
        started = time.monotonic()
        for _ in range(20):
            matcher = watched.current()
        assert time.monotonic() - started < 5, "no build after build"
        assert _values(matcher, "new.example") == ["new.example"]
        assert len(errors) == 1
        assert "an indicator's validity began or ended" in errors[0]
    finally:
        watched.close()


def test_validity_fixed_at_load_triggers_no_rebuild(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    until = datetime.now(timezone.utc) + timedelta(seconds=1.0)
    _write(feed, {**OLD, "valid_until": _stamp(until)})
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=3600, load_options={"ignore_validity": True})
    try:
        first = watched.current()
        _until(lambda: datetime.now(timezone.utc) >= until + timedelta(seconds=0.2))
        assert watched.current() is first
        assert watched.swaps == 0
    finally:
        watched.close()


def test_an_indicator_starts_hitting_when_its_valid_from_comes(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    start = datetime.now(timezone.utc) + timedelta(seconds=1.5)
    _write(feed, OLD, {**NEW, "valid_from": _stamp(start)})
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=3600)
    try:
        assert _values(watched.current(), "old.example new.example") == ["old.example"]
        _until(lambda: datetime.now(timezone.utc) >= start)
        assert _values(watched.current(), "old.example new.example") == ["new.example", "old.example"]
    finally:
        watched.close()


def test_a_feed_that_cannot_be_read_keeps_the_indicators_in_use_and_says_so(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    _write(feed, OLD)
    errors: list[str] = []
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=0.01, on_error=errors.append)
    try:
        time.sleep(0.02)
        feed.write_text('{"type": "bundle", "objects": [', encoding="utf-8")  # caught halfway through
        assert _values(watched.wait(), "old.example") == ["old.example"]
        (error,) = errors
        assert "feed.json changed" in error
        assert "not valid JSON" in error
        assert "scanning on with those in use" in error

        time.sleep(0.02)
        _write(feed, NEW)  # written whole: taken at the next check
        assert _values(watched.wait(), "old.example new.example") == ["new.example"]
    finally:
        watched.close()


def test_a_matcher_file_is_loaded_again_when_it_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "matcher.key"))
    path = tmp_path / "feed.iocm"
    iocmatch.save_matcher(iocmatch.compile(iocmatch.load(bundle(OLD))), path)
    swaps: list[iocmatch.Swap] = []
    watched = iocmatch.WatchedMatcher.of_file(path, check_every=0.01, on_swap=swaps.append)
    try:
        assert _values(watched.current(), "old.example new.example") == ["old.example"]
        time.sleep(0.02)
        iocmatch.save_matcher(iocmatch.compile(iocmatch.load(bundle(OLD, NEW))), path)
        assert _values(watched.wait(), "old.example new.example") == ["new.example", "old.example"]
        assert [(swap.indicators, swap.added) for swap in swaps] == [(2, None)]
    finally:
        watched.close()


def test_a_stream_takes_the_new_matcher_between_blocks_and_scans_every_line_once(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    _write(feed, OLD)
    watched = iocmatch.WatchedMatcher.of_sources(feed, check_every=0.01)
    lines = [f"line {number} old.example new.example\n".encode() for number in range(1, 40_001)]

    class Changing:
        """A stream whose feed changes once half of it has been read."""

        def __init__(self) -> None:
            self.data = b"".join(lines)
            self.at = 0

        def read(self, size: int = -1) -> bytes:
            if self.at >= len(self.data) // 2 and not hasattr(self, "changed"):
                self.changed = True
                time.sleep(0.02)
                _write(feed, NEW)
                watched.wait()
            chunk = self.data[self.at : self.at + (size if size >= 0 else len(self.data))]
            self.at += len(chunk)
            return chunk

    try:
        stream: IO[bytes] = Changing()  # type: ignore[assignment]
        found = [(number, [m.value for m in matches]) for number, _, _, matches in watched.hit_lines(stream, 1 << 16)]
    finally:
        watched.close()

    assert [number for number, _ in found] == list(range(1, 40_001)), "every line once"
    values = [value for _, (value,) in found]
    switch = values.index("new.example")
    assert 0 < switch < 40_000
    assert values == ["old.example"] * switch + ["new.example"] * (40_000 - switch)


# -- the command ----------------------------------------------------------------------


def _scan(args: list[str], out: IO[str], **options: Any) -> subprocess.Popen[str]:
    """The command, its hits written to ``out`` (a pipe left unread would stop it)."""
    command = [sys.executable, "-m", "iocmatch", "scan", "--format", "jsonl", "--reload", "0.1", *args]
    return subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True, **options)


@pytest.mark.slow
@pytest.mark.parametrize("where", ["follow", "stdin"])
def test_a_feed_swapped_under_a_running_scan_misses_no_line_and_doubles_none(tmp_path: Path, where: str) -> None:
    feed = tmp_path / "feed.json"
    log = tmp_path / "app.log"
    _write(feed, OLD)
    log.write_text("", encoding="utf-8")
    out = (tmp_path / "hits.jsonl").open("w", encoding="utf-8")
    if where == "follow":
        scan = _scan(["-i", str(feed), "--follow", str(log)], out)
        writer: IO[str] = log.open("a", encoding="utf-8")
    else:
        scan = _scan(["-i", str(feed), "-"], out, stdin=subprocess.PIPE)
        assert scan.stdin is not None
        writer = scan.stdin
    assert scan.stderr is not None
    total = 0

    def write(count: int) -> None:
        nonlocal total
        for _ in range(count):
            total += 1
            writer.write(f"{total} GET http://old.example/ and http://new.example/\n")
        writer.flush()

    write(500)
    # The command scans with the old feed first: it has started once its first lines are written out.
    _until(lambda: _hit_lines_written(tmp_path / "hits.jsonl") >= 500, 120)
    _write(feed, NEW)
    for _ in range(20):  # lines keep coming while the new matcher is built
        write(50)
        time.sleep(0.05)
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(scan.stderr), daemon=True).start()  # type: ignore[arg-type]
    _until(lambda: bool(said), 60)
    assert "indicators reloaded (feed.json changed): 1 live indicators (1 new, 0 changed, 1 gone)" in said[0]
    write(500)
    time.sleep(0.5)
    if where == "follow":
        writer.close()
        scan.send_signal(signal.SIGINT)  # stdin ends when communicate() closes it
    scan.communicate(timeout=60)
    out.close()

    hits = [json.loads(line) for line in (tmp_path / "hits.jsonl").read_text(encoding="utf-8").splitlines()]
    numbers = [hit["line"] for hit in hits]
    assert numbers == list(range(1, total + 1)), "every line once, in order"
    values = [hit["value"] for hit in hits]
    switch = values.index("new.example")
    assert 500 <= switch <= 1500
    assert values == ["old.example"] * switch + ["new.example"] * (total - switch)


@pytest.mark.slow
def test_a_matcher_file_compiled_again_is_taken_by_a_running_scan(tmp_path: Path) -> None:
    env = {**os.environ, "IOCMATCH_KEY_FILE": str(tmp_path / "matcher.key")}
    feed, path = tmp_path / "feed.json", tmp_path / "feed.iocm"
    compile_command = [sys.executable, "-m", "iocmatch", "compile", "-i", str(feed), "-o", str(path)]
    _write(feed, OLD)
    subprocess.run(compile_command, env=env, check=True, capture_output=True)
    out = (tmp_path / "hits.jsonl").open("w", encoding="utf-8")
    scan = _scan(["-m", str(path), "-"], out, stdin=subprocess.PIPE, env=env)
    assert scan.stdin is not None
    assert scan.stderr is not None
    told: list[str] = []
    reader = threading.Thread(target=lambda: told.extend(scan.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    scan.stdin.write("1 old.example new.example\n")
    scan.stdin.flush()
    _until(lambda: _hit_lines_written(tmp_path / "hits.jsonl") >= 1, 120)  # the scan runs with the first file
    _write(feed, OLD, NEW)
    subprocess.run(compile_command, env=env, check=True, capture_output=True)
    number = 1
    while not told and number < 400:  # lines keep coming until the new file is taken
        number += 1
        scan.stdin.write(f"{number} old.example new.example\n")
        scan.stdin.flush()
        time.sleep(0.05)
    last = number + 1
    scan.stdin.write(f"{last} old.example new.example\n")
    scan.communicate(timeout=60)
    reader.join(timeout=10)
    out.close()

    assert "indicators reloaded (feed.iocm changed): 2 live indicators" in told[0]
    hits = [json.loads(line) for line in (tmp_path / "hits.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(hit["line"], hit["value"]) for hit in hits][-2:] == [(last, "old.example"), (last, "new.example")]
    assert [hit["value"] for hit in hits if hit["line"] == 1] == ["old.example"]
    assert sorted({hit["line"] for hit in hits}) == list(range(1, last + 1)), "no line missed"


@pytest.mark.slow
def test_a_scan_whose_indicators_all_expire_says_so_and_exits_2(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    until = datetime.now(timezone.utc) + timedelta(seconds=8)  # time enough for the command to start
    _write(feed, {**OLD, "valid_until": _stamp(until)})
    out = (tmp_path / "hits.jsonl").open("w", encoding="utf-8")
    scan = _scan(["-i", str(feed), "-"], out, stdin=subprocess.PIPE)
    assert scan.stdin is not None
    scan.stdin.write("1 old.example\n")
    scan.stdin.flush()
    _until(lambda: _hit_lines_written(tmp_path / "hits.jsonl") >= 1, 120)
    _until(lambda: datetime.now(timezone.utc) >= until + timedelta(seconds=0.2))
    _, err = scan.communicate("2 old.example\n", timeout=60)
    out.close()

    hits = [json.loads(line) for line in (tmp_path / "hits.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [hit["line"] for hit in hits] == [1]
    assert "0 live indicators (0 new, 0 changed, 1 gone)" in err
    assert "held none live from" in err
    assert scan.returncode == 2


def test_reload_is_refused_where_it_cannot_apply(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("old.example\n", encoding="utf-8")
    for extra, said in (
        ([str(log)], "with --follow or stdin only"),
        (["--events", "auto", "-"], "not allowed with --events"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "iocmatch", "scan", "--reload", "5", *extra],
            capture_output=True,
            text=True,
            check=False,
            input="",
        )
        assert done.returncode == 2
        assert said in done.stderr


# -- TAXII collections polled (a server stood in for by a function: failures on demand) ------------


class _Server:
    """Collections as a server holds them: objects with the time each was added."""

    def __init__(self) -> None:
        self.added: dict[str, list[tuple[str, dict[str, Any]]]] = {"https://taxii.example/c/1/": []}
        self.down: set[str] = set()
        self.dates = True
        self.asked: list[Any] = []

    def add(self, url: str, moment: str, *objects: dict[str, Any]) -> None:
        self.added.setdefault(url, []).extend((moment, obj) for obj in objects)

    def read(self, source: iocmatch.TaxiiSource) -> list[Any]:
        from iocmatch._common.errors import SourceError
        from iocmatch._feeds.objects import SourceObjects

        self.asked.append(source.added_after)
        if source.url in self.down:
            raise SourceError(f"{source.url}: server down")
        after = str(source.added_after or "")
        sent = [(moment, obj) for moment, obj in self.added[source.url] if moment > after]
        last = max((moment for moment, _ in sent), default="") if self.dates else ""
        return [SourceObjects(source.url, [obj for _, obj in sent], added_last=last)]


def _polls(server: _Server, monkeypatch: pytest.MonkeyPatch, *urls: str, added_after: str | None = None) -> list[Any]:
    from iocmatch._feeds import taxii_poll

    monkeypatch.setattr(taxii_poll.TaxiiPoll, "_read", staticmethod(server.read))
    return [taxii_poll.TaxiiPoll(iocmatch.TaxiiSource(url, added_after=added_after)) for url in urls]


def _numbers(read: list[Any]) -> list[int]:
    """The numbers the indicators read were made with (``indicator(..., number)``)."""
    return sorted(int(obj["id"].rsplit("-", 1)[-1], 16) for held in read for obj in held.objects)


def test_what_one_collection_gave_is_built_after_another_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from iocmatch._feeds.taxii_poll import PolledReader

    one, two = "https://taxii.example/c/1/", "https://taxii.example/c/2/"
    server = _Server()
    server.add(one, "2026-01-01T00:00:00Z", indicator("[domain-name:value = 'a.example']", 11))
    server.add(two, "2026-01-01T00:00:00Z", indicator("[domain-name:value = 'b.example']", 12))
    _polls(server, monkeypatch)
    reader = PolledReader()
    assert [_numbers(reader(url)) for url in (one, two)] == [[11], [12]]

    server.add(one, "2026-02-01T00:00:00Z", indicator("[domain-name:value = 'c.example']", 13))
    server.down.add(two)
    with pytest.raises(iocmatch.SourceError, match="server down"):
        reader.fetch()
    server.down.clear()

    assert reader.fetch(), "what the first collection gave is still to be built"
    assert _numbers(reader(one)) == [11, 13]
    assert not reader.fetch()


def test_a_revised_indicator_is_held_in_its_newest_version_only(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://taxii.example/c/1/"
    server = _Server()
    server.add(url, "2026-01-01T00:00:00Z", indicator("[domain-name:value = 'a.example']", 11))
    (poll,) = _polls(server, monkeypatch, url)
    poll.read()
    for month in range(2, 8):
        revised = indicator("[domain-name:value = 'a.example']", 11, modified=f"2026-0{month}-01T00:00:00.000Z")
        server.add(url, f"2026-0{month}-01T00:00:00Z", revised)
        assert poll.fetch()
        poll.read()
    (held,) = poll.read()
    assert [obj["modified"] for obj in held.objects] == ["2026-07-01T00:00:00.000Z"]


def test_a_server_that_dates_nothing_is_read_again_as_first_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://taxii.example/c/1/"
    server = _Server()
    server.dates = False
    server.add(url, "2026-01-01T00:00:00Z", indicator("[domain-name:value = 'a.example']", 11))
    (poll,) = _polls(server, monkeypatch, url, added_after="2025-06-01T00:00:00Z")
    poll.read()
    assert not poll.fetch()
    assert server.asked == ["2025-06-01T00:00:00Z", "2025-06-01T00:00:00Z"]
