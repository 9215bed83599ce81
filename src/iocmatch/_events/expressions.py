"""A STIX pattern as a tree of observation expressions: observations
(``[...]``, compiled by ``predicates.py``) joined by ``AND``, ``OR`` and
``FOLLOWEDBY`` and qualified by ``WITHIN``, ``REPEATS`` and ``START/STOP``.

The tree is plain data; ``stream.py`` evaluates it over records in time
order. Each observation is a leaf with a number (its slot): a record is
tested against every leaf once, and the tree then works on those outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .._common.errors import PatternError
from .._common.lazy import LazyModule
from .._common.timestamps import parse_timestamp
from .predicates import MAX_JUNCTION_DEPTH, Observation, compile_observation

ast = LazyModule("stix2.patterns")


@dataclass(frozen=True, slots=True)
class Leaf:
    """One ``[...]``; ``slot`` numbers it among the pattern's observations."""

    observation: Observation
    slot: int


@dataclass(frozen=True, slots=True)
class Either:
    """``A OR B``: a match of either."""

    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Both:
    """``A AND B``, or ``A FOLLOWEDBY B`` when ``ordered``: a match of each, on different records
    (and, when ordered, every record of B's match at or after every record of A's)."""

    left: Expression
    right: Expression
    ordered: bool


@dataclass(frozen=True, slots=True)
class Within:
    """``A WITHIN n SECONDS``: a match of A whose records lie at most ``seconds`` apart."""

    operand: Expression
    seconds: float


@dataclass(frozen=True, slots=True)
class Repeats:
    """``A REPEATS n TIMES``: ``times`` matches of A, no record shared between them."""

    operand: Expression
    times: int


@dataclass(frozen=True, slots=True)
class During:
    """``A START t1 STOP t2``: a match of A whose every record is at or after ``start`` and before ``stop``."""

    operand: Expression
    start: datetime
    stop: datetime


Expression = Leaf | Either | Both | Within | Repeats | During


@dataclass(frozen=True, slots=True)
class PatternTree:
    """A pattern's expression and its observations, in slot order."""

    root: Expression
    observations: tuple[Observation, ...]

    @property
    def single(self) -> bool:
        """True when the pattern is one observation, or several joined by OR: each record alone decides it."""
        return _single(self.root)


def expression_of(pattern: str) -> PatternTree:
    """The expression tree of ``pattern``, or PatternError with the reason."""
    observations: list[Observation] = []
    from .grammar import parse  # stix2's parser: imported by the first pattern read as a tree

    root = _expression(parse(pattern), observations, 0)
    return PatternTree(root, tuple(observations))


def _expression(node: Any, observations: list[Observation], depth: int) -> Expression:
    if depth > MAX_JUNCTION_DEPTH:
        raise PatternError(f"observation operators are nested more than {MAX_JUNCTION_DEPTH} deep")
    while isinstance(node, ast.ParentheticalExpression):
        node = node.expression
    if isinstance(node, ast.ObservationExpression):
        observations.append(compile_observation(node.operand))
        return Leaf(observations[-1], len(observations) - 1)
    if isinstance(node, ast.OrObservationExpression):
        # A chain of ORs (a feed's list of alternatives) is one level, however long.
        operands, pending = [], list(reversed(node.operands))
        while pending:
            operand = pending.pop()
            while isinstance(operand, ast.ParentheticalExpression):
                operand = operand.expression
            if isinstance(operand, ast.OrObservationExpression):
                pending.extend(reversed(operand.operands))
            else:
                operands.append(_expression(operand, observations, depth + 1))
        return Either(tuple(operands))
    if isinstance(node, (ast.AndObservationExpression, ast.FollowedByObservationExpression)):
        ordered = isinstance(node, ast.FollowedByObservationExpression)
        operands = [_expression(operand, observations, depth + 1) for operand in node.operands]
        joined = operands[0]
        for operand in operands[1:]:  # the grammar's operators join left to right
            joined = Both(joined, operand, ordered)
        return joined
    if isinstance(node, ast.QualifiedObservationExpression):
        return _qualified(node, _expression(node.observation_expression, observations, depth + 1))
    raise PatternError(f"unexpected part of a pattern: {type(node).__name__}")


def _qualified(node: Any, operand: Expression) -> Expression:
    qualifier = node.qualifier
    if isinstance(qualifier, ast.WithinQualifier):
        seconds = qualifier.number_of_seconds.value
        if seconds <= 0:
            raise PatternError(f"WITHIN needs a positive number of seconds, not {seconds}")
        return Within(operand, float(seconds))
    if isinstance(qualifier, ast.RepeatQualifier):
        times = qualifier.times_to_repeat.value
        if times < 1:
            raise PatternError(f"REPEATS needs a positive count, not {times}")
        return Repeats(operand, int(times))
    if isinstance(qualifier, ast.StartStopQualifier):
        start, stop = qualifier.start_time.value, qualifier.stop_time.value
        return During(operand, _aware(start), _aware(stop))
    raise PatternError(f"unexpected qualifier: {type(qualifier).__name__}")


def _aware(moment: Any) -> datetime:
    if isinstance(moment, str):  # STIX 2.0 writes START and STOP as strings
        try:
            return parse_timestamp(moment)
        except ValueError:
            raise PatternError(f"START and STOP take timestamps, not {moment!r}") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)  # type: ignore[no-any-return]


def _single(expression: Expression) -> bool:
    if isinstance(expression, Leaf):
        return True
    return isinstance(expression, Either) and all(_single(operand) for operand in expression.operands)
