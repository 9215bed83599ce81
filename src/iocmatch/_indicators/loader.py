"""Load indicators: pick live versions, compile patterns, follow attribution.

Objects whose reader built their clauses (CSV and text lists) are not
compiled again: their pattern is kept to be shown, and never parsed back.

Every indicator object read ends up compiled, skipped (with the reason) or
excluded (revoked, expired, not yet valid, superseded, too broad,
allowlisted): the report counts them so that
``read == compiled + skipped + excluded``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from .._common.bulk import collector_paused
from .._common.errors import ObjectError, PatternError
from .._common.model import PORT, Atom, Clause, Indicator, IndicatorSet, LoadReport, Problem
from .._common.timestamps import parse_timestamp
from .._feeds import SourceObjects, read_source
from .._patterns.clauses import CompiledPattern, compile_pattern, without_weak_clauses
from .allowlists import Allowlist, parse_allowlist, read_allowlist
from .breadth import too_broad
from .context import Context

# Feeds repeat a handful of timestamps across thousands of objects.
_cached_timestamp = lru_cache(maxsize=4096)(parse_timestamp)


def _timestamp(text: Any) -> datetime:
    """ValueError for what is no timestamp, as for one out of datetime's range."""
    return _cached_timestamp(text) if isinstance(text, str) else parse_timestamp(text)


class _Version(NamedTuple):
    """One version of an indicator, as read."""

    obj: dict[str, Any]
    label: str  # its source's
    spec: str  # its bundle's spec_version
    clauses: tuple[Clause, ...] | None  # built by its reader; None: compile its pattern


def load(
    *sources: Any,
    as_of: datetime | str | None = None,
    ignore_validity: bool = False,
    allow_broad: bool = False,
    allowlists: Any = (),
    ignore_ports: bool = False,
    at_event_time: bool = False,
) -> IndicatorSet:
    """Load STIX 2.0/2.1 indicators from every source, together.

    ``as_of`` is the reference time for validity (default: now);
    ``ignore_validity`` keeps expired and not-yet-valid indicators (revoked
    ones stay out). Values that would hit ordinary traffic everywhere (see
    ``breadth.py``) are excluded unless ``allow_broad``; so are values an
    allowlist holds (``allowlists``: MISP warninglist files, parsed
    documents or ``Allowlist`` objects). An indicator loses only the parts
    of its pattern that are excluded, with a warning, and is excluded when
    nothing is left. Raises SourceError only for a source or an allowlist
    that cannot be read at all; problems with single objects go to the report.
    An address published with its port (ThreatFox ``ip:port``, MISP
    ``ip-dst|port``) hits only with that port on the same line, unless
    ``ignore_ports``: then the address alone hits, on any port.
    ``at_event_time`` keeps expired and not-yet-valid indicators with their
    ``valid_from`` and ``valid_until``, for a matcher that judges each line
    at its own time (``as_of`` then judges the lines that carry none);
    revoked ones stay out, as do those whose ``valid_until`` is not after
    their ``valid_from``. It excludes ``ignore_validity``.
    """
    if at_event_time and ignore_validity:
        raise ValueError("at_event_time judges validity at each line's time: it excludes ignore_validity")
    reference = parse_timestamp(as_of) if isinstance(as_of, str) else as_of
    given = reference is not None
    if reference is None:
        reference = datetime.now(timezone.utc)
    elif reference.tzinfo is None:
        reference = reference.replace(tzinfo=timezone.utc)
    lists = tuple(_allowlist(entry) for entry in allowlists)
    with collector_paused():
        read = [objects for source in sources for objects in read_source(source)]
        loaded = _Loader(reference, ignore_validity, allow_broad, lists, ignore_ports, at_event_time).run(read)
    report = dataclasses.replace(
        loaded.report,
        as_of=reference if given else None,
        ignore_validity=ignore_validity,
        at_event_time=at_event_time,
    )
    return IndicatorSet(loaded.indicators, report)


