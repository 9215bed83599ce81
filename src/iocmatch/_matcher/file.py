"""Compiled matcher files: compile a feed once, load the Matcher again later.

Layout (integers big-endian)::

    magic      8 bytes   b"IOCMATCH"
    format     u16       FORMAT_VERSION
    build      u8 size, then that many ASCII bytes: what wrote the file
                         (iocmatch version and source digest, pyahocorasick,
                         Python, machine)
    key id     8 bytes   which key signed it (an HMAC of a constant, not the key)
    length     u64       payload size
    tag        32 bytes  HMAC-SHA256(key, every byte above, then the payload)
    payload    the Matcher, pickle protocol 5, uncompressed (loads fastest)

Unpickling runs whatever code the bytes name, so the payload is unpickled only
after the tag proves that the holder of this user's key wrote it. A plain
checksum would not do: whoever crafts a file can recompute it. The key is 32
random bytes in ``$IOCMATCH_KEY_FILE`` or ``$XDG_CONFIG_HOME/iocmatch/matcher.key``
(``~/.config/...``), made with mode 0600 on the first save.

The payload holds internal state (the automaton's node array in C layout), so
a file is also refused when another build wrote it: compiling again is cheap,
misreading a foreign layout is not.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import os
import pickle
import platform
import secrets
import stat
import struct
import sys
from functools import cache
from pathlib import Path
from typing import IO, Any, NamedTuple

from .._common.bulk import collector_paused
from .._common.errors import MatcherFileError
from .matcher import Matcher

MAGIC = b"IOCMATCH"
FORMAT_VERSION = 1
KEY_ENV = "IOCMATCH_KEY_FILE"
KEY_SIZE = 32

_FORMAT = struct.Struct(">8sH")  # magic, format version
_SIGNED_TAIL = struct.Struct(">8sQ")  # key id, payload length
_TAG_SIZE = hashlib.sha256().digest_size
_CHUNK = 1 << 24
# Other users must not be able to read the key (they could forge files that run
# code when loaded) nor change it; a group may share one for shared matchers.
_SHARED_MODE = stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP


def save_matcher(matcher: Matcher, path: str | os.PathLike[str]) -> None:
    """Write ``matcher`` to ``path``, signed with this user's key (made if missing).

    Raises MatcherFileError naming the file when it cannot be written.
    """
    if not isinstance(matcher, Matcher):
        raise TypeError(f"save_matcher takes a Matcher, not {type(matcher).__name__}")
    target = Path(path)
    key = _key_for_saving()
    payload = _dumps(matcher)
    signed = _header(_key_id(key), len(payload))
    tag = hmac.new(key, signed, hashlib.sha256)
    tag.update(payload)
    try:
        _write_whole(target, (signed, tag.digest(), payload))
    except OSError as exc:
        raise MatcherFileError(f"{target}: cannot write: {exc.strerror or exc}") from None


def load_matcher(path: str | os.PathLike[str]) -> Matcher:
    """Read a matcher written by ``save_matcher`` with this user's key.

    Raises MatcherFileError naming the file when it is not such a file, was
    changed or truncated, was written by another build, or the key is missing.
    Nothing is unpickled before the integrity check passes.
    """
    source = Path(path)
    try:
        with open(source, "rb") as stream:
            parts = _read_parts(stream, source)
    except OSError as exc:
        raise MatcherFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    _authenticate(source, parts)
    _check_build(source, parts.build)
    return _loads(source, parts.payload)


def key_path() -> Path:
    """Where the key is: ``$IOCMATCH_KEY_FILE``, else the XDG config folder."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says to ignore a relative XDG_CONFIG_HOME.
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "iocmatch" / "matcher.key"


# -- writing ------------------------------------------------------------------


def _header(key_id: bytes, length: int) -> bytes:
    build = build_string().encode("ascii")
    return _FORMAT.pack(MAGIC, FORMAT_VERSION) + bytes([len(build)]) + build + _SIGNED_TAIL.pack(key_id, length)


