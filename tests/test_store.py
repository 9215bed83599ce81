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
from typing import Any, TypedDict

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


# -- the layout, as documented in sections.py ----------------------------------

HEAD = struct.Struct(">8sHHI8s32s")  # magic, format, flags, count, key id, tag
ENTRY = struct.Struct(">32s8sQQ32s")  # name, dtype, offset, length, sha256


def entries(data: bytes) -> list[tuple[str, int, int]]:
    """(name, offset, length) of each section of a matcher file (of a damaged one, as far as it goes)."""
    if len(data) < HEAD.size:
        return []
    count = min(HEAD.unpack_from(data)[3], (len(data) - HEAD.size) // ENTRY.size)
    found = []
    for index in range(count):
        name, _, offset, length, _ = ENTRY.unpack_from(data, HEAD.size + index * ENTRY.size)
        found.append((name.rstrip(b"\0").decode("ascii", "replace"), offset, length))
    return found


def offsets(data: bytes) -> dict[str, int]:
    """Where each field of a matcher file starts; "first section" is the one that comes first."""
    first = min(offset for _, offset, length in entries(data) if length)
    return {"start": 0, "count": 12, "key id": 16, "tag": 24, "table": HEAD.size, "first section": first}


def resealed(data: bytes, key: bytes) -> bytes:
    """``data`` with every section's SHA-256 in its table made again, and signed with ``key``."""
    if len(data) < HEAD.size:
        return data
    table = bytearray(data[HEAD.size : HEAD.size + len(entries(data)) * ENTRY.size])
    for index, (_, offset, length) in enumerate(entries(data)):
        at = index * ENTRY.size + ENTRY.size - 32
        table[at : at + 32] = hashlib.sha256(data[offset : offset + length]).digest()
    signed = data[: HEAD.size - 32] + bytes(table)
    tag = hmac.new(key, signed, hashlib.sha256).digest()
    return data[: HEAD.size - 32] + tag + bytes(table) + data[HEAD.size + len(table) :]


def format_one(payload: bytes, key: bytes) -> bytes:
    """A file as iocmatch wrote matchers before (format 1: a signed pickle)."""
    build = b"iocmatch 0.1.0+000000000000; pyahocorasick 2.1.0"
    key_id = hmac.new(key, b"iocmatch matcher key id", hashlib.sha256).digest()[:8]
    signed = b"IOCMATCH" + struct.pack(">H", 1) + bytes([len(build)]) + build + key_id
    signed += struct.pack(">Q", len(payload))
    return signed + hmac.new(key, signed + payload, hashlib.sha256).digest() + payload


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


# Every kind of table a compiled set holds: address ranges of both families, AND clauses with a port,
# a regex, a URL, a hash, a registry key, a file name; validity windows at event time.
EVERY_TABLE = bundle(
    indicator("[domain-name:value = 'evil.example']", 1),
    indicator("[ipv4-addr:value = '198.51.100.0/24']", 2, valid_until="2031-01-01T00:00:00Z"),
    indicator("[ipv6-addr:value = '2001:db8:aa::/48']", 3),
    indicator("[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]", 4),
    indicator("[process:command_line MATCHES 'certutil(\\\\.exe)? +-decode ']", 5),
    indicator("[url:value = 'http://c2.evil.example/gate.php']", 6),
    indicator("[file:hashes.MD5 = '0123456789abcdef0123456789abcdef']", 7),
    indicator("[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\Software\\\\Evil']", 8),
    indicator("[file:name = 'runsna.dll']", 9),
)
EVERY_TABLE_LINE = (
    "2026-12-06T09:14:02Z GET http://c2.evil.example/gate.php from 198.51.100.9 to 203.0.113.9:8060 "
    "[2001:db8:aa::5] cmd certutil.exe -decode x HKLM\\Software\\Evil runsna.dll 0123456789ABCDEF0123456789ABCDEF"
)


@pytest.mark.parametrize("engine", ["hyperscan", "aho-corasick", "tokens"])
@pytest.mark.parametrize("at_event_time", [False, True], ids=["validity at load", "at event time"])
def test_every_table_of_every_engine_comes_back_as_it_was_saved(
    tmp_path: Path, engine: str, at_event_time: bool
) -> None:
    loaded_set = iocmatch.load(EVERY_TABLE, at_event_time=at_event_time)
    assert loaded_set.report.compiled == 9, loaded_set.report.problems
    fresh = iocmatch.compile(loaded_set, engine=engine)
    path = tmp_path / "every.matcher"
    iocmatch.save_matcher(fresh, path)
    loaded = iocmatch.load_matcher(path)
    before, after = fresh.__getstate__().__getstate__(), loaded.__getstate__().__getstate__()
    for name in ("_picker", "_ipv4", "_ipv6", "_clock", "_direct"):  # objects without equality, compared below
        before.pop(name), after.pop(name)
    # A loaded table is read a row at a time (a Column): each row, read now, is the saved one.
    assert {name: _rows(table) for name, table in after.items()} == before
    hits = [(hit.kind, hit.value, hit.indicators) for hit in fresh.scan_line(EVERY_TABLE_LINE)]
    assert len(hits) == 10  # the domain hits too, as the URL's parent domain
    assert [(hit.kind, hit.value, hit.indicators) for hit in loaded.scan_line(EVERY_TABLE_LINE)] == hits
    assert loaded.engine == fresh.engine
    assert loaded.origin == fresh.origin


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
        index = offsets(data)[field] + at if at >= 0 else len(data) + at
        return data[:index] + bytes([data[index] ^ 0x20]) + data[index + 1 :]

    return change


def _count_off_by(data: bytes, change: int) -> bytes:
    (count,) = struct.unpack(">I", data[12:16])
    return data[:12] + struct.pack(">I", count + change) + data[16:]


CHANGES: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "a section's first byte": (flip("first section"), "damaged: section '[a-z_]+' does not match its SHA-256"),
    "the last byte": (flip("first section", -1), "damaged: section '[a-z_]+' does not match its SHA-256"),
    "key id": (flip("key id", 2), "made with another key or changed"),
    "tag": (flip("tag", 5), "made with another key or changed"),
    "a checksum in the table": (flip("table", ENTRY.size - 3), "made with another key or changed"),
    "a section's name": (flip("table", 1), "made with another key or changed"),
    "one section more": (lambda data: _count_off_by(data, 1), "damaged|made with another key or changed"),
    "one section less": (lambda data: _count_off_by(data, -1), "longer than its table says"),
    "magic": (flip("start"), "not a compiled iocmatch matcher"),
    "format version 4": (lambda data: data[:8] + struct.pack(">H", 4) + data[10:], "matcher file format 4;"),
    "truncated sections": (lambda data: data[:-7], "truncated"),
    "truncated header": (lambda data: data[:30], "truncated"),
    "truncated magic": (lambda data: data[:5], "truncated"),
    "bytes appended": (lambda data: data + b"\n", "longer than its table says"),
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
        iocmatch.load_matcher(saved, check_all=True)
    assert str(raised.value).startswith(f"{saved}: ")
    assert main(["scan", "-m", str(saved), str(empty_log)]) == 2
    assert capsys.readouterr().err == f"iocmatch: error: {raised.value}\n"


def test_a_damaged_table_is_found_when_a_scan_first_reads_it(saved: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Loading reads the header and the table of sections: a table is checked
    when first read, and a damaged one raises then, from the scan, never
    giving a wrong hit. ``scan -m`` checks every table before it writes."""
    data = bytearray(saved.read_bytes())
    _, offset, _ = next(entry for entry in entries(bytes(data)) if entry[0] == "atom_values_text")
    data[offset] ^= 0x20
    saved.write_bytes(bytes(data))
    matcher = iocmatch.load_matcher(saved)
    assert list(matcher.scan_line("a line of nothing the feed holds")) == []
    with pytest.raises(iocmatch.MatcherFileError, match="section 'atom_values_text' does not match its SHA-256"):
        list(matcher.scan_line("GET http://a.evil.example/ from 198.51.100.9"))
    log = saved.with_name("one.log")
    log.write_text("GET http://a.evil.example/ from 198.51.100.9\n")
    assert main(["scan", "-m", str(saved), str(log)]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err.count("\n")) == ("", 1)
    assert "section 'atom_values_text' does not match its SHA-256" in captured.err


@pytest.mark.slow
def test_a_pickle_is_never_unpickled(saved: Path, key_file: Path, tmp_path: Path, empty_log: Path) -> None:
    """A file is data: not even a pickle signed with the user's own key, as format 1 held, is unpickled."""
    marker = tmp_path / "unpickled"
    evil = pickle.dumps(Marker(marker), protocol=5)
    bare, old, inside = tmp_path / "bare.matcher", tmp_path / "format-1.matcher", tmp_path / "inside.matcher"
    bare.write_bytes(evil)
    old.write_bytes(format_one(evil, key_file.read_bytes()))
    # In place of a section of a genuine file, resealed and signed with the user's key.
    data = saved.read_bytes()
    _, offset, length = next(entry for entry in entries(data) if entry[0] == "hyperscan" or entry[2] > len(evil))
    padded = evil + b"\0" * (length - len(evil)) if length >= len(evil) else evil[:length]
    inside.write_bytes(resealed(data[:offset] + padded + data[offset + length :], key_file.read_bytes()))
    for path, message in [
        (bare, "not a compiled iocmatch matcher"),
        (old, "matcher file format 1 \\(an older iocmatch's, which ran code when read\\).*compile it again"),
        (inside, "damaged"),
    ]:
        with pytest.raises(iocmatch.MatcherFileError, match=message):
            iocmatch.load_matcher(path)
        result = run("scan", "-m", str(path), str(empty_log))
        assert result.returncode == 2
        assert b"Traceback" not in result.stderr
    assert not marker.exists()


def test_a_changed_file_is_refused_by_the_command_without_a_traceback(saved: Path, empty_log: Path) -> None:
    saved.write_bytes(flip("tag", 4)(saved.read_bytes()))
    result = run("scan", "-m", str(saved), str(empty_log))
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1
    assert lines[0].startswith(f"iocmatch: error: {saved}: made with another key or changed (its HMAC does not match")


def test_a_signed_file_that_is_no_matcher_is_refused(saved: Path, key_file: Path) -> None:
    """Sections a reader checks and signs, holding no matcher: named as damage, never a crash."""
    data = saved.read_bytes()
    key = key_file.read_bytes()
    meta_name, meta_offset, meta_length = next(entry for entry in entries(data) if entry[0] == "meta")
    for meta, message in [(b"[1, 2]", "its description is no JSON object"), (b"{}", "damaged: KeyError")]:
        changed = data[:meta_offset] + meta.ljust(meta_length) + data[meta_offset + meta_length :]
        saved.write_bytes(resealed(changed, key))
        with pytest.raises(iocmatch.MatcherFileError, match=message):
            iocmatch.load_matcher(saved)
    assert meta_name == "meta"


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


@pytest.mark.parametrize("section", ["key_atoms", "single_values", "atom_kinds", "key_needles_values"])
def test_a_signed_table_naming_rows_that_do_not_exist_is_refused(saved: Path, key_file: Path, section: str) -> None:
    """A defective writer's tables are refused when first read (or all at once when loading with
    ``check_all``): a scan never meets an index outside its table."""
    data = saved.read_bytes()
    _, offset, length = next(entry for entry in entries(data) if entry[0] == section)
    assert length >= 4
    changed = data[:offset] + struct.pack("<i", 2**31 - 1) + data[offset + 4 :]
    saved.write_bytes(resealed(changed, key_file.read_bytes()))
    message = f"damaged: '{section}' names rows its table does not have"
    with pytest.raises(iocmatch.MatcherFileError, match=message):
        iocmatch.load_matcher(saved, check_all=True)
    lazily = iocmatch.load_matcher(saved)
    with pytest.raises(iocmatch.MatcherFileError, match=message):
        list(lazily.scan_line("GET http://a.evil.example/ from 198.51.100.9"))


def _rewritten(path: Path, key: bytes, change: Callable[[dict[str, Any]], None]) -> None:
    """The file written again, signed, with its description changed (the tables kept)."""
    _sections_rewritten(path, key, lambda _parts, meta: change(meta))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(meta: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        place: Any = meta
        for part in parents:
            place = place[int(part)] if isinstance(place, list) else place[part]
        place[int(last) if isinstance(place, list) else last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("needles.0.0", "no-such-rule"), "a needle of rule 'no-such-rule'"),
        (_set("needles.0.3", -1), "at -1"),
        (_set("reference", "now"), "the reference time is str"),
        (_set("weak", [[1, 0, 0]]), "a weak key is int"),
        (_set("attribution", [[1]]), "attribution is int"),
        (_set("origin.compiled_at", "2026-12-06T09:14:02"), "names no time zone"),
        (_set("picker.address_key", 10**6), "an address key without an address sieve"),
    ],
)
def test_a_signed_description_of_the_wrong_types_is_refused(
    saved: Path, key_file: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    """What a defective writer signs is refused when loading, before a scan could meet it."""
    _rewritten(saved, key_file.read_bytes(), change)
    with pytest.raises(iocmatch.MatcherFileError, match=re.escape(message)):
        iocmatch.load_matcher(saved)


def test_bytes_between_sections_are_zeros_or_the_file_is_refused(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    table_end = HEAD.size + len(entries(bytes(data))) * ENTRY.size
    starts = {offset for _, offset, _ in entries(bytes(data))}
    ends = [table_end, *(offset + length for _, offset, length in entries(bytes(data)))]
    # Sections start on 64-byte boundaries: after some end, zeros fill a gap to the next.
    gap = min(end for end in ends if end not in starts and end < len(data))
    data[gap] = 0xAA
    saved.write_bytes(bytes(data))
    with pytest.raises(iocmatch.MatcherFileError, match="bytes between its sections"):
        iocmatch.load_matcher(saved)


@POSIX
def test_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    fifo = tmp_path / "matcher.fifo"
    os.mkfifo(fifo)
    with pytest.raises(iocmatch.MatcherFileError, match="not a regular file"):
        iocmatch.load_matcher(fifo)


def _rows(table: Any) -> Any:
    """A loaded table's rows as the compiled set holds them (a Column reads as a sequence)."""
    from iocmatch._common.lazy import Column

    return tuple(table) if isinstance(table, Column) else table


def _sections_rewritten(path: Path, key: bytes, change: Callable[[dict[str, Any], dict[str, Any]], None]) -> None:
    """The file written again, signed, after ``change(sections, description)``."""
    from iocmatch._matcher.sections import Sections, write_sections

    sections = Sections(path, mapped=False)
    parts: dict[str, Any] = {}
    for name in sections.entries:
        dtype = sections.dtype(name)
        parts[name] = bytes(sections.bytes(name)) if dtype == "bytes" else sections.array(name, dtype).copy()
    meta = json.loads(bytes(parts["meta"]))
    change(parts, meta)
    parts["meta"] = json.dumps(meta).encode()
    write_sections(path, parts, key, sections.key_id)


def _set_address_key(number: int) -> Callable[[dict[str, Any], dict[str, Any]], None]:
    def change(_parts: dict[str, Any], meta: dict[str, Any]) -> None:
        meta["picker"]["address_key"] = number

    return change


def _token_text(parts: dict[str, Any], _meta: dict[str, Any]) -> None:
    parts["token_keys_text"] = "é".encode() + parts["token_keys_text"][2:]  # two bytes for two


def _ipv4_start(parts: dict[str, Any], _meta: dict[str, Any]) -> None:
    parts["ipv4_lo"][-1] = 2**63


def _atom_text(parts: dict[str, Any], _meta: dict[str, Any]) -> None:
    parts["atom_values_text"] = b"\xff" + parts["atom_values_text"][1:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set_address_key(-1), "the address key names no key"),
        (_set_address_key(0), "the address key has needles"),  # key 0 is a domain's: an address would hit it
        (_token_text, "the token keys are not ASCII"),
        (_ipv4_start, "the ipv4 ranges hold no IPv4 address|out of order"),
        (_atom_text, "'atom_values' holds text that is not UTF-8"),
    ],
    ids=["sieve key -1", "sieve key of a domain", "token key not ASCII", "IPv4 start past 2^32", "text not UTF-8"],
)
def test_a_signed_token_matcher_that_does_not_hold_together_is_refused_before_a_hit(
    tmp_path: Path, key_file: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    """What a defective writer could sign into the token engine's tables is refused by
    ``scan -m`` before anything is written, and lazily at the latest when first read."""
    matcher = iocmatch.compile(
        iocmatch.load(
            bundle(
                indicator("[domain-name:value = 'evil.example']", 1),
                indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
            )
        ),
        engine="tokens",
    )
    path = tmp_path / "tokens.matcher"
    iocmatch.save_matcher(matcher, path)
    _sections_rewritten(path, key_file.read_bytes(), change)
    log = tmp_path / "a.log"
    log.write_bytes(b"GET http://evil.example/ from 198.51.100.9\n" * 300)
    assert main(["scan", "-m", str(path), str(log)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.search(message, captured.err), captured.err
    with pytest.raises(iocmatch.MatcherFileError, match=message):
        _scan_lazily(path, log)


def _scan_lazily(path: Path, log: Path) -> None:
    lazily = iocmatch.load_matcher(path)
    lazily.scan_line("GET http://evil.example/ from 198.51.100.9")
    with log.open("rb") as stream:
        list(lazily.hit_lines(stream))


def test_a_range_to_the_last_address_is_saved_and_found(tmp_path: Path) -> None:
    matcher = iocmatch.compile(
        iocmatch.load(
            bundle(
                indicator("[ipv6-addr:value = 'ffff:ffff:ffff:ffff::/64']", 1),
                indicator("[ipv4-addr:value = '255.255.255.0/24']", 2),
            )
        )
    )
    path = tmp_path / "top.matcher"
    iocmatch.save_matcher(matcher, path)
    line = (
        "to ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff and 255.255.255.255, not ffff:ffff:ffff:fffe::1 or 255.255.254.255"
    )
    loaded = iocmatch.load_matcher(path)
    assert [hit.text for hit in loaded.scan_line(line)] == [
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "255.255.255.255",
    ]
    assert loaded.scan_line(line) == matcher.scan_line(line)


def test_a_matcher_checked_whole_is_its_own_copy(saved: Path) -> None:
    """``check_all`` (``scan -m``) reads the file whole: a file cut short in place afterwards
    changes nothing of the matcher loaded (mapped, its pages would be gone: SIGBUS)."""
    line = "GET http://a.evil.example/ from 198.51.100.9"
    checked = iocmatch.load_matcher(saved, check_all=True)
    with saved.open("r+b") as stream:  # in place: the same file, not a new one renamed over it
        stream.truncate(64)
    assert [hit.value for hit in checked.scan_line(line)] == ["evil.example", "198.51.100.0/24"]


def test_a_digest_stands_in_for_the_key(saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A process without the key (a Spark executor) reads a file another process
    checked with it, by its digest; any other file is refused."""
    digest = iocmatch.matcher_digest(saved)
    other = tmp_path / "other.matcher"
    another = iocmatch.compile(iocmatch.load(bundle(indicator("[domain-name:value = 'x.test']", 9))))
    iocmatch.save_matcher(another, other)
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "no such key"))
    with pytest.raises(iocmatch.MatcherFileError, match="no key to check it with"):
        iocmatch.load_matcher(saved)
    loaded = iocmatch.load_matcher(saved, digest=digest)
    assert [hit.value for hit in loaded.scan_line("GET http://a.evil.example/")] == ["evil.example"]
    with pytest.raises(iocmatch.MatcherFileError, match="not the matcher file that was checked"):
        iocmatch.load_matcher(other, digest=digest)