def _allowlist(entry: Any) -> Allowlist:
    if isinstance(entry, Allowlist):
        return entry
    if isinstance(entry, (str, Path)):
        return read_allowlist(entry)
    return parse_allowlist(entry, "<allowlist>")


class _Loader:
    def __init__(
        self,
        reference: datetime,
        ignore_validity: bool,
        allow_broad: bool,
        allowlists: tuple[Allowlist, ...],
        ignore_ports: bool = False,
        at_event_time: bool = False,
    ) -> None:
        self.reference = reference
        self.at_event_time = at_event_time
        self.ignore_ports = ignore_ports
        self.ignore_validity = ignore_validity
        self.allow_broad = allow_broad
        self.allowlists = allowlists
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.read = 0

    def run(self, sources: list[SourceObjects]) -> IndicatorSet:
        candidates: dict[str, list[_Version]] = {}
        context: list[dict[str, Any]] = []
        context_counts: Counter[str] = Counter()
        for source in sources:
            self.read += len(source.problems)
            self.problems.extend(source.problems)
            self.warnings.extend(source.warnings)
            for position, obj in enumerate(source.objects):
                kind = obj.get("type") if isinstance(obj, dict) else None
                # Indicators, and entries that may have been one, are read;
                # every other object is context for attribution.
                if kind == "indicator" or not isinstance(kind, str):
                    self.read += 1
                    if self._well_formed(obj, source.label, position):
                        version = _Version(obj, source.label, source.spec_version, source.clauses.get(position))
                        candidates.setdefault(obj["id"], []).append(version)
                else:
                    context.append(obj)
                    context_counts[kind] += 1
        attribution = Context(context)
        compiled: list[Indicator] = []
        for versions in candidates.values():
            indicator = self._compile_newest(versions, attribution)
            if indicator is not None:
                compiled.append(indicator)
        kinds: dict[str, set[str]] = {}
        for indicator in compiled:
            for clause in indicator.clauses:
                for atom in clause:
                    kinds.setdefault(atom.kind, set()).add(atom.display)
        skipped = sum(1 for p in self.problems if p.status == "skipped")
        labels = list(dict.fromkeys(source.label for source in sources))
        report = LoadReport(
            read=self.read,
            compiled=len(compiled),
            skipped=skipped,
            excluded=len(self.problems) - skipped,
            kinds={kind: len(values) for kind, values in sorted(kinds.items())},
            problems=tuple(self.problems),
            warnings=tuple(self.warnings),
            context=dict(sorted(context_counts.items())),
            sources=tuple(labels),
            by_source=_counts_by_source(labels, compiled, self.problems),
            digests={source.label: source.digest or _digest_of(source.objects) for source in sources},
        )
        return IndicatorSet(tuple(compiled), report)

    def _well_formed(self, obj: Any, label: str, position: int) -> bool:
        if not isinstance(obj, dict):
            self._skip(f"{label}#{position}", f"not a JSON object (a {type(obj).__name__})", label)
            return False
        if not isinstance(obj.get("type"), str):
            self._skip(str(obj.get("id", f"{label}#{position}")), "object has no 'type'", label)
            return False
        if not isinstance(obj.get("id"), str):
            self._skip(f"{label}#{position}", f"{obj['type']} object has no 'id'", label)
            return False
        return True

    def _compile_newest(self, versions: list[_Version], attribution: Context) -> Indicator | None:
        if len(versions) == 1:
            # One version (most feeds): nothing to choose between.
            only = versions[0]
            if self._stamp(only.obj, only.label) is None or not self._live(only.obj, only.label):
                return None
            return self._compile(only, attribution, ())
        dated = []
        for version in versions:
            stamp = self._stamp(version.obj, version.label)
            if stamp is not None:
                dated.append((stamp, version))
        if not dated:
            return None
        # Newest wins; among equals a revoked one, then any, the same whatever the load order.
        if len(dated) > 1:
            dated.sort(key=lambda entry: (entry[0], entry[1].obj.get("revoked") is True, _fingerprint(entry[1].obj)))
        modified, newest = dated[-1]
        obj, label = newest.obj, newest.label
        also_in: list[str] = []
        for older, (older_obj, older_label, *_) in dated[:-1]:
            if older == modified and _fingerprint(older_obj) == _fingerprint(obj):
                self._exclude(obj["id"], "duplicate of the version loaded", older_label)
                if older_label != label:
                    also_in.append(older_label)
            elif older == modified:
                self._exclude(obj["id"], "another version with the same 'modified' was kept", older_label)
            else:
                self._exclude(obj["id"], f"superseded by the version modified {modified.isoformat()}", older_label)
        if not self._live(obj, label):
            return None
        return self._compile(newest, attribution, tuple(also_in))

    def _stamp(self, obj: dict[str, Any], label: str) -> datetime | None:
        """The version's time, or None (reported) when it is no timestamp."""
        try:
            return _timestamp(obj.get("modified") or obj.get("created") or "1970-01-01")
        except ValueError:
            self._skip(obj["id"], f"invalid 'modified' timestamp {obj.get('modified')!r}", label)
            return None

    def _live(self, obj: dict[str, Any], label: str) -> bool:
        if obj.get("revoked") is True:
            self._exclude(obj["id"], "revoked", label)
            return False
        if self.ignore_validity:
            return True
        if self.at_event_time:
            return self._ever_live(obj, label)
        try:
            valid_from = obj.get("valid_from")
            if valid_from is not None and _timestamp(valid_from) > self.reference:
                self._exclude(obj["id"], f"not yet valid (valid_from {valid_from})", label)
                return False
            valid_until = obj.get("valid_until")
            if valid_until is not None and _timestamp(valid_until) <= self.reference:
                self._exclude(obj["id"], f"expired (valid_until {valid_until})", label)
                return False
        except ValueError as exc:
            self._skip(obj["id"], f"invalid validity timestamp: {exc}", label)
            return False
        return True

    def _ever_live(self, obj: dict[str, Any], label: str) -> bool:
        """At event time: kept whatever the time now, unless its window is empty."""
        try:
            valid_from, valid_until = _validity_time(obj, "valid_from"), _validity_time(obj, "valid_until")
        except ValueError as exc:
            self._skip(obj["id"], f"invalid validity timestamp: {exc}", label)
            return False
        if valid_from is not None and valid_until is not None and valid_until <= valid_from:
            reason = f"never valid (valid_until {obj['valid_until']} is not after valid_from {obj['valid_from']})"
            self._exclude(obj["id"], reason, label)
            return False
        return True

    def _compile(self, version: _Version, attribution: Context, also_in: tuple[str, ...]) -> Indicator | None:
        """The indicator, or None when it is skipped or excluded (reported)."""
        obj, label, spec, built = version
        ident = obj["id"]
        if built is None:
            try:
                compiled = _compiled_pattern(obj, spec)
            except (ObjectError, PatternError) as exc:
                # Only what the object holds is caught: any other error is a bug of ours, and stops the load.
                self._skip(ident, str(exc), label)
                return None
        else:
            # A reader that built clauses warned of what it refanged; a port alone is refused as a pattern's is.
            warnings: list[str] = []
            try:
                compiled = CompiledPattern(without_weak_clauses(built, warnings), tuple(warnings))
            except PatternError as exc:
                self._skip(ident, str(exc), label)
                return None
        clauses = self._screened(
            ident, label, _without_ports(compiled.clauses) if self.ignore_ports else compiled.clauses
        )
        if clauses is None:
            return None
        for warning in compiled.warnings:
            self.warnings.append(Problem(ident, warning, "warning", label))
        return Indicator(
            id=ident,
            name=str(obj.get("name", "")),
            pattern=obj["pattern"],
            clauses=clauses,
            attribution=attribution.names_for(ident),
            source=label,
            also_in=also_in,
            publisher=attribution.identity_name(obj.get("created_by_ref")),
            valid_until=_valid_until(obj),
            valid_from=_valid_from(obj),
        )

    def _screened(self, ident: str, label: str, clauses: tuple[Clause, ...]) -> tuple[Clause, ...] | None:
        """The clauses left once the unwanted are out, or None (excluded, reported)
        when none is. A clause is unwanted when every atom of it is: one
        specific part of an AND keeps it specific."""
        if self.allow_broad and not self.allowlists:
            return clauses
        kept, dropped = [], []
        for clause in clauses:
            # A set's order changes with the hash seed: sorted, the reason named is the same on every run.
            atoms = clause if len(clause) == 1 else sorted(clause, key=lambda a: (a.kind, a.value, a.mode))
            reasons = [self._unwanted(atom) for atom in atoms]
            if all(reasons):
                dropped.append(str(reasons[0]))
            else:
                kept.append(clause)
        if not dropped:
            return clauses
        if not kept:
            self._exclude(ident, "; ".join(dict.fromkeys(dropped)), label)
            return None
        for reason in dropped:
            self.warnings.append(Problem(ident, f"{reason}: that part of the pattern is left out", "warning", label))
        return tuple(kept)

    def _unwanted(self, atom: Atom) -> str | None:
        if not self.allow_broad:
            reason = too_broad(atom)
            if reason is not None:
                return reason
        for allowlist in self.allowlists:
            entry = allowlist.suppresses(atom)
            if entry is not None:
                return f"allowlisted: {atom.display} by {allowlist.name!r} ({allowlist.type} {entry!r})"
        return None

    def _skip(self, ident: str, reason: str, label: str) -> None:
        self.problems.append(Problem(ident, reason, "skipped", label))

    def _exclude(self, ident: str, reason: str, label: str) -> None:
        self.problems.append(Problem(ident, reason, "excluded", label))


