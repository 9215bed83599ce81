"""The iocmatch command as a user runs it: output, exit codes, errors."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import bundle, indicator

FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
    indicator("[ipv4-addr:value = '198.51.100.7']", 3),
    indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef'] FOLLOWEDBY [file:name = 'x.exe']", 4),
    indicator("[domain-name:value = 'gone.example']", 5, revoked=True),
)
LOG = (
    "Jun 14 15:16:01 proxy: GET http://www.EVIL.example/a 200\n"
    "Jun 14 15:16:02 proxy: GET http://evil.example.au/ 200\n"
    "Jun 14 15:16:03 fw: SRC=198.51.100.7 DST=10.0.0.1\n"
    "Jun 14 15:16:04 dns: gone.example\n"
)


def run(*args: str, stdin: str | bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([sys.executable, "-m", "iocmatch", *args], input=data, capture_output=True, check=False)


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


@pytest.mark.slow
def test_scan_jsonl_reports_every_field_and_exits_0(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "proxy.log"
    log.write_text(LOG)
    result = run("scan", "-i", str(feed), "--format", "jsonl", str(log))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(r["line"], r["text"], r["kind"], r["value"]) for r in records] == [
        (1, "EVIL.example", "domain-name", "evil.example"),
        (3, "198.51.100.7", "ipv4-addr", "198.51.100.7"),
        (3, "198.51.100.7", "ipv4-addr", "198.51.100.0/24"),
    ]
    first = records[0]
    assert LOG.splitlines()[0][first["start"] : first["end"]] == "EVIL.example"
    assert first["file"] == str(log)
    assert first["indicators"] == [FEED["objects"][0]["id"]]
    assert first["attribution"] == []
    # The FOLLOWEDBY indicator is reported on stderr with its id; the scan went on.
    assert FEED["objects"][3]["id"] in result.stderr.decode()
    assert "FOLLOWEDBY" in result.stderr.decode()


@pytest.mark.slow
def test_scan_reads_stdin_and_gzip_alike(feed: Path, tmp_path: Path) -> None:
    packed = tmp_path / "proxy.log.gz"
    packed.write_bytes(gzip.compress(LOG.encode()))
    from_stdin = run("scan", "-i", str(feed), "--format", "jsonl", stdin=LOG)
    from_gzip = run("scan", "-i", str(feed), "--format", "jsonl", str(packed))

    def strip_file(output: bytes) -> list[dict[str, object]]:
        return [{k: v for k, v in json.loads(line).items() if k != "file"} for line in output.splitlines()]

    assert strip_file(from_stdin.stdout) == strip_file(from_gzip.stdout)
    assert len(strip_file(from_gzip.stdout)) == 3


@pytest.mark.slow
def test_scan_exits_1_when_nothing_matches(feed: Path) -> None:
    result = run("scan", "-i", str(feed), "-", stdin="nothing to see\n")
    assert (result.returncode, result.stdout) == (1, b"")


@pytest.mark.slow
def test_text_format_names_file_line_and_value(feed: Path) -> None:
    result = run("scan", "-i", str(feed), stdin=LOG)
    first = result.stdout.decode().splitlines()[0]
    assert first == f'-:1:38-50: domain-name evil.example "EVIL.example" {{{feed}}} {FEED["objects"][0]["id"]}'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("scan", "-i", "/nonexistent/feed.json", "-"), "/nonexistent/feed.json"),
        (("scan", "-i", "{feed}", "/nonexistent/log"), "/nonexistent/log"),
        (("scan", "-i", "{feed}", "--as-of", "yesterday", "-"), "--as-of"),
        (("check", "-i", "{bad}"), "not valid JSON"),
    ],
)
def test_errors_exit_2_with_one_clear_line(feed: Path, tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    result = run(*(a.format(feed=feed, bad=bad) for a in args), stdin="")
    stderr = result.stderr.decode()
    assert result.returncode == 2
    assert message in stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_check_json_accounts_for_every_indicator(feed: Path) -> None:
    result = run("check", "-i", str(feed), "--json")
    report = json.loads(result.stdout)
    assert (report["read"], report["compiled"], report["skipped"], report["excluded"]) == (5, 3, 1, 1)
    assert report["kinds"] == {"domain-name": 1, "ipv4-addr": 2}
    assert {p["id"] for p in report["problems"]} == {FEED["objects"][3]["id"], FEED["objects"][4]["id"]}
    assert all(isinstance(p["reason"], str) and p["reason"] for p in report["problems"])


@pytest.mark.slow
def test_as_of_and_ignore_validity_reach_the_loader(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(
        json.dumps(bundle(indicator("[domain-name:value = 'old.example']", valid_until="2021-01-01T00:00:00Z")))
    )
    # Nothing live is no verdict: exit 2, not a clean "no match".
    assert run("scan", "-i", str(feed), stdin="old.example").returncode == 2
    assert run("scan", "-i", str(feed), "--allow-empty", stdin="old.example").returncode == 1
    assert run("scan", "-i", str(feed), "--as-of", "2020-06-01T00:00:00Z", stdin="old.example").returncode == 0
    assert run("scan", "-i", str(feed), "--ignore-validity", stdin="old.example").returncode == 0


@pytest.mark.slow
def test_no_subdomains_switch(feed: Path) -> None:
    assert run("scan", "-i", str(feed), "--no-subdomains", stdin="www.evil.example").returncode == 1
    assert run("scan", "-i", str(feed), stdin="www.evil.example").returncode == 0


@pytest.mark.slow
def test_a_reader_closing_the_pipe_early_is_not_an_error(feed: Path, tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    log.write_text("GET evil.example\n" * 50_000)
    command = f"{sys.executable} -m iocmatch scan -i {feed} {log} | head -n 1"
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {command}"], capture_output=True, check=False)
    assert result.stdout.count(b"\n") == 1
    assert b"Traceback" not in result.stderr
    assert b"BrokenPipe" not in result.stderr


@pytest.mark.slow
def test_default_source_is_the_bundled_campaign_data() -> None:
    result = run("check", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["compiled"] == report["read"] > 0
    assert report["kinds"]["domain-name"] >= 12


@pytest.mark.slow
def test_damaged_gzip_reports_the_readable_hits_then_exits_2(feed: Path, tmp_path: Path) -> None:
    packed = gzip.compress(("GET evil.example\n" * 2000).encode())
    damaged = tmp_path / "cut.log.gz"
    damaged.write_bytes(packed[: len(packed) - 20])
    result = run("scan", "-i", str(feed), str(damaged))
    assert result.returncode == 2
    assert result.stdout.count(b"\n") > 0
    assert b"Traceback" not in result.stderr
    assert b"damaged" in result.stderr


@pytest.mark.slow
def test_a_pipe_path_is_a_log_file(feed: Path) -> None:
    command = f"{sys.executable} -m iocmatch scan -i {feed} <(printf 'GET evil.example\\n')"
    result = subprocess.run(["bash", "-c", command], capture_output=True, check=False)
    assert result.returncode == 0, result.stderr
    assert b"evil.example" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("options", [("--engine", "aho-corasick"), ("--engine", "auto"), ("--jobs", "2")])
def test_engines_and_jobs_change_nothing_in_the_output(feed: Path, tmp_path: Path, options: tuple[str, str]) -> None:
    log = tmp_path / "proxy.log"
    log.write_text(LOG * 50)
    baseline = run("scan", "-i", str(feed), "--format", "jsonl", str(log))
    assert baseline.returncode == 0
    assert run("scan", "-i", str(feed), "--format", "jsonl", *options, str(log)).stdout == baseline.stdout


@pytest.mark.slow
def test_a_scan_of_plain_indicators_never_imports_stix2(tmp_path: Path) -> None:
    """stix2 takes a fifth of a second to import: only a pattern read as a tree
    (an operator, an --events pattern) pays it, not a scan of plain values."""
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(bundle(indicator("[domain-name:value = 'evil.example']", 1))))
    log = tmp_path / "a.log"
    log.write_text("GET http://evil.example/\n")
    script = (
        "import sys\nfrom iocmatch._cli.command import main\n"
        f"status = main(['scan', '-i', {str(feed)!r}, {str(log)!r}])\n"
        "sys.stdout.write(f'{status} {\"stix2\" in sys.modules}')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.endswith("0 False"), done.stdout
