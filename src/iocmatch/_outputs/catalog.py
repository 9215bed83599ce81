"""What the outputs say about an indicator beyond a match: its name,
publisher, description and a link to read more."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .._common.model import IndicatorSet
from .._feeds.objects import SourceObjects


@dataclass(frozen=True, slots=True)
class IndicatorInfo:
    id: str
    name: str = ""
    provider: str = ""  # who published it, else the source it was read from
    description: str = ""
    reference: str = ""  # a URL to read more


Catalog = dict[str, IndicatorInfo]


def build_catalog(indicators: IndicatorSet, sources: Iterable[SourceObjects]) -> Catalog:
    """One entry per live indicator, from the loaded set and the objects it was read from."""
    raw: dict[str, tuple[dict[str, Any], str]] = {}
    for source in sources:
        for obj in source.objects:
            if isinstance(obj, dict) and obj.get("type") == "indicator" and isinstance(obj.get("id"), str):
                raw.setdefault(obj["id"], (obj, source.label))
    catalog: Catalog = {}
    for indicator in indicators.indicators:
        obj, label = raw.get(indicator.id, ({}, indicator.source))
        description = obj.get("description")
        catalog[indicator.id] = IndicatorInfo(
            id=indicator.id,
            name=indicator.name,
            provider="; ".join(indicator.provenance),
            description=description if isinstance(description, str) else "",
            reference=_reference(obj, label),
        )
    return catalog


def _reference(obj: dict[str, Any], label: str) -> str:
    """The first external reference with a URL; for an indicator read from a
    TAXII collection without one, the object's address in that collection."""
    references = obj.get("external_references")
    for reference in references if isinstance(references, list) else []:
        if isinstance(reference, dict) and isinstance(reference.get("url"), str):
            return str(reference["url"])
    if label.startswith(("http://", "https://")) and "/collections/" in label and "id" in obj:
        return f"{label.rstrip('/')}/objects/{obj['id']}/"
    return ""
