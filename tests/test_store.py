"""Compiled matcher files: a loaded matcher scans as a fresh one; anything else is refused unread."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import random
import re
import stat
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import pytest

import iocmatch
from iocmatch._cli.command import main
from iocmatch._matcher import file as store  # key_path only: the layout is checked here as documented
from tests.conftest import ROOT, bundle, indicator

SAMPLES = ROOT / "data" / "samples"
LOGS = [*sorted(SAMPLES.glob("*.log")), SAMPLES / "sysmon.jsonl"]
FEED = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
    indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef'] FOLLOWEDBY [file:name = 'x.exe']", 3),
)
POSIX = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture(autouse=True)
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has its own key and home: the user's key is never read or made."""
    path = tmp_path / "keys" / "matcher.key"
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return path


@pytest.fixture(scope="module")
def bundled() -> iocmatch.IndicatorSet:
    return iocmatch.load(iocmatch.campaign_data_path())


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A genuine matcher file of a small feed."""
    path = tmp_path / "feed.matcher"
    iocmatch.save_matcher(iocmatch.compile(iocmatch.load(FEED)), path)
    return path


@pytest.fixture
def empty_log(tmp_path: Path) -> Path:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    return path


def run(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "iocmatch", *args], capture_output=True, check=False)


# -- the layout, as documented in store.py -------------------------------------


def offsets(data: bytes) -> dict[str, int]:
    """Where each field of a matcher file starts."""
    key_id = 11 + data[10]  # after magic (8), format (2), build size (1) and build
    return {"start": 0, "build": 11, "key id": key_id, "length": key_id + 8, "tag": key_id + 16, "payload": key_id + 48}


def split(data: bytes) -> dict[str, bytes]:
    """The fields of a matcher file ("start" is the magic and the format version)."""
    at = offsets(data)
    return {
        "start": data[:10],
        "build": data[11 : at["key id"]],
        "key id": data[at["key id"] : at["length"]],
        "length": data[at["length"] : at["tag"]],
        "tag": data[at["tag"] : at["payload"]],
        "payload": data[at["payload"] :],
    }


def assemble(fields: dict[str, bytes], key: bytes | None = None) -> bytes:
    """A file of ``fields``, the length recomputed, signed with ``key`` (else ``fields["tag"]`` is kept)."""
    build, payload = fields["build"], fields["payload"]
    signed = fields["start"] + bytes([len(build)]) + build + fields["key id"] + struct.pack(">Q", len(payload))
    tag = hmac.new(key, signed + payload, hashlib.sha256).digest() if key is not None else fields["tag"]
    return signed + tag + payload


class Marker:
    """A pickle whose unpickling makes a folder: proof it was unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return os.mkdir, (str(self.path),)


# -- round trips ---------------------------------------------------------------


class _Options(TypedDict, total=False):
    """Keyword options of iocmatch.compile that a matcher file must keep."""

    subdomains: bool
    registry_aliases: bool


@pytest.mark.parametrize(
    "options", [{}, {"registry_aliases": True}, {"subdomains": False}], ids=["default", "aliases", "no-subdomains"]
)
def test_a_loaded_matcher_scans_every_sample_log_as_a_fresh_one(
    bundled: iocmatch.IndicatorSet, tmp_path: Path, options: _Options
) -> None:
    fresh = iocmatch.compile(bundled, **options)
    path = tmp_path / "apt10.matcher"
    iocmatch.save_matcher(fresh, path)
    loaded = iocmatch.load_matcher(path)
    assert isinstance(loaded, iocmatch.Matcher)
    assert (loaded.atom_count, loaded.subdomains, loaded.registry_aliases) == (
        fresh.atom_count,
        fresh.subdomains,
        fresh.registry_aliases,
    )
    total = 0
    for log in LOGS:
        expected = list(fresh.scan_file(log))
        assert list(loaded.scan_file(log)) == expected, log
        total += len(expected)
    assert total > 100


