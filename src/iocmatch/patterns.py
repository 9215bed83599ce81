"""STIX patterns -> clauses of atoms (OR of ANDs), through stix2's pattern AST.

Only what SEMANTICS.md lists compiles. Anything else raises PatternError with
the reason, or, inside an OR, drops just that branch and says so in a warning:
a dropped OR branch can only lose hits, never add false ones, because the
supported operators are all monotone (NOT is refused outright).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product
from typing import Any

from stix2 import patterns as ast
from stix2.pattern_visitor import create_pattern_object
from stix2patterns.exceptions import ParseException

from .errors import PatternError
from .model import (
    DIRECTORY,
    DOMAIN,
    EMAIL,
    FILE_NAME,
    IPV4,
    IPV6,
    MUTEX,
    PREFIX,
    REGISTRY_KEY,
    SUBDOMAINS_ONLY,
    URL,
    Atom,
    Clause,
)
from .normalize import canonical_network, canonical_value, hash_kind, network_value, url_prefix

# (object type, property path) -> kind. file:hashes.<algorithm> is handled apart.
_PATHS = {
    ("domain-name", ("value",)): DOMAIN,
    ("url", ("value",)): URL,
    ("ipv4-addr", ("value",)): IPV4,
    ("ipv6-addr", ("value",)): IPV6,
    ("file", ("name",)): FILE_NAME,
    ("email-addr", ("value",)): EMAIL,
    ("email-message", ("from_ref", "value")): EMAIL,
    ("mutex", ("name",)): MUTEX,
    ("windows-registry-key", ("key",)): REGISTRY_KEY,
    ("directory", ("path",)): DIRECTORY,
    ("file", ("parent_directory_ref", "path")): DIRECTORY,
}
# Object types that are supported, so other properties of them are ones a
# log line cannot show (file:size, file:mime_type, ...).
_KNOWN_TYPES = {object_type for object_type, _ in _PATHS}

# Non-standard spellings seen in published feeds, read as the standard type.
_TYPE_ALIASES = {"windows_registry_key": "windows-registry-key", "domain_name": "domain-name"}

# A pattern whose OR-of-ANDs form grows past this is refused, not expanded.
MAX_CLAUSES = 4096

_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'", re.DOTALL)
_NOT = re.compile(r"\bNOT\b")

# The shape most feeds use, compiled without the ANTLR grammar (which costs
# about half a millisecond a pattern): one observation whose comparisons are
# =, IN or ISSUBSET joined by OR. Tests check it against the full grammar.
_S = r"'(?:[^'\\]|\\[\\'])*'"  # only the two escapes STIX defines
_PATH = r"[a-z][a-z0-9-]*:[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|'[^'\\]*'))*"
_COMPARISON = rf"({_PATH})\s*(=|IN|ISSUBSET)\s*({_S}|\(\s*{_S}(?:\s*,\s*{_S})*\s*\))"
_SIMPLE = re.compile(rf"\s*\[\s*{_COMPARISON}(?:\s+OR\s+{_COMPARISON})*\s*\]\s*", re.DOTALL)
_ONE_COMPARISON = re.compile(_COMPARISON, re.DOTALL)
_ONE_STRING = re.compile(_S, re.DOTALL)


# An atom with the object type whose property it compares (AND needs one type).
_Term = tuple[Atom, str]


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    clauses: tuple[Clause, ...]
    warnings: tuple[str, ...]


def compile_pattern(pattern: str, stix_version: str = "2.1", *, fast: bool = True) -> CompiledPattern:
    """Compile ``pattern`` or raise PatternError with the reason it cannot be.

    ``fast=False`` always takes the full grammar (tests compare the two).
    """
    if fast and _SIMPLE.fullmatch(pattern):
        simple = _compile_simple(pattern)
        if simple is not None:
            return simple
    # stix2's visitor drops NOT in front of LIKE, IN and MATCHES (3.0.2), so
    # negation is refused here, on the text outside string literals.
    if _NOT.search(_STRING_LITERAL.sub("''", pattern)):
        raise PatternError("NOT is not supported")
    try:
        tree = create_pattern_object(pattern, version=stix_version)
    except ParseException as exc:
        raise PatternError(f"invalid STIX pattern: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - stix2 raises bare ValueError/TypeError for semantic errors
        raise PatternError(f"invalid STIX pattern: {exc}") from None
    warnings: list[str] = []
    clauses = _observations(tree, warnings)
    return CompiledPattern(tuple(dict.fromkeys(clauses)), tuple(warnings))


def _compile_simple(pattern: str) -> CompiledPattern | None:
    """The fast path; None sends anything unusual (a bad value, a warning) to the grammar."""
    atoms: list[Atom] = []
    try:
        for found in _ONE_COMPARISON.finditer(pattern):
            path, operator, values = found.groups()
            object_type, _, properties = path.partition(":")
            kind, _ = _kind_of(object_type, [step.strip("'") for step in properties.split(".")], True, [])
            if operator == "ISSUBSET" and kind not in (IPV4, IPV6):
                return None
            atoms.extend(_atom(kind, unescape(value[1:-1])) for value in _ONE_STRING.findall(values))
    except PatternError:
        return None
    if len(atoms) > MAX_CLAUSES:
        return None
    return CompiledPattern(tuple(dict.fromkeys(frozenset((atom,)) for atom in atoms)), ())


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
        atoms = [_atom(kind, _string(node.rhs))]
    elif isinstance(node, ast.InComparisonExpression):
        atoms = _in_list(kind, node.rhs, warnings)
    elif isinstance(node, ast.LikeComparisonExpression):
        atoms = [_like(kind, _string(node.rhs))]
    elif isinstance(node, ast.IsSubsetComparisonExpression) and kind in (IPV4, IPV6):
        atoms = [_atom(kind, _string(node.rhs))]
    else:
        raise PatternError(f"{operator} is not supported on {kind}")
    return [(atom, object_type) for atom in atoms]


def _in_list(kind: str, rhs: Any, warnings: list[str]) -> list[Atom]:
    atoms: list[Atom] = []
    for element in getattr(rhs, "value", []):
        try:
            atoms.append(_atom(kind, _string(element)))
        except PatternError as exc:
            warnings.append(f"value left out of IN list: {exc}")
    if not atoms:
        raise PatternError(f"IN list on {kind} holds no valid value")
    return atoms


def _kind(path: Any, warnings: list[str]) -> tuple[str, str]:
    components = path.property_path
    simple = all(isinstance(component, ast.BasicObjectPathComponent) for component in components)
    steps = [str(component.property_name).strip("'") for component in components]
    return _kind_of(path.object_type_name, steps, simple, warnings)


def _kind_of(written_type: str, steps: list[str], simple: bool, warnings: list[str]) -> tuple[str, str]:
    """The kind an object path compares and its object type, or PatternError saying why there is none."""
    object_type = written_type
    if object_type in _TYPE_ALIASES:
        warnings.append(f"non-standard object type {object_type!r} read as {_TYPE_ALIASES[object_type]!r}")
        object_type = _TYPE_ALIASES[object_type]
    written = f"{written_type}:{'.'.join(steps)}"
    if simple:
        if object_type == "file" and len(steps) == 2 and steps[0] == "hashes":
            return hash_kind(steps[1]), object_type
        kind = _PATHS.get((object_type, tuple(steps)))
        if kind is not None:
            return kind, object_type
    if object_type in _KNOWN_TYPES:
        raise PatternError(f"{written} cannot be seen in a log line")
    raise PatternError(f"object path {written} is not supported")


def _string(constant: Any) -> str:
    if not isinstance(constant, ast.StringConstant):
        raise PatternError(f"{type(constant).__name__} values are not supported")
    return unescape(str(constant.value))


def unescape(value: str) -> str:
    """STIX pattern strings escape ``\\`` and ``'``; stix2 leaves them escaped."""
    return re.sub(r"\\(.)", r"\1", value, flags=re.DOTALL)