def _without_ports(clauses: tuple[Clause, ...]) -> tuple[Clause, ...]:
    """Each clause without its ports: the address alone, on any port."""
    return tuple(dict.fromkeys(frozenset(a for a in clause if a.kind != PORT) or clause for clause in clauses))


def _compiled_pattern(obj: dict[str, Any], spec: str) -> CompiledPattern:
    """The clauses of the object's STIX pattern; ObjectError or PatternError saying why there are none."""
    pattern_type = obj.get("pattern_type", "stix")
    if pattern_type != "stix":
        raise ObjectError(f"pattern_type {pattern_type!r} is not supported")
    pattern = obj.get("pattern")
    if not isinstance(pattern, str) or not pattern.strip():
        raise ObjectError("indicator has no pattern")
    version = str(obj.get("spec_version") or spec or "2.1")
    return compile_pattern(pattern, "2.0" if version.startswith("2.0") else "2.1")


def _valid_until(obj: dict[str, Any]) -> datetime | None:
    """When the indicator stops being valid, if it says and says it well."""
    try:
        return _timestamp(obj["valid_until"]) if obj.get("valid_until") is not None else None
    except ValueError:  # _timestamp's only error for what a feed writes there
        return None


def _valid_from(obj: dict[str, Any]) -> datetime | None:
    """When the indicator starts being valid, if it says and says it well."""
    try:
        return _validity_time(obj, "valid_from")
    except ValueError:
        return None


def _validity_time(obj: dict[str, Any], name: str) -> datetime | None:
    return _timestamp(obj[name]) if obj.get(name) is not None else None


def _digest_of(objects: list[Any]) -> str:
    """SHA-256 of objects handed over in memory (a dict, a TAXII collection):
    their JSON with sorted keys, the same whatever their order of keys."""
    return hashlib.sha256(json.dumps(objects, sort_keys=True, default=str).encode("utf-8", "surrogatepass")).hexdigest()


def _fingerprint(obj: dict[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


def _counts_by_source(
    labels: list[str], compiled: list[Indicator], problems: list[Problem]
) -> dict[str, dict[str, int]]:
    counts = {label: {"read": 0, "compiled": 0, "skipped": 0, "excluded": 0} for label in labels}
    for indicator in compiled:
        counts[indicator.source]["compiled"] += 1
    for problem in problems:
        counts[problem.source][problem.status] += 1
    for entry in counts.values():
        entry["read"] = entry["compiled"] + entry["skipped"] + entry["excluded"]
    return counts
