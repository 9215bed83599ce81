"""Exit status is a promise: 0 hits; 1 everything asked for was searched with
at least one live indicator and nothing matched; 2 anything else. A failure is
one line on stderr, never a traceback (unless --debug), never a silent 1."""

from __future__ import annotations

import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import iocmatch
from iocmatch import ScanStats
from iocmatch._cli import command as cli
from iocmatch._cli.scan_run import Scan
from iocmatch._outputs.formats import JsonlFormat
from tests.conftest import bundle, indicator, matcher_for
from tests.test_cli import run

FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
)
WAIT = 30  # seconds to wait for what must come; a failure, never a measurement


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


def error_lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    return error_lines_of(result.stderr)


def error_lines_of(stderr: bytes) -> list[str]:
    return [line for line in stderr.decode().splitlines() if line.startswith("iocmatch: error:")]


# -- an internal error in any command is exit 2 and one line


def _boom(*_args: object, **_kwargs: object) -> None:
    raise RuntimeError("a bug of ours\nover two lines")


def _out_of_memory(*_args: object, **_kwargs: object) -> None:
    raise MemoryError


@pytest.mark.parametrize(
    ("command", "target", "failure"),
    [
        ("scan", "iocmatch._cli.scan_run.Scan.scan_file", _boom),
        ("scan", "iocmatch._cli.sources.Matcher", _out_of_memory),
        ("check", "iocmatch._cli.sources.load", _boom),
        ("compile", "iocmatch._cli.compile_command.save_matcher", _out_of_memory),
        ("check-m", "iocmatch._cli.matcher_files.load_matcher", _boom),
    ],
)
def test_an_internal_error_in_each_command_is_exit_2_and_one_line(
    feed: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    target: str,
    failure: object,
) -> None:
    log = tmp_path / "a.log"
    log.write_text("GET evil.example\n")
    argv = {
        "scan": ["scan", "-i", str(feed), str(log)],
        "check": ["check", "-i", str(feed)],
        "compile": ["compile", "-i", str(feed), "-o", str(tmp_path / "m")],
        "check-m": ["check", "-m", str(tmp_path / "m")],
    }[command]
    monkeypatch.setattr(target, failure)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("iocmatch: error: internal error: ")
    assert "Traceback" not in err
    assert cli.main(["--debug", *argv]) == 2
    assert "Traceback" in capsys.readouterr().err
    assert cli.main([argv[0], "--debug", *argv[1:]]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_a_stop_while_loading_is_exit_2_with_one_line(feed: Path, tmp_path: Path) -> None:
    """SIGTERM before scanning began (a large feed loading) ends with a line, not a silent death."""
    slow = tmp_path / "slow.py"
    slow.write_text(
        "import time, sys\nimport iocmatch._cli.command as cli, iocmatch._cli.sources as sources\n"
        "def load(*a, **k):\n    print('loading', flush=True)\n    time.sleep(60)\n"
        "sources.load = load\nsys.exit(cli.main(sys.argv[1:]))\n"
    )
    with subprocess.Popen(
        [sys.executable, str(slow), "scan", "-i", str(feed), "-"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as process:  # fmt: skip
        assert process.stdout is not None
        assert process.stdout.readline() == b"loading\n"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=WAIT)
    assert process.returncode == 2
    assert err.decode().strip() == "iocmatch: error: stopped by SIGTERM before scanning finished"


# -- no indicators, no verdict


@pytest.mark.slow
@pytest.mark.parametrize(
    "content",
    [
        "",  # an empty file
        "# only comments\n\n",
        json.dumps(bundle(indicator("[file:size = 3]", 1))),  # every object skipped
        json.dumps(bundle(indicator("[domain-name:value = 'old.example']", 1, valid_until="2021-01-01T00:00:00Z"))),
    ],
)
def test_sources_with_no_live_indicator_are_an_error_not_a_clean_log(tmp_path: Path, content: str) -> None:
    source = tmp_path / "feed.txt"
    source.write_text(content)
    result = run("scan", "-i", str(source), "-", stdin=b"old.example evil.example\n")
    assert result.returncode == 2
    assert error_lines(result)
    assert f"no live indicator in {source}" in error_lines(result)[0]
    assert run("scan", "-i", str(source), "--allow-empty", "-", stdin=b"x\n").returncode == 1
    checked = run("check", "-i", str(source))
    assert checked.returncode == 2
    assert "no live indicator" in checked.stderr.decode()
    assert checked.stdout  # the report is still printed
    assert run("check", "-i", str(source), "--allow-empty").returncode == 0
    assert run("compile", "-i", str(source), "-o", str(tmp_path / "m")).returncode == 2
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_a_source_that_gives_nothing_among_others_is_named(tmp_path: Path) -> None:
    good, empty, same = tmp_path / "good.txt", tmp_path / "download.txt", tmp_path / "copy.txt"
    good.write_text("evil.example\n")
    empty.write_text("")
    same.write_text("evil.example\n")  # the same value: an indicator of its own, so not named
    # The scan goes on with the others, and is not the scan asked for: exit 2 at the end.
    result = run("scan", "-i", str(good), "-i", str(empty), "-i", str(same), "-", stdin=b"evil.example\n")
    assert result.returncode == 2
    assert result.stdout.count(b"\n") == 1  # one line, with both indicators behind it
    nothing = f"{empty}: no live indicator from this source (0 read, 0 skipped, 0 excluded)"
    assert error_lines(result) == [f"iocmatch: error: {nothing} (--allow-empty to go on without it)"]
    allowed = run("scan", "-i", str(good), "-i", str(empty), "--allow-empty", "-", stdin=b"evil.example\n")
    assert allowed.returncode == 0
    assert allowed.stderr.decode().splitlines() == [f"iocmatch: {nothing}"]
    assert run("check", "-i", str(good), "-i", str(empty)).returncode == 2
    assert run("compile", "-i", str(good), "-i", str(empty), "-o", str(tmp_path / "m")).returncode == 2
    strict = run("scan", "--strict", "-i", str(good), "-i", str(empty), "-", stdin=b"evil.example\n")
    assert strict.returncode == 2
    assert error_lines(strict) == [f"iocmatch: error: --strict: no live indicator from {empty}"]


@pytest.mark.slow
def test_a_matcher_file_with_no_live_indicator_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "key"))
    source = tmp_path / "empty.txt"
    source.write_text("")
    matcher_file = tmp_path / "empty.matcher"
    assert run("compile", "-i", str(source), "--allow-empty", "-o", str(matcher_file)).returncode == 0
    refused = run("scan", "-m", str(matcher_file), "-", stdin=b"x\n")
    assert refused.returncode == 2
    assert "holds no live indicator" in refused.stderr.decode()
    assert run("scan", "-m", str(matcher_file), "--allow-empty", "-", stdin=b"x\n").returncode == 1


