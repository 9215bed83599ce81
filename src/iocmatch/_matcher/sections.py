"""A file of named, checksummed, aligned sections: the container of a matcher file.

Layout (the header's integers big-endian, as format 1 wrote its version)::

    magic        8 bytes   b"IOCMATCH"
    format       u16       the version of the whole layout (FORMAT_VERSION)
    flags        u16       0
    count        u32       sections in the table
    key id       8 bytes   which key signed it (an HMAC of a constant, not the key)
    tag          32 bytes  HMAC-SHA256(key, every byte above but the tag, then the table)
    table        count entries of 88 bytes:
                   name    32 bytes, ASCII, NUL-padded
                   dtype    8 bytes, a numpy dtype ("<i8", "|u1") or "bytes", NUL-padded
                   offset  u64, from the start of the file, a multiple of 64
                   length  u64, bytes
                   sha256  32 bytes, of the section's bytes
    sections     each at its offset, zeros between them; the last ends the file

The table names every section's SHA-256 and the tag covers the table, so
the tag vouches for every section's bytes, and a section can be checked on
its own (a damaged one is named); the bytes between sections must be zeros.
Sections start on 64-byte boundaries, so an array can be read in place.
Nothing in a file is executed or unpickled: a section is bytes, an array of
a plain numeric dtype, or JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import mmap
import os
import stat
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._common.errors import MatcherFileError

MAGIC = b"IOCMATCH"
FORMAT_VERSION = 3
ALIGNMENT = 64
MAX_SECTIONS = 4096
BYTES = "bytes"

_HEAD = struct.Struct(">8sHHI8s32s")  # magic, format, flags, count, key id, tag
_ENTRY = struct.Struct(">32s8sQQ32s")  # name, dtype, offset, length, sha256
_NAME_SIZE = 32
# Plain numbers only: an object dtype would make numpy build Python objects from the bytes.
_DTYPES = frozenset(
    ("|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f8", BYTES),
)


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    dtype: str
    offset: int
    length: int
    digest: bytes


def write_sections(target: Path, sections: Mapping[str, Any], key: bytes, key_id: bytes) -> None:
    """Write ``sections`` (name -> bytes or a 1-D numpy array of a plain
    dtype) to ``target`` (through a file beside it, renamed over it)."""
    entries, payloads = [], []
    offset = _align(_HEAD.size + _ENTRY.size * len(sections))
    for name, value in sections.items():
        data, dtype = _as_bytes(value)
        entries.append(Entry(name, dtype, offset, len(data), hashlib.sha256(data).digest()))
        payloads.append((offset, data))
        offset = _align(offset + len(data))
    table = b"".join(_pack(entry) for entry in entries)
    signed = _HEAD.pack(MAGIC, FORMAT_VERSION, 0, len(entries), key_id, b"")[:-32] + table
    tag = hmac.new(key, signed, hashlib.sha256).digest()
    head = _HEAD.pack(MAGIC, FORMAT_VERSION, 0, len(entries), key_id, tag)
    temporary = target.with_name(f".{target.name}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temporary, "xb") as stream:
            stream.write(head + table)
            for at, data in payloads:
                stream.write(b"\0" * (at - stream.tell()))
                stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())  # on disk before it takes the name: a crash leaves the old file
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class Sections:
    """The sections of a file, mapped into memory.

    ``key_id`` and ``verify(key)`` say who signed it; ``array(name)`` and
    ``bytes(name)`` check the section's SHA-256 the first time it is asked
    for, before giving it. Raises MatcherFileError (naming ``source``) for
    anything but such a file.

    The file is mapped, not copied in: opening it reads the header and the
    table only, a section's pages are read when it is first used, and every
    process scanning with it (``-j`` workers) shares them. A map shows the
    file as it is: a matcher file must not be rewritten in place while it is
    in use (``save_matcher`` never does: it writes another file and renames
    it over the old one, whose pages stay those of the map).
    """

    def __init__(self, source: Path, *, mapped: bool = True) -> None:
        """``mapped=False`` reads the file whole instead: the bytes checked
        are then the bytes used, whatever happens to the file after."""
        self.source = source
        self._data = _map_regular(source, mapped)
        self._verified: set[str] = set()
        self._read_head()

    def _read_head(self) -> None:
        source, data = self.source, self._data
        size = len(data)
        if size == 0:
            raise MatcherFileError(f"{source}: empty, not a compiled iocmatch matcher")
        start = data[: _HEAD.size]
        if not MAGIC.startswith(start[: len(MAGIC)]):
            raise MatcherFileError(f"{source}: not a compiled iocmatch matcher (it does not start with IOCMATCH)")
        if len(start) < _HEAD.size:
            raise MatcherFileError(f"{source}: truncated: it ends inside its header")
        _, file_format, flags, count, self.key_id, self._tag = _HEAD.unpack_from(data, 0)
        if file_format != FORMAT_VERSION:
            older = " (an older iocmatch's, which ran code when read)" if file_format == 1 else ""
            raise MatcherFileError(
                f"{source}: matcher file format {file_format}{older}; this iocmatch reads format "
                f"{FORMAT_VERSION}: compile it again"
            )
        if flags:
            raise MatcherFileError(f"{source}: damaged: flags {flags:#x} that format {FORMAT_VERSION} does not have")
        if count > MAX_SECTIONS or _HEAD.size + count * _ENTRY.size > size:
            raise MatcherFileError(f"{source}: truncated or damaged: its table of {count} sections does not fit")
        table_end = _HEAD.size + count * _ENTRY.size
        table = data[_HEAD.size : table_end]
        self._signed = data[: _HEAD.size - 32] + table
        self.entries: dict[str, Entry] = {}
        for index in range(count):
            entry = _unpack(table, index, source)
            if entry.offset % ALIGNMENT or entry.offset + entry.length > size or entry.name in self.entries:
                raise MatcherFileError(f"{source}: truncated or damaged: section {entry.name!r} lies outside it")
            self.entries[entry.name] = entry
        end = max((entry.offset + entry.length for entry in self.entries.values()), default=table_end)
        if size > end:
            raise MatcherFileError(f"{source}: longer than its table says: changed or damaged")
        # The bytes between the table and the sections, and between sections, are no one's: they must be zeros,
        # so that the signature, which covers the table and through it every section, covers every byte.
        covered = sorted([(0, table_end), *((e.offset, e.offset + e.length) for e in self.entries.values())])
        reach = 0
        for first, last in covered:
            if first > reach and data[reach:first].count(0) != first - reach:
                raise MatcherFileError(f"{source}: changed or damaged: bytes between its sections")
            reach = max(reach, last)

    def digest(self) -> bytes:
        """SHA-256 of the header and the table (every section's SHA-256 is in it):
        files of one digest hold the same sections, which a reader without the key can check."""
        return hashlib.sha256(self._signed + self._tag).digest()

    def verify(self, key: bytes) -> bool:
        """Whether ``key`` signed the file (the header and its table of checksums)."""
        expected = hmac.new(key, self._signed, hashlib.sha256).digest()
        return hmac.compare_digest(expected, self._tag)

    def dtype(self, name: str) -> str:
        """What a section holds: a numpy dtype, or ``bytes``."""
        return self._entry(name).dtype

    def rows(self, name: str, dtype: str) -> int:
        """The items of ``dtype`` a section holds, known from the table alone (its bytes are not read)."""
        entry = self._entry(name)
        if entry.dtype != dtype:
            raise MatcherFileError(f"{self.source}: damaged: section {name!r} holds {entry.dtype}, not {dtype}")
        size = 1 if dtype == BYTES else np.dtype(dtype).itemsize
        if entry.length % size:
            raise MatcherFileError(f"{self.source}: damaged: section {name!r} is no whole number of items")
        return entry.length // size

    def verify_all(self) -> None:
        """Every section checked against its SHA-256 now, not when first used."""
        for name in self.entries:
            self.bytes(name)

    def bytes(self, name: str) -> memoryview:
        """A section's bytes (a view of the file's), checked against its SHA-256 the first time."""
        entry = self._entry(name)
        view = memoryview(self._data)[entry.offset : entry.offset + entry.length]
        if name not in self._verified:
            if not hmac.compare_digest(hashlib.sha256(view).digest(), entry.digest):
                raise MatcherFileError(f"{self.source}: damaged: section {name!r} does not match its SHA-256")
            self._verified.add(name)
        return view

    def array(self, name: str, dtype: str) -> Any:
        """A section as a read-only 1-D array of ``dtype``."""
        entry = self._entry(name)
        if entry.dtype != dtype:
            raise MatcherFileError(f"{self.source}: damaged: section {name!r} holds {entry.dtype}, not {dtype}")
        view = self.bytes(name)
        if entry.length % np.dtype(dtype).itemsize:
            raise MatcherFileError(f"{self.source}: damaged: section {name!r} is no whole number of items")
        return np.frombuffer(view, dtype=dtype)

    def _entry(self, name: str) -> Entry:
        entry = self.entries.get(name)
        if entry is None:
            raise MatcherFileError(f"{self.source}: damaged: it has no section {name!r}")
        return entry


def _map_regular(source: Path, mapped: bool) -> bytes | mmap.mmap:
    """A regular file mapped read-only (a FIFO or a device is refused, not waited
    on); read whole when not ``mapped`` or where it cannot be (an empty file, some file systems)."""
    try:
        descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise MatcherFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise MatcherFileError(f"{source}: cannot read: not a regular file")
        if mapped:
            try:
                return mmap.mmap(descriptor, 0, access=mmap.ACCESS_READ)
            except (OSError, ValueError):
                pass
        with os.fdopen(descriptor, "rb", closefd=False) as stream:
            return stream.read()
    except OSError as exc:
        raise MatcherFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(descriptor)


def _as_bytes(value: Any) -> tuple[bytes, str]:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value), BYTES
    array = np.ascontiguousarray(value)
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if array.ndim != 1 or dtype.str not in _DTYPES:
        raise ValueError(f"a section holds bytes or a 1-D array of plain numbers, not {array.dtype} {array.shape}")
    return array.astype(dtype, copy=False).tobytes(), dtype.str


def _align(offset: int) -> int:
    return -(-offset // ALIGNMENT) * ALIGNMENT


def _pack(entry: Entry) -> bytes:
    name, dtype = entry.name.encode("ascii"), entry.dtype.encode("ascii")
    if not 0 < len(name) <= _NAME_SIZE:
        raise ValueError(f"a section name is 1 to {_NAME_SIZE} ASCII characters, not {entry.name!r}")
    return _ENTRY.pack(name, dtype, entry.offset, entry.length, entry.digest)


def _unpack(table: bytes, index: int, source: Path) -> Entry:
    name, dtype, offset, length, digest = _ENTRY.unpack_from(table, index * _ENTRY.size)
    try:
        entry = Entry(name.rstrip(b"\0").decode("ascii"), dtype.rstrip(b"\0").decode("ascii"), offset, length, digest)
    except UnicodeDecodeError:
        raise MatcherFileError(f"{source}: damaged: section {index} has no ASCII name") from None
    if entry.dtype not in _DTYPES or not entry.name:
        raise MatcherFileError(f"{source}: damaged: section {entry.name!r} holds {entry.dtype!r}")
    return entry
