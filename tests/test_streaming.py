"""Streaming: stdin hits are written as their lines arrive, followed files are
read across rotation and truncation, JSON events are matched by field, and no
line read goes unscanned."""

from __future__ import annotations

import gzip
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from iocmatch._scanning.blocks import NumberedLine
from iocmatch._scanning.events import EventScanner, string_fields
from iocmatch._scanning.follow import Follower
from tests.conftest import bundle, indicator, matcher_for

WAIT = 30  # seconds to wait for output that must come; a failure, never a measurement
FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[domain-name:value = 'a.example' AND domain-name:value = 'b.example']", 2),
)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "iocmatch", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def reader(stream: IO[bytes]) -> queue.Queue[bytes]:
    """Lines of ``stream`` as they come, read by a thread so a test can wait with a timeout."""
    lines: queue.Queue[bytes] = queue.Queue()

    def pump() -> None:
        for line in iter(stream.readline, b""):
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def records(lines: queue.Queue[bytes], count: int) -> list[dict[str, object]]:
    return [json.loads(lines.get(timeout=WAIT)) for _ in range(count)]


@pytest.mark.slow
def test_a_stdin_hit_is_written_while_stdin_stays_open(feed: Path) -> None:
    with start("scan", "-i", str(feed), "--format", "jsonl", "-") as process:
        assert process.stdin is not None
        assert process.stdout is not None
        out = reader(process.stdout)
        try:
            process.stdin.write(b"nothing here\nGET http://evil.example/ 200\n")
            process.stdin.flush()
            assert records(out, 1)[0]["line"] == 2
            # A slow producer: half a line, then the rest; one line, one hit, nothing lost.
            process.stdin.write(b"GET ev")
            process.stdin.flush()
            process.stdin.write(b"il.example\n")
            process.stdin.flush()
            (third,) = records(out, 1)
            assert (third["line"], third["text"], third["start"]) == (3, "evil.example", 4)
        finally:
            process.stdin.close()
        assert process.wait(timeout=WAIT) == 0


@pytest.mark.slow
def test_a_last_line_without_newline_and_crlf_lines_are_scanned(feed: Path) -> None:
    data = b"x evil.example\r\nGET evil.example\r\nno hit\r\nlast evil.example"
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "jsonl", "--stats", "-"],
        input=data,
        capture_output=True,
        check=False,
    )
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(h["line"], h["start"], h["end"], h["text"]) for h in hits] == [
        (1, 2, 14, "evil.example"),
        (2, 4, 16, "evil.example"),
        (4, 5, 17, "evil.example"),
    ]
    assert "4 lines read, 4 scanned, 3 hits on 3 lines" in result.stderr.decode()


@pytest.mark.slow
def test_files_give_the_same_hits_and_counts_as_stdin(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_bytes(b"evil.example\r\n" * 3 + b"none\n" + b"tail evil.example")
    from_file = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "jsonl", "--stats", str(log)],
        capture_output=True,
        check=False,
    )
    from_stdin = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "jsonl", "--stats", "-"],
        input=log.read_bytes(),
        capture_output=True,
        check=False,
    )
    assert from_file.stdout.replace(str(log).encode(), b"-") == from_stdin.stdout
    assert b"5 lines read, 5 scanned, 4 hits on 4 lines" in from_file.stderr
    assert b"5 lines read, 5 scanned, 4 hits on 4 lines" in from_stdin.stderr


def test_matcher_scan_is_lazy() -> None:
    consumed: list[str] = []

    def lines() -> Iterator[str]:
        for line in ["GET evil.example", "quiet", "evil.example again"]:
            consumed.append(line)
            yield line

    scanning = matcher_for("[domain-name:value = 'evil.example']").scan(lines())
    assert consumed == []
    assert next(scanning).line == 1
    assert consumed == ["GET evil.example"]


# -- JSON events


def test_string_fields_have_dotted_paths_and_list_indexes() -> None:
    event = {"a": {"b": "x", "n": 3, "c": ["y", {"d": "z"}]}, "e": None, "flat.key": "w"}
    assert list(string_fields(event)) == [("a.b", "x"), ("a.c[0]", "y"), ("a.c[1].d", "z"), ("flat.key", "w")]