@pytest.mark.slow
def test_compile_then_scan_m_prints_what_a_fresh_scan_prints(tmp_path: Path) -> None:
    path = tmp_path / "apt10.matcher"
    compiled = run("compile", "--registry-aliases", "-o", str(path))
    assert compiled.returncode == 0, compiled.stderr
    line = compiled.stdout.decode().strip()
    assert line.startswith(f"{path}: ")
    assert "5301 of 5301 indicators compiled" in line
    assert f"{path.stat().st_size / 1e6:.1f} MB" in line
    logs = [str(log) for log in LOGS]
    fresh = run("scan", "--registry-aliases", "--format", "jsonl", *logs)
    from_file = run("scan", "-m", str(path), "--format", "jsonl", *logs)
    assert (from_file.returncode, from_file.stderr) == (0, b"")
    assert from_file.stdout == fresh.stdout
    assert len(fresh.stdout.splitlines()) > 100


def test_compile_reports_what_was_not_compiled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))
    path = tmp_path / "feed.matcher"
    assert main(["compile", "-i", str(feed), "-o", str(path)]) == 0
    captured = capsys.readouterr()
    assert FEED["objects"][2]["id"] in captured.err
    assert "FOLLOWEDBY" in captured.err
    assert "2 of 3 indicators compiled (1 skipped, 0 excluded), 2 distinct values" in captured.out
    hits = list(iocmatch.load_matcher(path).scan_line("GET http://a.evil.example/ from 198.51.100.9"))
    assert [hit.value for hit in hits] == ["evil.example", "198.51.100.0/24"]


# -- refused files -------------------------------------------------------------


def flip(field: str, at: int = 0) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        index = offsets(data)[field] + (at if at >= 0 else len(split(data)[field]) + at)
        return data[:index] + bytes([data[index] ^ 0x20]) + data[index + 1 :]

    return change


def _length_off_by(data: bytes, change: int) -> bytes:
    at = offsets(data)["length"]
    (length,) = struct.unpack(">Q", data[at : at + 8])
    return data[:at] + struct.pack(">Q", length + change) + data[at + 8 :]


CHANGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "payload first byte": (flip("payload"), "made with another key or changed"),
    "payload last byte": (flip("payload", -1), "made with another key or changed"),
    "build in the header": (flip("build", 3), "made with another key or changed"),
    "key id": (flip("key id", 2), "made with another key or changed"),
    "tag": (flip("tag", 5), "made with another key or changed"),
    # The header says one byte more than the file holds, and one less (whatever the payload's size).
    "length longer": (lambda data: _length_off_by(data, 1), "truncated"),
    "length shorter": (lambda data: _length_off_by(data, -1), "longer than its header says"),
    "magic": (flip("start"), "not a compiled iocmatch matcher"),
    "format version": (lambda data: data[:8] + struct.pack(">H", 2) + data[10:], "matcher file format 2"),
    "truncated payload": (lambda data: data[:-7], "truncated"),
    "truncated header": (lambda data: data[:30], "truncated"),
    "truncated magic": (lambda data: data[:5], "truncated"),
    "bytes appended": (lambda data: data + b"\n", "longer than its header says"),
    "empty": (lambda _data: b"", "empty"),
    "random bytes": (lambda _data: random.Random(7).randbytes(4096), "not a compiled iocmatch matcher"),
    "a pickle": (lambda _data: pickle.dumps({"not": "a matcher file"}), "not a compiled iocmatch matcher"),
}


