"""The command's front door: --version, the exit codes in --help, and
``-i bundled:NAME`` for the bundled campaign data beside other sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import iocmatch
from iocmatch._cli import main
from tests.conftest import bundle, indicator
from tests.test_cli import run

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
FEED = bundle(indicator("[domain-name:value = 'evil.example']", 1))
LOG = "GET http://evil.example/a 200\n"


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(FEED))
    return path


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.log"
    path.write_text(LOG + (SAMPLES / "dns.log").read_text())
    return path


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = run("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"iocmatch {iocmatch.__version__}\n"
    assert iocmatch.__version__ != "0+unknown"  # the installed version, not the fallback
    assert result.stderr == b""


def _help(*command: str) -> str:
    result = run(*command, "--help")
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.decode().split())  # argparse wraps lines


@pytest.mark.parametrize(
    ("command", "codes"),
    [
        ((), ("0 scan found a hit", "1 scan searched every input whole", "2 anything else")),
        (("scan",), ("0 something matched", "1 every input was searched whole", "2 anything else")),
        (("check",), ("0 the sources give live indicators", "2 anything else", "Never 1")),
        (("compile",), ("0 the matcher file was written", "2 anything else", "Never 1")),
    ],
)
def test_help_states_each_exit_code(command: tuple[str, ...], codes: tuple[str, ...]) -> None:
    text = _help(*command)
    assert "exit status: " in text
    for code in codes:
        assert code in text


@pytest.mark.parametrize("command", ["scan", "check", "compile"])
def test_help_lists_the_bundled_source(command: str) -> None:
    assert "bundled:apt10" in _help(command)


def _jsonl(result_stdout: bytes) -> list[dict[str, object]]:
    return [json.loads(line) for line in result_stdout.splitlines()]


@pytest.mark.slow
def test_bundled_alias_adds_the_campaign_data_to_other_sources(feed: Path, log: Path) -> None:
    path = str(iocmatch.campaign_data_path())
    by_alias = run("scan", "--format", "jsonl", "-i", str(feed), "-i", "bundled:apt10", str(log))
    by_path = run("scan", "--format", "jsonl", "-i", str(feed), "-i", path, str(log))
    assert by_alias.returncode == by_path.returncode == 0, by_alias.stderr
    assert by_alias.stdout == by_path.stdout
    values = {record["value"] for record in _jsonl(by_alias.stdout)}
    # The feed's own hit and the campaign's hits in the sample DNS log, together.
    assert "evil.example" in values
    assert len(values) > 1
    alone = run("scan", "--format", "jsonl", "-i", str(feed), str(log))
    assert {record["value"] for record in _jsonl(alone.stdout)} == {"evil.example"}


@pytest.mark.slow
def test_bundled_alias_in_check_and_compile(feed: Path, log: Path, tmp_path: Path) -> None:
    path = str(iocmatch.campaign_data_path())
    by_alias = run("check", "--json", "-i", "BUNDLED:APT10", "-i", str(feed))
    by_path = run("check", "--json", "-i", path, "-i", str(feed))
    assert by_alias.returncode == by_path.returncode == 0, by_alias.stderr
    assert json.loads(by_alias.stdout) == json.loads(by_path.stdout)
    assert json.loads(by_alias.stdout)["by_source"].keys() == {path, str(feed)}

    matcher = tmp_path / "m.matcher"
    compiled = run("compile", "-i", "bundled:apt10", "-o", str(matcher))
    assert compiled.returncode == 0, compiled.stderr
    from_file = run("scan", "--format", "jsonl", "-m", str(matcher), str(log))
    direct = run("scan", "--format", "jsonl", "-i", path, str(log))
    assert from_file.returncode == direct.returncode == 0, from_file.stderr
    assert from_file.stdout == direct.stdout


@pytest.mark.parametrize(
    "args",
    [
        ("scan", "-i", "bundled:apt1", "-"),
        ("check", "-i", "bundled:nothing"),
        ("compile", "-i", "bundled:", "-o", "never-written.matcher"),
    ],
)
def test_an_unknown_bundled_name_is_exit_2_naming_it_and_the_choices(args: tuple[str, ...]) -> None:
    result = run(*args, stdin="evil.example\n")
    stderr = result.stderr.decode()
    assert result.returncode == 2
    alias = args[2]
    assert f"unknown bundled campaign data {alias!r} (choose from: bundled:apt10)" in stderr
    assert "Traceback" not in stderr
    assert result.stdout == b""
    assert not Path("never-written.matcher").exists()


def test_a_feed_file_named_like_the_alias_is_read_through_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bundled:mine").write_text(json.dumps(FEED))
    assert main(["check", "--json", "-i", "./bundled:mine"]) == 0
    assert json.loads(capsys.readouterr().out)["compiled"] == 1
    with pytest.raises(SystemExit) as exited:
        main(["check", "-i", "bundled:mine"])
    assert exited.value.code == 2
    assert "unknown bundled campaign data 'bundled:mine'" in capsys.readouterr().err