def _atom(kind: str, value: str) -> Atom:
    if kind in (IPV4, IPV6):
        # An IPv4-mapped IPv6 value comes back as IPv4: it is looked up as one.
        network = canonical_network(kind, value)
        return Atom(IPV4 if network.version == 4 else IPV6, network_value(network))
    return Atom(kind, canonical_value(kind, value))


def _like(kind: str, value: str) -> Atom:
    """LIKE '%.evil.com' (domains: subdomains only) and LIKE 'evil%' (prefix)."""
    if kind == DOMAIN and value.startswith("%.") and not _has_wildcard(value[2:]):
        return Atom(kind, canonical_value(kind, value[2:]), SUBDOMAINS_ONLY)
    literal = value[:-1]
    if value.endswith("%") and literal and not _has_wildcard(literal) and kind not in (IPV4, IPV6):
        if kind == URL:
            return Atom(kind, url_prefix(literal), PREFIX)
        if kind in (DOMAIN, EMAIL):
            literal = literal.lower()
        elif kind not in (FILE_NAME, MUTEX, REGISTRY_KEY, DIRECTORY):
            raise PatternError(f"LIKE is not supported on {kind}")
        return Atom(kind, literal, PREFIX)
    raise PatternError(f"LIKE {value!r} is not supported (only '%.domain' and 'prefix%')")


def _has_wildcard(text: str) -> bool:
    return "%" in text or "_" in text


__all__ = ["CompiledPattern", "compile_pattern", "unescape"]
