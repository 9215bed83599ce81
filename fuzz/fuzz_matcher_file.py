"""Fuzz the matcher file reader: any bytes as a matcher file.

    .venv/bin/python fuzz/fuzz_matcher_file.py -max_total_time=600 .fuzz/matcher fuzz/seeds/matcher

Each input is tried twice: as it is, and resealed (every section's SHA-256
in the table made again and the file signed with the fuzzing key), so the
reader's checks of the sections' contents are reached too. Loaded with
every table checked: MatcherFileError, or a Matcher that scans lines
without raising. Loaded with each table checked when first read: the same,
or MatcherFileError from the scan. Anything else is a crash.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import struct
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from iocmatch._common.errors import MatcherFileError
    from iocmatch._matcher.file import load_matcher
    from iocmatch._matcher.matcher import Matcher

_HEAD = struct.Struct(">8sHHI8s32s")
_ENTRY = struct.Struct(">32s8sQQ32s")
_FOLDER = Path(tempfile.mkdtemp(prefix="iocmatch-fuzz-"))
_KEY_FILE = _FOLDER / "matcher.key"
_KEY = b"k" * 32
_KEY_FILE.write_bytes(_KEY)
_KEY_FILE.chmod(0o600)
os.environ["IOCMATCH_KEY_FILE"] = str(_KEY_FILE)
_PATH = _FOLDER / "input.matcher"


def resealed(data: bytes) -> bytes:
    """``data`` with its table's checksums and its tag made again (as far as its header is whole)."""
    if len(data) < _HEAD.size:
        return data
    count = min(_HEAD.unpack_from(data)[3], (len(data) - _HEAD.size) // _ENTRY.size)
    table = bytearray(data[_HEAD.size : _HEAD.size + count * _ENTRY.size])
    for index in range(count):
        _, _, offset, length, _ = _ENTRY.unpack_from(table, index * _ENTRY.size)
        at = index * _ENTRY.size + _ENTRY.size - 32
        table[at : at + 32] = hashlib.sha256(data[offset : offset + length]).digest()
    key_id = hmac.new(_KEY, b"iocmatch matcher key id", hashlib.sha256).digest()[:8]
    head = data[:16] + key_id
    tag = hmac.new(_KEY, head + bytes(table), hashlib.sha256).digest()
    return head + tag + bytes(table) + data[_HEAD.size + len(table) :]


_LINE = b"2026-12-06T09:14:02Z GET http://c2.evil.example/a 198.51.100.9 203.0.113.9:8060 evil.example\n"


def test_one_input(data: bytes) -> None:
    for candidate in (data, resealed(data)):
        _PATH.unlink(missing_ok=True)  # another file: the one a matcher may still map is never rewritten
        _PATH.write_bytes(candidate)
        try:
            matcher = load_matcher(_PATH, check_all=True)
        except MatcherFileError:
            pass
        else:
            # Every table checked: it scans any line without raising, by line and by block.
            _scans(matcher)
        # Each table checked when first read: it scans, or the scan raises MatcherFileError.
        try:
            _scans(load_matcher(_PATH))
        except MatcherFileError:
            continue


def _scans(matcher: Matcher) -> None:
    matcher.scan_line(_LINE)
    list(matcher.hit_lines(io.BytesIO(_LINE * 200)))


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