@pytest.mark.parametrize("case", CHANGES)
def test_a_changed_or_foreign_file_is_refused_with_one_line(
    saved: Path, empty_log: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    change, message = CHANGES[case]
    saved.write_bytes(change(saved.read_bytes()))
    with pytest.raises(iocmatch.MatcherFileError, match=message) as raised:
        iocmatch.load_matcher(saved)
    assert str(raised.value).startswith(f"{saved}: ")
    assert main(["scan", "-m", str(saved), str(empty_log)]) == 2
    assert capsys.readouterr().err == f"iocmatch: error: {raised.value}\n"


@pytest.mark.slow
def test_a_foreign_pickle_is_never_unpickled(saved: Path, key_file: Path, tmp_path: Path, empty_log: Path) -> None:
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(Marker(marker), protocol=5)
    bare = tmp_path / "bare.matcher"
    bare.write_bytes(evil)
    # Our header (magic, format, build, key id) around it, with the old tag or
    # with one made with another key: whoever crafts a file has no key of ours.
    fields = split(saved.read_bytes())
    kept_tag = tmp_path / "kept-tag.matcher"
    kept_tag.write_bytes(assemble({**fields, "payload": evil}))
    other_key = tmp_path / "other-key.matcher"
    other_key.write_bytes(assemble({**fields, "payload": evil}, os.urandom(32)))
    for path, message in [
        (bare, "not a compiled iocmatch matcher"),
        (kept_tag, "made with another key or changed"),
        (other_key, "made with another key or changed"),
    ]:
        with pytest.raises(iocmatch.MatcherFileError, match=message):
            iocmatch.load_matcher(path)
        result = run("scan", "-m", str(path), str(empty_log))
        assert result.returncode == 2
        assert message in result.stderr.decode()
        assert b"Traceback" not in result.stderr
        assert not marker.exists()
    # The same bytes signed with the user's key are unpickled: the tag is what stops them.
    genuine = tmp_path / "signed.matcher"
    genuine.write_bytes(assemble({**fields, "payload": evil}, key_file.read_bytes()))
    with pytest.raises(iocmatch.MatcherFileError, match="holds a NoneType, not a Matcher"):
        iocmatch.load_matcher(genuine)
    assert marker.exists()


def test_a_changed_file_is_refused_by_the_command_without_a_traceback(saved: Path, empty_log: Path) -> None:
    saved.write_bytes(flip("payload", 40)(saved.read_bytes()))
    result = run("scan", "-m", str(saved), str(empty_log))
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"iocmatch: error: {saved}: made with another key or changed (its HMAC does not match")


def test_a_file_written_by_another_build_is_refused(saved: Path, key_file: Path) -> None:
    fields = split(saved.read_bytes())
    build = fields["build"].decode().split("; ")
    older = "; ".join(["iocmatch 0.0.1+000000000000", *build[1:]])
    saved.write_bytes(assemble({**fields, "build": older.encode()}, key_file.read_bytes()))
    with pytest.raises(iocmatch.MatcherFileError) as raised:
        iocmatch.load_matcher(saved)
    assert str(raised.value) == f"{saved}: compiled by {older.split('; ')[0]} (this is {build[0]}): compile it again"


def test_a_signed_file_that_is_no_matcher_is_refused(saved: Path, key_file: Path) -> None:
    fields = split(saved.read_bytes())
    saved.write_bytes(assemble({**fields, "payload": pickle.dumps([1, 2])}, key_file.read_bytes()))
    with pytest.raises(iocmatch.MatcherFileError, match="holds a list, not a Matcher"):
        iocmatch.load_matcher(saved)


def test_a_directory_or_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape(f"{tmp_path}: cannot read")):
        iocmatch.load_matcher(tmp_path)
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape("missing.matcher: cannot read: No such file")):
        iocmatch.load_matcher(tmp_path / "missing.matcher")


# -- the key -------------------------------------------------------------------


@POSIX
def test_the_first_save_makes_a_private_key_and_later_saves_reuse_it(saved: Path, key_file: Path) -> None:
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    key = key_file.read_bytes()
    assert len(key) == 32
    again = saved.with_name("again.matcher")
    iocmatch.save_matcher(iocmatch.load_matcher(saved), again)
    assert key_file.read_bytes() == key
    assert iocmatch.load_matcher(again).atom_count == iocmatch.load_matcher(saved).atom_count


def test_without_the_key_a_file_is_refused_and_no_key_is_made(
    saved: Path, key_file: Path, empty_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file.unlink()
    assert main(["scan", "-m", str(saved), str(empty_log)]) == 2
    message = capsys.readouterr().err
    assert message.startswith(f"iocmatch: error: {saved}: no key to check it with: {key_file} does not exist")
    assert "IOCMATCH_KEY_FILE" in message
    assert not key_file.exists()


def test_a_file_made_with_another_key_is_refused(saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "other" / "matcher.key"))
    iocmatch.save_matcher(iocmatch.compile(iocmatch.load(FEED)), tmp_path / "other.matcher")  # makes that key
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape(f"{saved}: made with another key or changed")):
        iocmatch.load_matcher(saved)
    assert iocmatch.load_matcher(tmp_path / "other.matcher").atom_count == 2


@POSIX
def test_a_key_others_can_read_is_refused(saved: Path, key_file: Path) -> None:
    key_file.chmod(0o644)
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape(f"{key_file}: other users can read or change")):
        iocmatch.load_matcher(saved)
    with pytest.raises(iocmatch.MatcherFileError, match="chmod 600"):
        iocmatch.save_matcher(iocmatch.compile(iocmatch.load(FEED)), saved)


