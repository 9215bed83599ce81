"""Read STIX 2.x JSON in the forms a caller has it, into plain object dicts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .._common.errors import SourceError
from .json_elements import objects_one_by_one
from .misp import looks_like_misp_event, read_misp_event
from .objects import SourceObjects


def read_objects(source: Any) -> SourceObjects:
    """JSON text, a dict (a bundle or one object), a list of objects, or stix2 objects."""
    if isinstance(source, (str, bytes)):
        return read_json(source, "<json text>")
    if _is_stix2_object(source):
        return _from_document(_stix2_to_dict(source), "<stix2 object>")
    if isinstance(source, Mapping):
        return _from_document(dict(source), "<dict>")
    if isinstance(source, (list, tuple)):
        if looks_like_misp_event(list(source)):
            return read_misp_event(list(source), "<list>")
        objects: list[Any] = []
        for item in source:
            entry = _stix2_to_dict(item) if _is_stix2_object(item) else item
            # A bundle in the list gives its objects, not itself.
            is_bundle = isinstance(entry, dict) and entry.get("type") == "bundle"
            objects.extend(_from_document(entry, "<list>").objects if is_bundle else [entry])
        return SourceObjects("<list>", objects)
    raise SourceError(f"cannot read indicators from a {type(source).__name__}")


def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def read_json(text: str | bytes, label: str) -> SourceObjects:
    try:
        document = json.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise SourceError(f"{label}: not valid JSON: {exc}") from None
    except RecursionError:
        # One object nested too deeply spoils the document: read it object by object.
        text_form = text.decode("utf-8-sig", "replace") if isinstance(text, bytes) else text
        read = objects_one_by_one(text_form, label)
        if read is None:
            raise SourceError(f"{label}: JSON nested too deeply to read") from None
        objects, problems = read
        return SourceObjects(label, objects, problems=tuple(problems))
    return _from_document(document, label)


def _from_document(document: Any, label: str) -> SourceObjects:
    if looks_like_misp_event(document):  # MISP's own JSON: an event, an API response, a list of events
        return read_misp_event(document, label)
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