def test_a_json_field_hit_names_the_field_and_spans_its_value() -> None:
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    line = json.dumps({"process": {"command_line": "curl http://evil.example/x", "name": "curl evil.example"}})
    found, scanned = EventScanner(matcher, ["process.command_line"]).scan(line, 7)
    assert scanned
    assert [(f.field, f.match.line, f.match.start, f.match.end) for f in found] == [("process.command_line", 7, 12, 24)]
    every = EventScanner(matcher).scan(line, 7)[0]
    assert [(f.field, f.match.start) for f in every] == [("process.command_line", 12), ("process.name", 5)]
    assert "curl http://evil.example/x"[12:24] == "evil.example"


def test_one_event_is_one_observation_for_and_clauses() -> None:
    matcher = matcher_for("[domain-name:value = 'a.example' AND domain-name:value = 'b.example']")
    found, _ = EventScanner(matcher).scan(json.dumps({"query": "a.example", "answer": "b.example"}), 1)
    assert [(f.field, f.match.text) for f in found] == [("query", "a.example"), ("answer", "b.example")]
    assert EventScanner(matcher).scan(json.dumps({"query": "a.example"}), 1)[0] == []


@pytest.mark.parametrize(
    "line",
    [
        "plain GET evil.example",
        '{"broken": "evil.example"',
        '["evil.example"]',
        '"evil.example"',
        "[" * 100_000 + "evil.example",
        "{" + '"a":{' * 5000 + '"b": 1' + "}" * 5001 + " evil.example",
        b"\xff\xfe evil.example",
    ],
)
def test_lines_that_are_not_json_objects_are_scanned_as_text(line: str | bytes) -> None:
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    found, scanned = EventScanner(matcher, ["process.command_line"]).scan(line, 1)
    assert scanned
    assert [(f.field, f.match.text) for f in found] == [(None, "evil.example")]


def test_a_json_object_without_the_field_is_read_but_not_scanned() -> None:
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    found, scanned = EventScanner(matcher, ["process.command_line"]).scan('{"other": "evil.example"}', 1)
    assert (found, scanned) == ([], False)


@pytest.mark.slow
def test_the_command_reports_json_fields_and_counts_lines(feed: Path) -> None:
    events = [
        {"process": {"command_line": "ping evil.example"}, "user": "evil.example"},
        {"user": "evil.example"},
        "not json evil.example",
    ]
    data = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events)
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "jsonl", "--stats",
         "--json-field", "process.command_line", "-"],
        input=data.encode(), capture_output=True, check=False,
    )  # fmt: skip
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(h["line"], h.get("field"), h["start"]) for h in hits] == [(1, "process.command_line", 5), (3, None, 9)]
    assert "3 lines read, 2 scanned, 2 hits on 2 lines" in result.stderr.decode()


# -- following a file


def collect(reads: Iterator[list[NumberedLine] | None]) -> list[NumberedLine]:
    """What the follower has now, up to its first wait."""
    got: list[NumberedLine] = []
    for lines in reads:
        if lines is None:
            return got
        got += lines
    return got


def test_follower_reads_appends_holds_a_partial_line_and_survives_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"one\ntwo\n")
    follower = Follower(log, poll_seconds=0)
    lines = follower.reads()
    try:
        assert collect(lines) == [(1, 0, b"one\n"), (2, 4, b"two\n")]
        with log.open("ab") as out:
            out.write(b"thr")
        assert collect(lines) == []  # half a line waits for its newline
        with log.open("ab") as out:
            out.write(b"ee\nfour")
        assert collect(lines) == [(3, 8, b"three\n")]
        # Rotation: renamed, then a new file; the old file's last line is not lost.
        log.rename(tmp_path / "app.log.1")
        log.write_bytes(b"new one\n")
        assert collect(lines) == [(4, 14, b"four"), (1, 0, b"new one\n")]
        # Truncation: read again from the start.
        log.write_bytes(b"")
        assert collect(lines) == []
        with log.open("ab") as out:
            out.write(b"after\nlast")
        assert collect(lines) == [(1, 0, b"after\n")]
        with log.open("ab") as out:
            out.write(b" line\nwritten before the stop")
        assert follower.remaining() == ([(2, 6, b"last line\n"), (3, 16, b"written before the stop")], 0)
        assert follower.remaining() == ([], 0)
        # A stop reads at most what a writer adds between two polls: more is left, and said to be.
        with log.open("ab") as out:
            out.write(b"x" * 3000 + b"\nhalf a line")
        assert follower.remaining(most=1000) == ([], 2012)
    finally:
        follower.close()


