"""What the other STIX objects say about an indicator: who published it, and
which campaigns, intrusion sets, malware, actors or tools it points to."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Objects whose names an indicator's matches carry as attribution.
_ATTRIBUTABLE = {"campaign", "intrusion-set", "malware", "threat-actor", "tool"}


class Context:
    """What the other objects say about an indicator: who published it, and the
    names reachable from it through ``indicates`` then ``attributed-to``."""

    def __init__(self, context: Iterable[dict[str, Any]]) -> None:
        self.names: dict[str, str] = {}
        self.identities: dict[str, str] = {}
        self.indicates: dict[str, list[str]] = {}
        self.attributed_to: dict[str, list[str]] = {}
        for obj in context:
            kind = obj.get("type")
            if kind == "relationship":
                self._add_relationship(obj)
                continue
            ident, name = obj.get("id"), obj.get("name")
            if isinstance(ident, str) and isinstance(name, str):
                if kind == "identity":
                    self.identities[ident] = name
                elif kind in _ATTRIBUTABLE:
                    self.names[ident] = name

    def _add_relationship(self, obj: dict[str, Any]) -> None:
        source, target, relationship = obj.get("source_ref"), obj.get("target_ref"), obj.get("relationship_type")
        if obj.get("revoked") or not (
            isinstance(source, str) and isinstance(target, str) and isinstance(relationship, str)
        ):
            return
        edges = {"indicates": self.indicates, "attributed-to": self.attributed_to}.get(relationship)
        if edges is not None and target.split("--")[0] in _ATTRIBUTABLE:
            edges.setdefault(source, []).append(target)

    def names_for(self, indicator_id: str) -> tuple[str, ...]:
        if indicator_id not in self.indicates:
            return ()  # most indicators of a large feed point nowhere
        seen: dict[str, None] = {}
        frontier = list(self.indicates.get(indicator_id, []))
        while frontier:
            current = frontier.pop(0)
            if current in seen:
                continue
            seen[current] = None
            frontier.extend(self.attributed_to.get(current, []))
        return tuple(dict.fromkeys(self.names[ref] for ref in seen if ref in self.names))

    def identity_name(self, ref: Any) -> str:
        return self.identities.get(ref, "") if isinstance(ref, str) else ""
