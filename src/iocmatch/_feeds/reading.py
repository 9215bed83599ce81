"""Read any source of indicators: a path (file or folder) or an object in memory.

Files are told apart by content, not by name: STIX 2 JSON, MISP JSON, STIX 1
XML, OpenIOC XML, an abuse.ch CSV export, a MISP attribute CSV, a ``Type,Value``
CSV, or a one-value-per-line text list. A folder holding a MISP feed's
``manifest.json`` is read as that feed, wherever it is in the tree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._common.bulk import collector_paused
from .._common.errors import SourceError
from .abusech import read_abusech
from .detect import detect_format
from .lists import read_csv, read_text_list
from .misp import feed_own_files, is_misp_feed, read_misp_csv, read_misp_feed
from .objects import SourceObjects
from .openioc import read_openioc
from .stix1_xml import read_stix1
from .stix2_json import looks_like_json, read_json, read_objects
from .taxii import TaxiiSource, is_taxii_url

READERS: dict[str, Callable[[bytes, str], SourceObjects]] = {
    "stix2-json": read_json,
    "stix1-xml": read_stix1,
    "openioc": read_openioc,
    "abusech": read_abusech,  # Feodo Tracker, URLhaus, ThreatFox, MalwareBazaar: CSV and JSON
    "misp-csv": read_misp_csv,
    "csv": read_csv,
    "text": read_text_list,
}
# In a folder, only files with these endings are read (a README is not a feed).
FOLDER_SUFFIXES = {".json", ".xml", ".ioc", ".csv", ".txt", ".md5", ".sha1", ".sha256"}


def read_source(source: Any) -> list[SourceObjects]:
    """A path (file or folder), a TAXII 2.1 URL or TaxiiSource, JSON text, a
    dict, a list, stix2 objects, or objects already read (SourceObjects)."""
    # A feed decodes into millions of objects that live until it is loaded: the
    # cyclic collector would walk them again and again for nothing.
    with collector_paused():
        return _read_source(source)


def _read_source(source: Any) -> list[SourceObjects]:
    if isinstance(source, SourceObjects):
        return [source]
    if isinstance(source, str) and is_taxii_url(source):
        source = TaxiiSource(source)
    if isinstance(source, TaxiiSource):
        # requests and taxii2client take a noticeable part of a second to import.
        from .taxii_client import read_taxii

        return read_taxii(source)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not looks_like_json(source)):
        return _read_path(Path(source))
    return [read_objects(source)]


def _read_path(path: Path) -> list[SourceObjects]:
    if path.is_dir():
        files = _feed_files(path)
        if not files:
            raise SourceError(f"{path}: folder holds no indicator file ({', '.join(sorted(FOLDER_SUFFIXES))})")
        read: list[SourceObjects] = []
        for file in files:
            read += read_misp_feed(file) if file.is_dir() else [read_file(file)]
        return read
    return [read_file(path)]


def _feed_files(folder: Path) -> list[Path]:
    """The feed files under ``folder``, and the MISP feed folders (read as one
    feed: their manifest and hash list are no feeds of their own; other files
    and subfolders in them are), sorted. A
    subfolder that cannot be listed, or a feed file that is a broken link, is
    an error naming it: a feed left out unseen would read as a feed with
    nothing in it."""

    def refuse(error: OSError) -> None:
        raise SourceError(f"{error.filename}: cannot read: {error.strerror or error}") from None

    files = []
    walked = set()
    # Linked subfolders are walked too (a feed linked in is a feed); each real folder once, so a loop ends.
    for root, folders, names in os.walk(folder, onerror=refuse, followlinks=True):
        real = os.path.realpath(root)
        if real in walked:
            folders.clear()
            continue
        walked.add(real)
        own: set[str] = set()
        if is_misp_feed(Path(root)):
            files.append(Path(root))
            own = feed_own_files(Path(root))  # the rest of the folder, and its subfolders, are read as ever
        for name in names:
            if name in own:
                continue
            candidate = Path(root, name)
            if candidate.suffix.lower() not in FOLDER_SUFFIXES:
                continue
            if not candidate.is_file():
                raise SourceError(f"{candidate}: cannot read: a link to nothing, or not a file")
            files.append(candidate)
    return sorted(files)


def read_file(path: Path) -> SourceObjects:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return read_bytes(data, str(path))


def read_bytes(data: bytes, label: str) -> SourceObjects:
    """The objects of a file's content, its format told by the content;
    SourceError naming ``label`` when it cannot be read at all."""
    read = READERS[detect_format(data, label)](data, label)
    return dataclasses.replace(read, digest=hashlib.sha256(data).hexdigest())
