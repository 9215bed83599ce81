"""The indicators a feed gained: what a retro-check scans past logs with.

When a feed gains indicators, logs already scanned may hold them: the old
indicators found what they could there, so only what is new needs to look
again. What an indicator matches is its clauses, so the comparison is by
clause, whatever the ids (a list's ids come from its file's name, and a
feed saved under a new name would otherwise be new throughout): a clause
of the new load is gained when no indicator of the old load had it. Where
validity is judged at each line's time (``at_event_time``), a clause with
another validity window matches other lines, so the window is part of it.
An indicator of the new load keeps only its gained clauses, so its old
hits are not reported again.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from .._common.model import Indicator, IndicatorSet


def added_since(new: IndicatorSet, old: IndicatorSet) -> IndicatorSet:
    """The indicators of ``new`` with the clauses ``old`` did not have (those
    without any are left out). The report is ``new``'s with only them
    compiled (and their kinds); its counts by source stay the load's, so a
    source is judged by what it gave, not by what it gained."""
    windowed = new.report.at_event_time
    before = {(clause, _window(item, windowed)) for item in old.indicators for clause in item.clauses}
    kept = []
    for item in new.indicators:
        gained = tuple(clause for clause in item.clauses if (clause, _window(item, windowed)) not in before)
        if gained:
            kept.append(item if len(gained) == len(item.clauses) else dataclasses.replace(item, clauses=gained))
    kinds: dict[str, set[str]] = {}
    for item in kept:
        for clause in item.clauses:
            for atom in clause:
                kinds.setdefault(atom.kind, set()).add(atom.display)
    report = dataclasses.replace(
        new.report, compiled=len(kept), kinds={kind: len(values) for kind, values in sorted(kinds.items())}
    )
    return IndicatorSet(tuple(kept), report)


def _window(item: Indicator, windowed: bool) -> tuple[datetime | None, datetime | None] | None:
    return (item.valid_from, item.valid_until) if windowed else None
