"""A bug of ours while loading stops the load: it is never reported as an
indicator the feed got wrong, where it would hide among the feed's problems."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._indicators import loader
from tests.conftest import bundle, indicator

FEED = bundle(indicator("[domain-name:value = 'evil.example']", 1))


def _bug(*_args: Any, **_kwargs: Any) -> Any:
    raise TypeError("a bug of ours")


def test_a_bug_while_compiling_a_pattern_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "compile_pattern", _bug)
    with pytest.raises(TypeError, match="a bug of ours"):
        iocmatch.load(FEED)


def test_a_bug_while_screening_a_list_row_propagates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    feed = tmp_path / "feed.txt"
    feed.write_bytes(b"evil.example\n")
    monkeypatch.setattr(loader, "too_broad", _bug)
    with pytest.raises(TypeError, match="a bug of ours"):
        iocmatch.load(feed)


def test_what_a_feed_gets_wrong_is_still_reported() -> None:
    objects = [
        {**indicator("[domain-name:value = 'a.example']", 1), "pattern": ["not", "a", "string"]},
        {**indicator("[domain-name:value = 'b.example']", 2), "pattern_type": {"a": "dict"}},
        {**indicator("[domain-name:value = 'c.example']", 3), "spec_version": 2.0, "name": ["x"]},
        indicator("[domain-name:value = 'd.example' AND", 4),
    ]
    report = iocmatch.load(bundle(*objects)).report
    assert (report.read, report.compiled, report.skipped) == (4, 1, 3)
    reasons = [problem.reason for problem in report.problems]
    assert reasons[:2] == ["indicator has no pattern", "pattern_type {'a': 'dict'} is not supported"]
    assert reasons[2].startswith("invalid STIX pattern")


def test_the_command_exits_2_with_one_line_naming_the_bug(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))
    script = (
        "import runpy, sys\n"
        "import iocmatch._indicators.loader as loader\n"
        "def bug(*args, **kwargs):\n"
        "    raise TypeError('a bug of ours')\n"
        "loader.compile_pattern = bug\n"
        f"sys.argv = ['iocmatch', 'check', '--json', '-i', {str(feed)!r}]\n"
        "runpy.run_module('iocmatch', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, check=False)
    assert result.returncode == 2
    assert result.stdout == b""
    (line,) = result.stderr.decode().splitlines()
    assert "internal error: TypeError: a bug of ours" in line
