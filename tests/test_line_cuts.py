"""Where a file is cut for workers: never inside a line, and never at all
when it is gzip (a compressed file cut in pieces would be scanned as noise)."""

from __future__ import annotations

import gzip
import itertools
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocmatch._scanning import parallel
from tests.conftest import matcher_for

MATCHER = matcher_for("[domain-name:value = 'evil.example']")


def test_a_gzip_log_given_workers_is_read_whole_not_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    content = b"".join(b"GET evil.example\n" if n % 7 == 0 else b"nothing here\n" for n in range(5000))
    plain, packed = tmp_path / "a.log", tmp_path / "a.log.gz"
    plain.write_bytes(content)
    packed.write_bytes(gzip.compress(content))
    assert parallel.can_split(plain)  # so the gzip file below is refused for being gzip
    assert not parallel.can_split(packed)
    expected = list(MATCHER.scan_file(plain))
    assert len(expected) == 715
    assert list(MATCHER.scan_file(packed, workers=2)) == expected


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=12).map(lambda line: line.replace(b"\n", b"")), max_size=40),
    last_newline=st.booleans(),
    wanted=st.integers(1, 12),
    block=st.integers(1, 8),
)
def test_workers_cut_a_file_only_at_line_starts(
    lines: list[bytes], last_newline: bool, wanted: int, block: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "a.log"
        path.write_bytes(data)
        with mock.patch.object(parallel, "BLOCK_SIZE", block):  # lines longer than a read
            pieces = parallel._pieces(path, wanted)
    assert pieces[0][0] == 0
    assert pieces[-1][1] == len(data)
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(pieces))
    assert all(start < end for start, end in pieces) or not data
    assert all(start == 0 or data[start - 1 : start] == b"\n" for start, _ in pieces)
    assert len(pieces) <= max(1, wanted)
