"""What a reader hands the loader: one source's objects, as read."""

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
