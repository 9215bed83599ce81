"""STIX patterns -> clauses of atoms (OR of ANDs): the common simple shapes
directly, everything else through stix2's pattern AST (``pattern_tree``).

Only what SEMANTICS.md lists compiles. Anything else raises PatternError with
the reason, or, inside an OR, drops just that branch and says so in a warning:
a dropped OR branch can only lose hits, never add false ones, because the
supported operators are all monotone (NOT is refused outright).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .._common.errors import PatternError
from .._common.model import HTTP_METHOD, IPV4, IPV6, PORT, WEAK_KINDS, Atom, Clause
from .values import GRAMMAR_SPACE, MAX_ALTERNATIVES, TOO_MANY_ALTERNATIVES, atom, kind_of, like_atom, unescape

_STRING_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'", re.DOTALL)
_NOT = re.compile(r"\bNOT\b")

# The shape most feeds use, compiled without the ANTLR grammar (which costs
# about half a millisecond a comparison): observations whose comparisons are
# =, IN, ISSUBSET or LIKE joined by OR, joined by OR. Tests check it against
# the full grammar, which refuses what this does not take exactly as it does.
_SP = f"[{GRAMMAR_SPACE}]"
_S = r"'(?:[^'\\]|\\[\\'])*'"  # only the two escapes STIX defines
_PATH = r"[a-z][a-z0-9-]*:[A-Za-z_][A-Za-z0-9_]*(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|'[^'\\]*'))*(?![A-Za-z0-9_])"
_VALUES = rf"\({_SP}*{_S}(?:{_SP}*,{_SP}*{_S})*{_SP}*\)"
_COMPARISON = rf"({_PATH}){_SP}*(?:(=|ISSUBSET|LIKE){_SP}*({_S})|IN{_SP}*({_VALUES}))"
_OBSERVATION = rf"\[{_SP}*{_COMPARISON}(?:{_SP}+OR{_SP}+{_COMPARISON})*{_SP}*\]"
_SIMPLE = re.compile(rf"{_SP}*{_OBSERVATION}(?:{_SP}+OR{_SP}+{_OBSERVATION})*{_SP}*")
_ONE_COMPARISON = re.compile(_COMPARISON)
# The commonest of them, one '=' with a string without escapes, in one match.
_ONE_EQUALS = re.compile(rf"\[({_PATH}) = '([^'\\]*)'\]")
_ONE_STRING = re.compile(_S, re.DOTALL)


@dataclass(frozen=True, slots=True)
class CompiledPattern:
    clauses: tuple[Clause, ...]
    warnings: tuple[str, ...]


def compile_pattern(pattern: str, stix_version: str = "2.1", *, fast: bool = True) -> CompiledPattern:
    """Compile ``pattern`` or raise PatternError with the reason it cannot be.

    ``fast=False`` always takes the full grammar (tests compare the two).
    """
    if fast and (one := _ONE_EQUALS.fullmatch(pattern)) is not None:
        single = _compile_one(*one.groups())
        if single is not None:
            return single
    if fast and _SIMPLE.fullmatch(pattern):
        simple = _compile_simple(pattern)
        if simple is not None:
            return simple
    # stix2's visitor drops NOT in front of LIKE, IN and MATCHES (3.0.2), so
    # negation is refused here, on the text outside string literals.
    if _NOT.search(_STRING_LITERAL.sub("''", pattern)):
        raise PatternError("NOT is not supported")
    from .tree import clauses_of

    clauses, warnings = clauses_of(pattern, stix_version)
    return CompiledPattern(without_weak_clauses(tuple(dict.fromkeys(clauses)), warnings), tuple(warnings))


# Why a clause of weak kinds alone is refused, by kind.
ALONE = {
    PORT: "a port alone is no indicator (it would hit every line holding that number)",
    HTTP_METHOD: "a request method alone is no indicator (every request has one)",
}
_BESIDE = "; a port or a method counts only ANDed with an address, a path or a header in one observation"


def without_weak_clauses(clauses: tuple[Clause, ...], warnings: list[str]) -> tuple[Clause, ...]:
    """``clauses`` without those made only of weak kinds (ports, methods);
    PatternError when none is left, a warning when some were dropped."""
    kept = tuple(clause for clause in clauses if any(found.kind not in WEAK_KINDS for found in clause))
    if len(kept) == len(clauses):
        return kept
    weak = sorted({found.kind for clause in clauses if clause not in kept for found in clause})
    reason = "; ".join(ALONE[kind] for kind in weak) + _BESIDE
    if not kept:
        raise PatternError(reason)
    warnings.append(f"part of the pattern was not compiled: {reason}")
    return kept


def _compile_one(path: str, value: str) -> CompiledPattern | None:
    """``[path = 'value']``; None sends it the longer way, as for ``_compile_simple``."""
    kind = _simple_kind(path)
    if kind is None or kind in WEAK_KINDS:
        return None
    warnings: list[str] = []
    try:
        single = atom(kind, value, warnings)
    except PatternError:
        return None
    return CompiledPattern((frozenset((single,)),), tuple(warnings))


def _compile_simple(pattern: str) -> CompiledPattern | None:
    """The fast path; None sends anything unusual (a bad value, a warning other
    than a refanged value's) to the grammar. Past ``MAX_ALTERNATIVES`` the pattern is refused here."""
    atoms: list[Atom] = []
    warnings: list[str] = []  # only refanged values: any other warning goes the grammar's way
    try:
        for found in _ONE_COMPARISON.finditer(pattern):
            path, operator, value, values = found.groups()
            kind = _simple_kind(path)
            # A port or a method needs another part beside it (AND), which only the grammar reads.
            if kind is None or kind in WEAK_KINDS or (operator == "ISSUBSET" and kind not in (IPV4, IPV6)):
                return None
            if operator == "LIKE":
                atoms.append(like_atom(kind, unescape(value[1:-1]), warnings))
            else:
                atoms.extend(atom(kind, unescape(one[1:-1]), warnings) for one in _ONE_STRING.findall(value or values))
    except PatternError:
        return None
    if len(atoms) > MAX_ALTERNATIVES:
        raise PatternError(TOO_MANY_ALTERNATIVES)
    return CompiledPattern(tuple(dict.fromkeys(frozenset((one,)) for one in atoms)), tuple(warnings))


@lru_cache(maxsize=1024)
def _simple_kind(path: str) -> str | None:
    """The kind ``path`` compares; None when it has none or needs a warning."""
    object_type, _, properties = path.partition(":")
    warnings: list[str] = []
    try:
        kind, _ = kind_of(object_type, [step.strip("'") for step in properties.split(".")], True, warnings)
    except PatternError:
        return None
    return None if warnings else kind


__all__ = ["CompiledPattern", "compile_pattern", "unescape", "without_weak_clauses"]