@pytest.mark.slow
def test_the_command_follows_a_file_across_rotation_until_interrupted(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "proxy.log"
    log.write_bytes(b"GET evil.example\n")
    with subprocess.Popen(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "jsonl", "--stats",
         "--follow", str(log)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        assert process.stderr is not None
        _follow_and_interrupt(process, log, reader(process.stdout))


def _follow_and_interrupt(process: subprocess.Popen[bytes], log: Path, out: queue.Queue[bytes]) -> None:
    assert process.stderr is not None
    try:
        assert records(out, 1)[0]["line"] == 1
        with log.open("ab") as stream:
            stream.write(b"quiet\nCONNECT evil.example:443\n")
        assert records(out, 1)[0]["line"] == 3
        log.rename(log.with_name("proxy.log.1"))
        log.write_bytes(b"rotated evil.example\n")
        rotated = records(out, 1)[0]
        assert (rotated["line"], rotated["start"], rotated["file"]) == (1, 8, str(log))
        with log.open("ab") as stream:
            stream.write(b"no newline yet evil.example")
        process.send_signal(signal.SIGINT)
        # What was written before the stop is scanned, the last line without its newline too.
        assert records(out, 1)[0]["line"] == 2
        assert process.wait(timeout=WAIT) == 0
        assert b"5 lines read, 5 scanned, 4 hits on 4 lines" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_follow_refuses_other_files(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("x\n")
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--follow", str(log), str(log)],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 2
    assert b"--follow" in result.stderr


@pytest.mark.parametrize("change", ["rotate", "truncate"])
def test_a_stop_right_after_a_rotation_or_truncation_reads_the_file_as_it_now_is(tmp_path: Path, change: str) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"one\ntwo\n")
    follower = Follower(log, poll_seconds=0)
    try:
        assert collect(follower.reads()) == [(1, 0, b"one\n"), (2, 4, b"two\n")]
        if change == "rotate":
            log.rename(tmp_path / "app.log.1")
        log.write_bytes(b"new\n")  # for truncate: shorter than what was read
        assert follower.remaining() == ([(1, 0, b"new\n")], 0)
    finally:
        follower.close()


def test_follow_refuses_gzip(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "a.log.gz"
    log.write_bytes(gzip.compress(b"GET evil.example\n"))
    result = subprocess.run(
        [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--follow", str(log)],
        capture_output=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert b"gzip" in result.stderr


@pytest.mark.slow
def test_a_fault_while_following_still_writes_what_the_format_owes(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "proxy.log"
    log.write_bytes(b"GET evil.example\n")
    command = [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), "--format", "sightings", "--stats",
               "--follow", str(log)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        time.sleep(2)  # the first line is scanned
        log.rename(log.with_name("proxy.log.1"))
        log.mkdir()  # "rotated" to something that cannot be read as a log
        out, err = process.communicate(timeout=WAIT)
    assert process.returncode == 2
    assert [obj["count"] for obj in json.loads(out)["objects"] if obj["type"] == "sighting"] == [1]
    assert b"1 lines read" in err
    assert f"iocmatch: error: {log}: Is a directory".encode() in err


def test_a_json_key_written_twice_hides_no_value() -> None:
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    found, _ = EventScanner(matcher).scan('{"url": "http://evil.example/", "url": 1}', 1)
    assert [(f.field, f.match.text) for f in found] == [("url", "evil.example")]
