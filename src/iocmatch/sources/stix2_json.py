"""Read STIX 2.x JSON in the forms a caller has it, into plain object dicts."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SourceError


@dataclass(frozen=True, slots=True)
class SourceObjects:
    """The objects of one source, as read: entries may be malformed."""

    label: str
    objects: list[Any]
    spec_version: str = ""  # the bundle's, for STIX 2.0 objects that carry none


def read_source(source: Any) -> list[SourceObjects]:
    """A path (file or directory), JSON text, a dict, a list, or stix2 objects."""
    if isinstance(source, (str, os.PathLike)) and not _looks_like_json(source):
        return _read_path(Path(source))
    if isinstance(source, (str, bytes)):
        return [_from_json(source, "<json text>")]
    if _is_stix2_object(source):
        return [_from_document(_stix2_to_dict(source), "<stix2 object>")]
    if isinstance(source, Mapping):
        return [_from_document(dict(source), "<dict>")]
    if isinstance(source, (list, tuple)):
        objects = [_stix2_to_dict(item) if _is_stix2_object(item) else item for item in source]
        return [SourceObjects("<list>", objects)]
    raise SourceError(f"cannot read indicators from a {type(source).__name__}")


def _looks_like_json(source: str | os.PathLike[str]) -> bool:
    return isinstance(source, str) and source.lstrip()[:1] in ("{", "[")


def _read_path(path: Path) -> list[SourceObjects]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise SourceError(f"{path}: directory holds no .json file")
        return [_read_file(file) for file in files]
    return [_read_file(path)]


def _read_file(path: Path) -> SourceObjects:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _from_json(data, str(path))


def _from_json(text: str | bytes, label: str) -> SourceObjects:
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{label}: not valid JSON: {exc}") from None
    return _from_document(document, label)


def _from_document(document: Any, label: str) -> SourceObjects:
    if isinstance(document, list):
        return SourceObjects(label, document)
    if not isinstance(document, dict):
        raise SourceError(f"{label}: not a STIX bundle or object (a JSON {type(document).__name__})")
    if document.get("type") == "bundle":
        objects = document.get("objects", [])
        if not isinstance(objects, list):
            raise SourceError(f"{label}: bundle 'objects' is not a list")
        return SourceObjects(label, objects, str(document.get("spec_version", "")))
    if "type" not in document:
        raise SourceError(f"{label}: not a STIX bundle or object (no 'type')")
    return SourceObjects(label, [document])


def _is_stix2_object(item: Any) -> bool:
    return hasattr(item, "serialize") and hasattr(item, "_properties")


def _stix2_to_dict(item: Any) -> dict[str, Any]:
    converted: dict[str, Any] = json.loads(item.serialize())
    return converted
