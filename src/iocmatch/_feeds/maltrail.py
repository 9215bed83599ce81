"""Maltrail trail files: the family a file names, its aliases and the
references above each value, as STIX objects the loader reads attribution from.

A trail file is a text list (``lists.py`` reads its values); what is said
here is the context around them. Maltrail files its trails by category
(``trails/static/malware``, ``malicious``, ``suspicious``). A file of the
suspicious category (``crypto_mining.txt``, ``dynamic_domain.txt``, ``pua.txt``)
says what kind of traffic its values are, not whose: its name becomes a
label and the description of its indicators (``anomalous-activity``), never
a malware family, unless the file names aliases (``# Aliases:``), which only
a family has. A file in any other folder names its family, as maltrail's
malware trails do (most trail files, copied anywhere, are those).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Any

from .rows import repaired
from .stix2_build import EPOCH, identity, stable_id

MALTRAIL = "Maltrail"
_MALTRAIL_COPYRIGHT = re.compile(r"#\s*Copyright\b.*\bMaltrail developers\b", re.IGNORECASE)
_ALIASES = re.compile(r"#\s*Aliases\s*:(?P<names>.*)", re.IGNORECASE)
# Maltrail's suspicious category: its folder, or a copy's folder named for it (``maltrail-suspicious``).
_SUSPICIOUS = re.compile(r"(?:\A|[-_ .])suspicious\Z", re.IGNORECASE)
# `Referecne` is a typo maltrail's own files make (connectwise.txt).
REFERENCE = re.compile(r"#\s*(?:Reference|Referecne)\s*:(?P<text>.*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Trail:
    """A maltrail trail file's header: the family (the file's name as maltrail
    writes it, ``apt_menupass.txt`` -> ``apt menupass``), its aliases, and every
    reference in the file."""

    family: str  # for a suspicious trail, what its values are (``crypto mining``)
    aliases: tuple[str, ...]
    references: tuple[dict[str, str], ...]
    suspicious: bool = False  # of maltrail's suspicious category: names no family


def trail_header(lines: list[str], base: str, folder: str = "") -> Trail | None:
    """The header of a maltrail trail file named ``base`` in ``folder`` (its name); None for any other list.

    A trail file opens with maltrail's copyright line: it is looked for among
    the comments before the first value, so a list merely quoting it further
    down is not taken for one.
    """
    for raw in lines:
        line = raw.strip()
        if line and not line.startswith("#"):
            return None
        if _MALTRAIL_COPYRIGHT.match(line):
            break
    else:
        return None
    family = posixpath.splitext(base)[0].replace("_", " ")
    # By folded name, so `simplehelp.txt`'s alias `SimpleHelp` adds nothing.
    aliases: dict[str, str] = {family.casefold(): family}
    references: dict[str, dict[str, str]] = {}
    for raw in lines:
        line = raw.strip()
        if named := _ALIASES.match(line):
            names = (repaired(name.strip()) for name in named["names"].split(","))
            aliases.update((name.casefold(), name) for name in names if name and name.casefold() not in aliases)
        elif (said := REFERENCE.match(line)) and (found := external_reference(said["text"])):
            references.setdefault(cited(found), found)
    others = tuple(aliases.values())[1:]
    suspicious = _SUSPICIOUS.search(folder) is not None and not any(_ALIASES.match(raw.strip()) for raw in lines)
    return Trail(family, others, tuple(references.values()), suspicious)


def external_reference(text: str) -> dict[str, str] | None:
    """A STIX external reference from the text after ``# Reference:``: its URL, and what follows it."""
    text = repaired(text.strip())
    if not text:
        return None
    first, _, rest = text.partition(" ")
    if "://" in first:
        reference = {"source_name": MALTRAIL, "url": first}
        if rest.strip():
            reference["description"] = rest.strip()
        return reference
    return {"source_name": MALTRAIL, "description": text}


def cited(reference: dict[str, str]) -> str:
    """What a reference cites: its URL, or its text when it has none (the first citing wins)."""
    return reference.get("url") or reference["description"]


def _malware(
    name: str,
    created: str,
    created_by_ref: str,
    parts: tuple[str, ...],
    aliases: tuple[str, ...] = (),
    references: tuple[dict[str, str], ...] = (),
) -> dict[str, Any]:
    """A maltrail family (``parts`` empty) or one of its aliases (``parts`` its family)."""
    obj: dict[str, Any] = {
        "type": "malware",
        "spec_version": "2.1",
        "id": stable_id("malware", MALTRAIL, *parts, name),
        "created": created,
        "modified": created,
        "name": name,
        "is_family": True,
        "created_by_ref": created_by_ref,
    }
    if aliases:
        obj["aliases"] = list(aliases)
    if references:
        obj["external_references"] = list(references)
    return obj


def _indicates(indicator_id: str, target: dict[str, Any], created_by_ref: str) -> dict[str, Any]:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": stable_id("relationship", indicator_id, "indicates", target["id"]),
        "created": EPOCH,
        "modified": EPOCH,
        "relationship_type": "indicates",
        "source_ref": indicator_id,
        "target_ref": target["id"],
        "created_by_ref": created_by_ref,
    }


def trail_context(
    trail: Trail, indicators: list[dict[str, Any]], references: dict[str, dict[str, dict[str, str]]]
) -> list[dict[str, Any]]:
    """Maltrail's publisher, references and family (or, for a suspicious trail,
    what its values are) on every indicator, and the objects that say so, to go
    after the indicators (``clauses`` keeps its positions). ``references`` holds
    each indicator's references, by what they cite."""
    publisher = identity(MALTRAIL, EPOCH)
    for obj in indicators:
        obj["created_by_ref"] = publisher["id"]
        # Every copy of a value repeated in the file carries the same references,
        # so its copies stay the duplicates they were.
        obj["external_references"].extend(references[obj["id"]].values())
        if trail.suspicious:
            _say_suspicious(obj, trail.family)
    if trail.suspicious:
        return [publisher]
    family = _malware(trail.family, EPOCH, publisher["id"], (), trail.aliases, trail.references)
    # context.py reports the names of what an indicator indicates, not their
    # aliases: each alias is an object of its own, in the header's order.
    targets = [family] + [_malware(alias, EPOCH, publisher["id"], (trail.family,)) for alias in trail.aliases]
    relationships: list[dict[str, Any]] = []
    indicated: set[str] = set()
    for obj in indicators:
        if obj["id"] not in indicated:
            indicated.add(obj["id"])
            relationships.extend(_indicates(obj["id"], target, publisher["id"]) for target in targets)
    return [publisher, *targets, *relationships]


def _say_suspicious(obj: dict[str, Any], what: str) -> None:
    """What a suspicious trail's value is, where the outputs show it: its labels and description."""
    obj["indicator_types"] = ["anomalous-activity"]
    obj["labels"] = ["suspicious", what]
    said = f"maltrail suspicious trail: {what}"
    obj["description"] = f"{said}; {obj['description']}" if obj.get("description") else said