# -- many logs, one bad


@pytest.mark.slow
def test_one_bad_log_among_several_loses_nothing_else(feed: Path, tmp_path: Path) -> None:
    first, last = tmp_path / "first.log", tmp_path / "last.log.gz"
    first.write_text("GET evil.example\n")
    last.write_bytes(gzip.compress(b"x\nGET 198.51.100.7\n"))
    damaged = tmp_path / "damaged.gz"
    packed = gzip.compress(b"evil.example\n" * 5000)
    damaged.write_bytes(packed[:-20])
    folder = tmp_path / "folder"
    folder.mkdir()
    names = [str(first), str(tmp_path / "missing.log"), str(folder), str(damaged), str(last)]
    result = run("scan", "-i", str(feed), "--format", "jsonl", "--stats", *names)
    assert result.returncode == 2
    files = [json.loads(line)["file"] for line in result.stdout.splitlines()]
    assert files[0] == str(first)
    assert files[-1] == str(last)
    assert files.count(str(damaged)) > 0  # what was readable before the damage
    errors = error_lines(result)
    assert len(errors) == 3
    assert "missing.log" in errors[0]
    assert "folder" in errors[1]
    assert "damaged.gz" in errors[2]
    assert "Traceback" not in result.stderr.decode()


def test_all_logs_missing_fails_before_loading(feed: Path, tmp_path: Path) -> None:
    result = run("scan", "-i", str(feed), str(tmp_path / "a"), str(tmp_path / "b"))
    assert result.returncode == 2
    assert len(error_lines(result)) == 2