def _write_whole(target: Path, chunks: tuple[bytes, ...]) -> None:
    # Written beside the target and renamed over it, so a reader never sees
    # half a file and a failed write leaves the old one.
    temporary = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as stream:
            for chunk in chunks:
                stream.write(chunk)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class _Pickler(pickle.Pickler):
    """Pickles our frozen slotted dataclasses (Atom, Needle) for a fast load.

    Their default pickling restores each object through dataclasses'
    ``__setstate__``, which looks the fields up again for every object: most
    of the load time of a large matcher. ``_rebuild`` sets the same fields
    with the names looked up once (a shared tuple in the pickle).
    """

    def reducer_override(self, obj: object) -> Any:
        names = _dataclass_fields(type(obj))
        if names is None:
            return NotImplemented
        return _rebuild, (type(obj), names, tuple(getattr(obj, name) for name in names))


def _dataclass_fields(cls: type) -> tuple[str, ...] | None:
    """The field names of a dataclass of ours pickled by dataclasses' own state
    functions (frozen, with slots), else None."""
    if cls not in _FIELDS:
        getstate = getattr(cls, "__getstate__", None)
        ours = cls.__module__.startswith("iocmatch.") and getattr(getstate, "__module__", None) == "dataclasses"
        _FIELDS[cls] = tuple(field.name for field in dataclasses.fields(cls)) if ours else None
    return _FIELDS[cls]


_FIELDS: dict[type, tuple[str, ...] | None] = {}


_new = object.__new__
_set = object.__setattr__


def _rebuild(cls: type, names: tuple[str, ...], values: tuple[object, ...]) -> object:
    # What dataclasses' __setstate__ does, without its per-object lookups.
    obj: object = _new(cls)
    for name, value in zip(names, values, strict=True):
        _set(obj, name, value)
    return obj


def _dumps(matcher: Matcher) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=5).dump(matcher)
    return buffer.getvalue()


# -- reading ------------------------------------------------------------------


class _Parts(NamedTuple):
    signed: bytes  # the header before the tag
    build: bytes
    key_id: bytes
    tag: bytes
    payload: bytearray


def _read_parts(stream: IO[bytes], source: Path) -> _Parts:
    """The parts of a file, its shape checked (nothing is trusted yet)."""
    start = stream.read(_FORMAT.size)
    _check_start(source, start)
    _, file_format = _FORMAT.unpack(start)
    if file_format != FORMAT_VERSION:
        raise MatcherFileError(
            f"{source}: matcher file format {file_format}, this iocmatch reads format {FORMAT_VERSION}: "
            "compile it again"
        )
    build_size = _read_exactly(stream, 1, source)[0]
    build = _read_exactly(stream, build_size, source)
    tail = _read_exactly(stream, _SIGNED_TAIL.size, source)
    key_id, length = _SIGNED_TAIL.unpack(tail)
    tag = _read_exactly(stream, _TAG_SIZE, source)
    payload = _read_payload(stream, length)
    if len(payload) < length:
        raise MatcherFileError(f"{source}: truncated: {len(payload)} of the {length} payload bytes its header gives")
    if stream.read(1):
        raise MatcherFileError(f"{source}: longer than its header says: changed or damaged")
    return _Parts(start + bytes([build_size]) + build + tail, build, key_id, tag, payload)


def _check_start(source: Path, start: bytes) -> None:
    if not start:
        raise MatcherFileError(f"{source}: empty, not a compiled iocmatch matcher")
    if not start.startswith(MAGIC[: len(start)]):
        raise MatcherFileError(f"{source}: not a compiled iocmatch matcher (it does not start with {MAGIC.decode()})")
    if len(start) < _FORMAT.size:
        raise MatcherFileError(f"{source}: truncated: it ends inside its header")


def _read_exactly(stream: IO[bytes], count: int, source: Path) -> bytes:
    data = stream.read(count)
    if len(data) < count:
        raise MatcherFileError(f"{source}: truncated: it ends inside its header")
    return data


def _read_payload(stream: IO[bytes], length: int) -> bytearray:
    # In bounded pieces, so a damaged length field cannot make us allocate it,
    # into one growing buffer, so a large payload is not held twice.
    payload = bytearray()
    while len(payload) < length:
        chunk = stream.read(min(length - len(payload), _CHUNK))
        if not chunk:
            break
        payload += chunk
    return payload


