"""Compiled matcher files: compile a feed once, load the Matcher again later.

A file is data only (``sections.py`` says its layout, ``columns.py`` what
each section holds): loading it reads arrays, strings and JSON, and never
unpickles or runs anything, so its bytes cannot run code whoever wrote
them. It is still signed: a forged matcher runs nothing, but it can hide a
hit. The tag is an HMAC-SHA256 with this user's key, 32 random bytes in
``$IOCMATCH_KEY_FILE`` or ``$XDG_CONFIG_HOME/iocmatch/matcher.key``
(``~/.config/...``), made with mode 0600 on the first save, and the file is
refused unless the tag checks against it. Each section's SHA-256 is
checked before it is read: damage is named as damage.

A file says its format version; nothing else about the build that wrote it
matters, so editing iocmatch does not make saved files unreadable. A file
of an older format (format 1 held a pickle) is refused with the advice to
compile again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from .._common.bulk import collector_paused
from .._common.errors import MatcherFileError
from .columns import from_sections, to_sections
from .matcher import Matcher
from .sections import Sections, write_sections

KEY_ENV = "IOCMATCH_KEY_FILE"
KEY_SIZE = 32

# Other users must not be able to read the key (they could forge files that
# hide hits) nor change it; a group may share one for shared matchers.
_SHARED_MODE = stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP


def save_matcher(matcher: Matcher, path: str | os.PathLike[str]) -> None:
    """Write ``matcher`` to ``path``, signed with this user's key (made if missing).

    Raises MatcherFileError naming the file when it cannot be written.
    """
    if not isinstance(matcher, Matcher):
        raise TypeError(f"save_matcher takes a Matcher, not {type(matcher).__name__}")
    target = Path(path)
    key = _key_for_saving()
    sections = to_sections(matcher)
    try:
        write_sections(target, sections, key, _key_id(key))
    except OSError as exc:
        raise MatcherFileError(f"{target}: cannot write: {exc.strerror or exc}") from None


def load_matcher(path: str | os.PathLike[str], *, check_all: bool = False, digest: bytes | None = None) -> Matcher:
    """Read a matcher written by ``save_matcher`` with this user's key.

    Raises MatcherFileError naming the file when it is not such a file, was
    changed, truncated or damaged, is of another format, or the key is
    missing or another.

    The file is mapped, and only its header and table of sections are read
    now: each table is read, and checked (its SHA-256, its numbers), when a
    scan first needs it, so a damaged table raises MatcherFileError then,
    from the scan. A mapped file must not be rewritten in place while the
    matcher is used (``save_matcher`` never does).

    ``check_all`` reads the file whole and checks every table now instead
    (``scan -m`` does): a damaged file is refused before anything is
    written, and what happens to the file afterwards changes nothing.

    ``digest`` (``matcher_digest`` of a file checked with the key) stands in
    for the key: the file must have that digest. This is how a process
    without the key (a Spark executor) reads a file another process checked.
    """
    source = Path(path)
    sections = Sections(source, mapped=not check_all)
    if digest is None:
        _authenticate(source, sections)
    elif not hmac.compare_digest(sections.digest(), digest):
        raise MatcherFileError(f"{source}: not the matcher file that was checked (another header or table)")
    with collector_paused():
        return from_sections(sections, check_all=check_all)


def matcher_digest(path: str | os.PathLike[str]) -> bytes:
    """The digest of a matcher file checked with this user's key (its header
    and its table of sections), for ``load_matcher(..., digest=)``."""
    source = Path(path)
    sections = Sections(source)
    _authenticate(source, sections)
    return sections.digest()


def key_path() -> Path:
    """Where the key is: ``$IOCMATCH_KEY_FILE``, else the XDG config folder."""
    configured = os.environ.get(KEY_ENV)
    if configured:
        return Path(configured).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec says to ignore a relative XDG_CONFIG_HOME.
    base = Path(config) if os.path.isabs(config) else Path.home() / ".config"
    return base / "iocmatch" / "matcher.key"


def _authenticate(source: Path, sections: Sections) -> None:
    where = key_path()
    key = _read_key(where)
    if key is None:
        raise MatcherFileError(
            f"{source}: no key to check it with: {where} does not exist (a matcher is checked with the key "
            f"it was compiled with: copy that key here or set {KEY_ENV})"
        )
    mine = _key_id(key)
    if not hmac.compare_digest(sections.key_id, mine):
        raise MatcherFileError(
            f"{source}: made with another key or changed (it names key {sections.key_id.hex()}; "
            f"{where} is key {mine.hex()})"
        )
    if not sections.verify(key):
        raise MatcherFileError(f"{source}: made with another key or changed (its HMAC does not match {where})")


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
