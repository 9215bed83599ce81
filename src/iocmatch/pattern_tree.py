"""The full STIX pattern grammar, through stix2's pattern AST: every pattern
the fast path in ``patterns`` does not take. Imported only when needed, since
stix2 takes a noticeable part of a second to import."""

from __future__ import annotations

from itertools import product
from typing import Any

from stix2 import patterns as ast
from stix2.pattern_visitor import create_pattern_object
from stix2patterns.exceptions import ParseException

from .errors import PatternError
from .model import IPV4, IPV6, Atom, Clause
from .pattern_values import MAX_CLAUSES, atom, kind_of, like_atom, unescape

# An atom with the object type whose property it compares (AND needs one type).
_Term = tuple[Atom, str]


def clauses_of(pattern: str, stix_version: str) -> tuple[list[Clause], list[str]]:
    """(clauses, warnings) of ``pattern``, or PatternError with the reason."""
    try:
        tree = create_pattern_object(pattern, version=stix_version)
    except ParseException as exc:
        raise PatternError(f"invalid STIX pattern: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - stix2 raises bare ValueError/TypeError for semantic errors
        raise PatternError(f"invalid STIX pattern: {exc}") from None
    warnings: list[str] = []
    return _observations(tree, warnings), warnings


def _observations(node: Any, warnings: list[str]) -> list[Clause]:
    if isinstance(node, ast.ObservationExpression):
        return _one_object_each(_boolean(node.operand, warnings), warnings)
    if isinstance(node, ast.OrObservationExpression):
        return _any_of(node.operands, _observations, warnings)
    if isinstance(node, ast.ParentheticalExpression):
        return _observations(node.expression, warnings)
    if isinstance(node, ast.AndObservationExpression):
        raise PatternError("AND between observations is not supported")
    if isinstance(node, ast.FollowedByObservationExpression):
        raise PatternError("FOLLOWEDBY is not supported")
    if isinstance(node, ast.QualifiedObservationExpression):
        qualifier = {
            ast.WithinQualifier: "WITHIN",
            ast.RepeatQualifier: "REPEATS",
            ast.StartStopQualifier: "START/STOP",
        }.get(type(node.qualifier), "a qualifier")
        raise PatternError(f"{qualifier} is not supported")
    raise PatternError(f"{type(node).__name__} is not supported")


def _one_object_each(terms: list[frozenset[_Term]], warnings: list[str]) -> list[Clause]:
    """Keep the AND clauses one object can satisfy: all parts of one object type.

    stix2 refuses ``a AND b`` across types but not ``a AND (b OR c)``, whose
    ``a AND b`` alternative no single object can satisfy.
    """
    clauses: list[Clause] = []
    mixed: list[str] = []
    for clause in terms:
        object_types = sorted({object_type for _, object_type in clause})
        if len(object_types) > 1:
            mixed.append(" AND ".join(object_types))
        else:
            clauses.append(frozenset(atom for atom, _ in clause))
    reason = f"AND across object types ({'; '.join(dict.fromkeys(mixed))}) cannot be satisfied by one object"
    if not clauses:
        raise PatternError(f"invalid STIX pattern: {reason}")
    if mixed:
        warnings.append(f"part of the pattern was not compiled: {reason}")
    return clauses


def _boolean(node: Any, warnings: list[str]) -> list[frozenset[_Term]]:
    if isinstance(node, ast.ParentheticalExpression):
        return _boolean(node.expression, warnings)
    if isinstance(node, ast.OrBooleanExpression):
        return _any_of(node.operands, _boolean, warnings)
    if isinstance(node, ast.AndBooleanExpression):
        combined: list[frozenset[_Term]] = [frozenset()]
        for operand in node.operands:
            parts = _boolean(operand, warnings)
            if len(combined) * len(parts) > MAX_CLAUSES:
                raise PatternError(f"pattern expands to more than {MAX_CLAUSES} alternatives")
            combined = [left | right for left, right in product(combined, parts)]
        return combined
    return [frozenset((term,)) for term in _comparison(node, warnings)]


def _any_of(operands: Any, compile_one: Any, warnings: list[str]) -> list[Any]:
    """OR: compile each branch; drop (and report) the ones that do not compile."""
    clauses: list[Any] = []
    reasons: list[str] = []
    for operand in operands:
        try:
            clauses.extend(compile_one(operand, warnings))
        except PatternError as exc:
            reasons.append(str(exc))
    if not clauses:
        raise PatternError("; ".join(dict.fromkeys(reasons)))
    if len(clauses) > MAX_CLAUSES:
        raise PatternError(f"pattern expands to more than {MAX_CLAUSES} alternatives")
    warnings.extend(f"part of the pattern was not compiled: {reason}" for reason in reasons)
    return clauses


def _comparison(node: Any, warnings: list[str]) -> list[_Term]:
    """One comparison -> the atoms any of which satisfies it, with its object type."""
    operator = getattr(node, "operator", type(node).__name__)
    if getattr(node, "negated", False):
        raise PatternError(f"negated {operator} is not supported")
    kind, object_type = _kind(node.lhs, warnings)
    if isinstance(node, ast.EqualityComparisonExpression):
        atoms = [atom(kind, _string(node.rhs))]
    elif isinstance(node, ast.InComparisonExpression):
        atoms = _in_list(kind, node.rhs, warnings)
    elif isinstance(node, ast.LikeComparisonExpression):
        atoms = [like_atom(kind, _string(node.rhs))]
    elif isinstance(node, ast.IsSubsetComparisonExpression) and kind in (IPV4, IPV6):
        atoms = [atom(kind, _string(node.rhs))]
    else:
        raise PatternError(f"{operator} is not supported on {kind}")
    return [(atom, object_type) for atom in atoms]


def _in_list(kind: str, rhs: Any, warnings: list[str]) -> list[Atom]:
    atoms: list[Atom] = []
    for element in getattr(rhs, "value", []):
        try:
            atoms.append(atom(kind, _string(element)))
        except PatternError as exc:
            warnings.append(f"value left out of IN list: {exc}")
    if not atoms:
        raise PatternError(f"IN list on {kind} holds no valid value")
    return atoms


def _kind(path: Any, warnings: list[str]) -> tuple[str, str]:
    components = path.property_path
    simple = all(isinstance(component, ast.BasicObjectPathComponent) for component in components)
    steps = [str(component.property_name).strip("'") for component in components]
    return kind_of(path.object_type_name, steps, simple, warnings)


def _string(constant: Any) -> str:
    if not isinstance(constant, ast.StringConstant):
        raise PatternError(f"{type(constant).__name__} values are not supported")
    return unescape(str(constant.value))