def test_a_key_of_the_wrong_size_is_refused(saved: Path, key_file: Path) -> None:
    key_file.write_bytes(b"short")
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape(f"{key_file}: not a matcher key")):
        iocmatch.load_matcher(saved)


def test_the_key_is_found_under_xdg_config_home_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOCMATCH_KEY_FILE")
    assert store.key_path() == tmp_path / "config" / "iocmatch" / "matcher.key"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")  # the XDG spec says to ignore it
    assert store.key_path() == tmp_path / "home" / ".config" / "iocmatch" / "matcher.key"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    iocmatch.save_matcher(iocmatch.compile(iocmatch.load(FEED)), tmp_path / "feed.matcher")
    assert (tmp_path / "home" / ".config" / "iocmatch" / "matcher.key").is_file()


# -- writing, and the command line ---------------------------------------------


def test_save_refuses_what_is_not_a_matcher_and_names_a_file_it_cannot_write(tmp_path: Path) -> None:
    matcher = iocmatch.compile(iocmatch.load(FEED))
    with pytest.raises(TypeError):
        iocmatch.save_matcher(FEED, tmp_path / "x.matcher")  # type: ignore[arg-type]
    target = tmp_path / "no" / "such" / "folder" / "x.matcher"
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape(f"{target}: cannot write")):
        iocmatch.save_matcher(matcher, target)


def test_save_replaces_a_file_whole_and_leaves_nothing_beside_it(saved: Path) -> None:
    iocmatch.save_matcher(
        iocmatch.compile(iocmatch.load(bundle(indicator("[domain-name:value = 'a.example']")))), saved
    )
    assert sorted(path.name for path in saved.parent.iterdir()) == ["feed.matcher", "keys"]
    assert iocmatch.load_matcher(saved).atom_count == 1


@pytest.mark.parametrize(
    "extra",
    [["-i", "{feed}"], ["--no-subdomains"], ["--registry-aliases"], ["--as-of", "2020-01-01"], ["--ignore-validity"]],
)
def test_scan_m_with_a_compile_option_is_a_usage_error(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    args = ["scan", "-m", str(saved), *(part.format(feed=tmp_path / "feed.json") for part in extra), "-"]
    with pytest.raises(SystemExit) as raised:
        main(args)
    assert raised.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("iocmatch scan: error: argument ")
    assert "-m/--matcher" in error
    assert extra[0] in error


def test_compile_needs_o_and_will_not_write_over_a_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["compile"])
    assert raised.value.code == 2
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(FEED))
    capsys.readouterr()
    assert main(["compile", "-i", str(feed), "-o", str(feed)]) == 2
    assert (
        capsys.readouterr().err == f"iocmatch: error: {feed}: is one of the sources (-i); write the matcher elsewhere\n"
    )
    assert json.loads(feed.read_text()) == FEED


def test_compile_writes_only_a_regular_file_that_is_no_feed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The matcher is written beside its target and renamed over it, which
    would replace a device or a FIFO, or a feed the next run reads."""
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "key"))
    folder = tmp_path / "feeds"
    folder.mkdir()
    (folder / "feed.json").write_text(json.dumps(FEED))
    allowlist = tmp_path / "allow.json"
    allowlist.write_text(json.dumps({"name": "a", "type": "string", "list": ["x.example"]}))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    refused = {
        str(fifo): "not a regular file",
        str(folder / "feed.json"): "inside the source folder",
        str(folder / "new.json"): "inside the source folder",
        str(allowlist): "is one of the allowlists",
    }
    for target, reason in refused.items():
        capsys.readouterr()
        assert main(["compile", "-i", str(folder), "--allowlist", str(allowlist), "-o", target]) == 2
        assert reason in capsys.readouterr().err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert json.loads((folder / "feed.json").read_text()) == FEED
    # Through a link, to the file it names.
    (tmp_path / "link.iocm").symlink_to(tmp_path / "real.iocm")
    assert main(["compile", "-i", str(folder), "-o", str(tmp_path / "link.iocm")]) == 0
    assert (tmp_path / "link.iocm").is_symlink()
    assert (
        iocmatch.load_matcher(tmp_path / "real.iocm").indicator_count
        == iocmatch.load_matcher(tmp_path / "link.iocm").indicator_count
    )
