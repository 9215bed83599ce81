"""What a reader hands the loader: one source's objects, as read, and the
collector the readers that build their own indicators (lists, MISP, abuse.ch)
gather them with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._common.model import Clause, Problem


@dataclass(frozen=True, slots=True)
class SourceObjects:
    """The STIX 2.x objects of one source, and what could not become one.

    ``objects`` may hold malformed entries: the loader reports them.
    ``problems`` are entries of the source (a CSV row, a STIX 1 indicator)
    that no STIX 2 object could express; each counts as read and skipped.
    ``warnings`` note what converting an object had to leave out.
    ``clauses`` maps the position of an object in ``objects`` to the clauses
    its reader built from the values it read (CSV and text lists): the loader
    takes them as they are, and that object's pattern is only shown, never
    parsed back.
    """

    label: str
    objects: list[Any]
    spec_version: str = ""  # the bundle's, for STIX 2.0 objects that carry none
    problems: tuple[Problem, ...] = field(default_factory=tuple)
    warnings: tuple[Problem, ...] = field(default_factory=tuple)  # on objects that were read
    digest: str = ""  # SHA-256 of the bytes read, when the source was bytes
    clauses: dict[int, tuple[Clause, ...]] = field(default_factory=dict)
    added_last: str = ""  # a TAXII collection's X-TAXII-Date-Added-Last: where the next poll starts


class Collector:
    """What a reader gathers from one source, in the order read: its objects,
    the clauses it built for its indicators, and a problem for every entry
    that is no indicator (``skip``, ``exclude``) or lost a part (``warn``)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.objects: list[dict[str, Any]] = []
        self.clauses: dict[int, tuple[Clause, ...]] = {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def add(self, indicator: dict[str, Any], clauses: tuple[Clause, ...]) -> None:
        """An indicator, and the clauses its pattern compiles to (the loader takes them as they are)."""
        self.clauses[len(self.objects)] = clauses
        self.objects.append(indicator)

    def skip(self, where: str, reason: str) -> None:
        self.problems.append(Problem(where, reason, "skipped", self.label))

    def exclude(self, where: str, reason: str) -> None:
        self.problems.append(Problem(where, reason, "excluded", self.label))

    def warn(self, ident: str, reason: str) -> None:
        self.warnings.append(Problem(ident, reason, "warning", self.label))

    def result(self) -> SourceObjects:
        return SourceObjects(
            self.label,
            self.objects,
            spec_version="2.1",
            problems=tuple(self.problems),
            warnings=tuple(self.warnings),
            clauses=self.clauses,
        )
