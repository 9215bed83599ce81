"""The indicators a feed gained: what a retro-check scans past logs with.

When a feed gains indicators, logs already scanned may hold them: the old
indicators found what they could there, so only the new ones need to look
again. An indicator is new when the old load did not have its id, or had it
with other clauses (what it matches changed); one whose name, validity or
attribution alone changed finds nothing the old one did not.
"""

from __future__ import annotations

import dataclasses

from .._common.model import IndicatorSet


def added_since(new: IndicatorSet, old: IndicatorSet) -> IndicatorSet:
    """The indicators of ``new`` that ``old`` did not have (by id and
    clauses). The report is ``new``'s with only them compiled (and their
    kinds); its counts by source stay the load's, so a source is judged by
    what it gave, not by what it gained."""
    before = {item.id: frozenset(item.clauses) for item in old.indicators}
    kept = tuple(item for item in new.indicators if before.get(item.id) != frozenset(item.clauses))
    kinds: dict[str, set[str]] = {}
    for item in kept:
        for clause in item.clauses:
            for atom in clause:
                kinds.setdefault(atom.kind, set()).add(atom.display)
    report = dataclasses.replace(
        new.report, compiled=len(kept), kinds={kind: len(values) for kind, values in sorted(kinds.items())}
    )
    return IndicatorSet(kept, report)