@pytest.mark.slow
def test_gzip_on_stdin_is_detected_by_content(feed: Path) -> None:
    result = run("scan", "-i", str(feed), "--format", "jsonl", "-", stdin=gzip.compress(b"a\nGET evil.example\n"))
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["line"] for line in result.stdout.splitlines()] == [2]
    json_events = gzip.compress(json.dumps({"url": "http://evil.example/"}).encode() + b"\n")
    assert run("scan", "-i", str(feed), "--json", "-", stdin=json_events).returncode == 0


# -- stopping keeps what was found


def _started(*args: str, stdin: int | None = subprocess.PIPE) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "iocmatch", *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _outputs_once_ended(process: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
    """Its stdout and stderr once it has ended, with its stdin left open
    (``communicate`` would close it: an end of input, not a stop)."""
    assert process.stdout is not None
    assert process.stderr is not None
    with ThreadPoolExecutor(2) as pool:
        out, err = pool.submit(process.stdout.read), pool.submit(process.stderr.read)
        process.wait(timeout=WAIT)
        return out.result(timeout=WAIT), err.result(timeout=WAIT)


# More than a pipe holds: once written, the process has begun reading stdin,
# so its feeds are loaded and a signal now stops a scan, not a load.
FILLER = b"quiet line\n" * 20_000


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stopped_stdin_stream_still_writes_the_sightings_bundle_and_stats(feed: Path, stop: signal.Signals) -> None:
    with _started("scan", "-i", str(feed), "--format", "sightings", "--stats", "-") as process:
        assert process.stdin is not None
        process.stdin.write(FILLER + b"GET evil.example\n198.51.100.9 x\nhalf a line evil.example")
        process.stdin.flush()
        time.sleep(0.5)  # the last lines arrive; stdin stays open, as under tail -F
        process.send_signal(stop)
        out, err = _outputs_once_ended(process)
    sightings = [obj for obj in json.loads(out)["objects"] if obj["type"] == "sighting"]
    assert sorted(s["count"] for s in sightings) == [1, 2]
    assert "20003 lines read, 20003 scanned, 3 hits on 3 lines" in err.decode()
    # A stream stopped before its end was not searched whole: exit 2, and the cut last line is named.
    assert process.returncode == 2, err
    assert error_lines_of(err) == [
        f"iocmatch: error: stopped by {stop.name}: - was still open: its last line, cut, was scanned as it stood"
    ]


@pytest.mark.slow
def test_a_stopped_file_scan_writes_what_was_found_and_exits_2(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    # Only stdin is a pipe here: the file is scanned, then the stop comes while stdin waits.
    log.write_text("GET evil.example\n" * 1000)
    with _started("scan", "-i", str(feed), "--format", "sightings", "--stats", str(log), "-", str(log)) as process:
        assert process.stdin is not None
        process.stdin.write(FILLER + b"198.51.100.9\n")
        process.stdin.flush()
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        out, err = _outputs_once_ended(process)
    assert process.returncode == 2
    sightings = [obj for obj in json.loads(out)["objects"] if obj["type"] == "sighting"]
    assert sorted(s["count"] for s in sightings) == [1, 1000]
    assert f"not searched: {log}" in err.decode()
    assert "21001 lines read" in err.decode()


@pytest.mark.slow
def test_a_stopped_follow_loses_no_line_and_names_what_it_left(feed: Path, tmp_path: Path) -> None:
    """Lines already read when the stop came are all scanned, with their own
    numbers; a backlog the stop left is named, exit 2."""
    log = tmp_path / "dense.log"
    log.write_bytes(b"".join(b"%d evil.example\n" % number for number in range(1, 400_001)))
    with _started("scan", "-i", str(feed), "--format", "jsonl", "--follow", str(log), stdin=None) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        process.send_signal(signal.SIGINT)
        out, err = _outputs_once_ended(process)
    records = [json.loads(line) for line in [first, *out.splitlines()]]
    assert [r["line"] for r in records] == list(range(1, len(records) + 1))
    assert all(r["start"] == len(str(r["line"])) + 1 for r in records)  # each hit where its own line has it
    assert len(records) < 400_000
    assert process.returncode == 2
    assert f"stopped by SIGINT: {log} was not read to its end" in err.decode()


@pytest.mark.slow
def test_a_fifo_no_one_writes_to_does_not_hold_a_stop(feed: Path, tmp_path: Path) -> None:
    log, fifo = tmp_path / "a.log", tmp_path / "pipe"
    log.write_text("GET evil.example\n")
    os.mkfifo(fifo)
    with _started("scan", "-i", str(feed), "--format", "jsonl", str(log), str(fifo), stdin=None) as process:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline())["line"] == 1  # the first file is done: now it waits on the FIFO
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=WAIT)
    assert process.returncode == 2
    assert error_lines_of(err) == [f"iocmatch: error: stopped by SIGTERM: not searched: {fifo}"]