def _authenticate(source: Path, parts: _Parts) -> None:
    where = key_path()
    key = _read_key(where)
    if key is None:
        raise MatcherFileError(
            f"{source}: no key to check it with: {where} does not exist (a matcher is checked with the key "
            f"it was compiled with: copy that key here or set {KEY_ENV})"
        )
    mine = _key_id(key)
    if not hmac.compare_digest(parts.key_id, mine):
        raise MatcherFileError(
            f"{source}: made with another key or changed (it names key {parts.key_id.hex()}; "
            f"{where} is key {mine.hex()})"
        )
    expected = hmac.new(key, parts.signed, hashlib.sha256)
    expected.update(parts.payload)
    if not hmac.compare_digest(expected.digest(), parts.tag):
        raise MatcherFileError(f"{source}: made with another key or changed (its HMAC does not match {where})")


def _check_build(source: Path, build: bytes) -> None:
    written = build.decode("ascii", "replace")
    current = build_string()
    if written != current:
        theirs, ours = written.split("; "), current.split("; ")
        differing = [(t, o) for t, o in zip(theirs, ours, strict=False) if t != o] or [(written, current)]
        shown = ", ".join(f"{t} (this is {o})" for t, o in differing)
        raise MatcherFileError(f"{source}: compiled by {shown}: compile it again")


def _loads(source: Path, payload: bytearray) -> Matcher:
    try:
        matcher = _unpickle(payload)
    # Signed by us, so only another layout of the same classes can fail here,
    # and it may fail in any way.
    except Exception as exc:  # noqa: BLE001
        raise MatcherFileError(f"{source}: cannot be loaded ({type(exc).__name__}: {exc}): compile it again") from None
    if not isinstance(matcher, Matcher):
        raise MatcherFileError(f"{source}: holds a {type(matcher).__name__}, not a Matcher")
    return matcher


def _unpickle(payload: bytearray) -> object:
    with collector_paused():
        return pickle.loads(payload)  # noqa: S301 - only a payload whose HMAC tag checked against our key


# -- the key and the build ----------------------------------------------------


def _key_id(key: bytes) -> bytes:
    """Names a key in a file without revealing it."""
    return hmac.new(key, b"iocmatch matcher key id", hashlib.sha256).digest()[:8]


def _key_for_saving() -> bytes:
    where = key_path()
    key = _read_key(where)
    if key is None:
        try:
            key = _create_key(where)
        except OSError as exc:
            raise MatcherFileError(f"{where}: cannot create the matcher key: {exc.strerror or exc}") from None
    return key


def _read_key(where: Path) -> bytes | None:
    """The key, or None when there is none yet."""
    try:
        with open(where, "rb") as stream:
            mode = os.fstat(stream.fileno()).st_mode
            key = stream.read(KEY_SIZE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise MatcherFileError(f"{where}: cannot read the matcher key: {exc.strerror or exc}") from None
    if os.name == "posix" and mode & _SHARED_MODE:
        raise MatcherFileError(
            f"{where}: other users can read or change this matcher key (mode {stat.S_IMODE(mode):o}) "
            f"and so forge matcher files: chmod 600 {where}"
        )
    if len(key) != KEY_SIZE:
        raise MatcherFileError(f"{where}: not a matcher key (a key is {KEY_SIZE} bytes)")
    return key


def _create_key(where: Path) -> bytes:
    where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = secrets.token_bytes(KEY_SIZE)
    try:
        # O_EXCL: two first saves at once must not each make a key.
        descriptor = os.open(where, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        existing = _read_key(where)
        if existing is None:
            raise
        return existing
    try:
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(key)
    except BaseException:
        where.unlink(missing_ok=True)
        raise
    return key


@cache
def build_string() -> str:
    """What wrote a file, as far as the pickled state depends on it (ASCII, at most 255 bytes)."""
    parts = (
        f"iocmatch {_version('iocmatch')}+{_source_digest()}",
        f"pyahocorasick {_version('pyahocorasick')}",
        f"{platform.python_implementation()} {sys.version_info[0]}.{sys.version_info[1]}",
        f"{platform.machine()} {struct.calcsize('P') * 8}-bit {sys.byteorder}-endian",
    )
    return "; ".join(parts).encode("ascii", "replace")[:255].decode("ascii")


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version  # slow to import; only when a file is used

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def _source_digest() -> str:
    """A digest of iocmatch's own code: the version alone does not change while
    the code is edited, and a changed class may read an old pickle wrongly."""
    package = Path(__file__).parent
    digest = hashlib.sha256()
    for file in sorted(package.rglob("*.py")):
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