@pytest.mark.slow
def test_a_second_stop_ends_a_scan_blocked_on_its_output(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("GET evil.example\n" * 200_000)
    with _started("scan", "-i", str(feed), str(log), stdin=None) as process:
        assert process.stdout is not None
        process.stdout.read(10)  # hits are coming; then nobody reads, and the output pipe fills
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)  # recorded; the write it waits in goes on waiting
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=WAIT)
        assert process.stderr is not None
        err = process.stderr.read()
    assert process.returncode == 2
    assert error_lines_of(err) == ["iocmatch: error: stopped at once by a second SIGTERM: the output may be incomplete"]


def test_an_output_that_cannot_be_written_is_one_error_not_one_per_log(feed: Path, tmp_path: Path) -> None:
    logs = []
    for name in ("a.log", "b.log"):
        logs.append(tmp_path / name)
        logs[-1].write_text("GET evil.example\n" * 5000)
    with Path("/dev/full").open("w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), *map(str, logs)],
            stdout=full, stderr=subprocess.PIPE, check=False,
        )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == ["iocmatch: error: cannot write the output: No space left on device"]


def test_a_regular_file_stopped_midway_is_cut_at_a_line_end(tmp_path: Path) -> None:
    """The reader stops after the line in progress: never half a line scanned as if whole."""
    log = tmp_path / "big.log"
    line = b"GET http://quiet.example/" + b"q" * 200 + b" evil.example.au\n"
    log.write_bytes(line * 200_000)
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    reads = 0

    def stopped() -> bool:
        nonlocal reads
        reads += 1
        return reads > 3

    scan = Scan(matcher, JsonlFormat(), io.StringIO(), stopped=stopped)
    scan.scan_file(str(log))
    stats = scan.stats
    assert 0 < stats.lines_read < 200_000
    assert stats.hits == 0  # no cut line made "evil.example.au" into "evil.example"
    assert scan.cut_short == [f"{log} was not read to its end"]


@pytest.mark.slow
def test_a_closed_output_pipe_stops_quietly_with_the_hits_status(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("GET evil.example\n" * 100_000)
    command = f"{sys.executable} -m iocmatch scan --stats -i {feed} {log} - < /dev/null | head -n 1"
    result = subprocess.run(["bash", "-c", f"{command}; echo ${{PIPESTATUS[0]}}"], capture_output=True, check=False)
    first, status = result.stdout.decode().splitlines()
    assert "evil.example" in first
    assert status == "0"
    assert "lines read" in result.stderr.decode()  # --stats of what was read
    assert "Traceback" not in result.stderr.decode()


# -- the API never raises on stream content


def test_scan_skips_items_that_are_not_text_and_counts_them() -> None:
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    stats = ScanStats()
    items: list[object] = ["evil.example", None, 42, b"x evil.example", {"a": 1}, bytearray(b"evil.example")]
    found = list(matcher.scan(items, stats))
    assert [(m.line, m.start) for m in found] == [(1, 0), (4, 2), (6, 0)]
    assert (stats.not_text, stats.lines_read, stats.hits, stats.hit_lines) == (3, 3, 3, 3)
    assert list(matcher.scan([None, "evil.example"])) == [iocmatch.Match(2, 0, 12, "evil.example", "domain-name",
        "evil.example", found[0].indicators, (), found[0].sources)]  # fmt: skip
    assert matcher.scan_line(None) == []


def test_lone_surrogates_in_text_never_raise(feed: Path) -> None:
    """JSON decodes \\ud800 into a lone surrogate: a log line can hold one."""
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    lines = ["\ud800 evil.example", "evil.example \udfff\ud800x", "\udcff evil.example"]
    assert [(m.line, m.start) for m in matcher.scan(lines)] == [(1, 2), (2, 0), (3, 2)]
    events = b'{"a": "\\ud800 evil.example"}\n{"b": "evil.example \\udfff"}\n'
    result = run("scan", "-i", str(feed), "--json", "--format", "jsonl", "-", stdin=events)
    assert result.returncode == 0, result.stderr
    assert [(r["line"], r["field"]) for r in map(json.loads, result.stdout.splitlines())] == [(1, "a"), (2, "b")]


def _in_own_group(*args: str) -> subprocess.Popen[bytes]:
    """The command in a process group of its own: a terminal's Ctrl-C reaches the whole group."""
    return subprocess.Popen(
        [sys.executable, "-m", "iocmatch", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("stops", [1, 2])
def test_a_stop_ends_a_parallel_scan_at_once(feed: Path, tmp_path: Path, stops: int) -> None:
    log = tmp_path / "hits.log"
    log.write_bytes(b"GET evil.example 198.51.100.7\n" * 600_000)
    with _in_own_group("scan", "-i", str(feed), "-j", "2", "--format", "jsonl", str(log)) as process:
        assert process.stdout is not None
        process.stdout.readline()  # scanning; each piece holds 75,000 hit lines
        for _ in range(stops):
            os.killpg(process.pid, signal.SIGINT)
            time.sleep(0.3)
        out, err = _outputs_once_ended(process)
    assert process.returncode == 2
    first = f"iocmatch: error: stopped by SIGINT: {log} was not read to its end"
    second = "iocmatch: error: stopped at once by a second SIGINT: the output may be incomplete"
    # The first stop may end the scan before the second arrives: either way it
    # ends, with one line (a second stop once hung the workers' pool).
    allowed = [[first]] if stops == 1 else [[first], [second]]
    assert error_lines_of(err) in allowed
    assert out.count(b"\n") < 2 * 600_000


@pytest.mark.slow
def test_a_json_field_no_event_holds_is_no_clean_verdict(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(json.dumps({"process": {"command_line": "ping evil.example"}}) + "\n")
    typo = run("scan", "-i", str(feed), "--json-field", "proces.command_line", str(log))
    assert typo.returncode == 2
    assert "none of the 1 lines read held a JSON field selected (proces.command_line)" in typo.stderr.decode()
    assert run("scan", "-i", str(feed), "--json-field", "process.command_line", str(log)).returncode == 0


def test_failures_still_exit_2_when_stderr_is_a_closed_pipe(feed: Path, tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads stderr
    try:
        result = subprocess.run(
            [sys.executable, "-m", "iocmatch", "scan", "-i", str(feed), str(tmp_path / "missing.log")],
            stdout=subprocess.DEVNULL, stderr=write_end, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)
    assert result.returncode == 2


def test_a_closed_stdout_is_an_error(feed: Path) -> None:
    result = subprocess.run(
        ["bash", "-c", f'{sys.executable} -m iocmatch check -i {feed} >&-; echo "status $?"'],
        capture_output=True, check=False,
    )  # fmt: skip
    assert result.stdout.decode().strip() == "status 2"
    assert "iocmatch: error: stdout is closed" in result.stderr.decode()


def test_scan_line_refuses_what_is_no_line() -> None:
    matcher = matcher_for("[domain-name:value = 'evil.example']")
    with pytest.raises(TypeError, match="not int"):
        matcher.scan_line(10**10)  # type: ignore[arg-type]
