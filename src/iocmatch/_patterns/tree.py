"""The full STIX pattern grammar, through stix2's pattern AST: every pattern
the fast path in ``patterns`` does not take. Imported only when needed, since
stix2 takes a noticeable part of a second to import.

stix2's grammar and visitor recurse once per operator, so a list of a few
hundred ORs exhausts Python's stack. A large pattern is therefore cut at its
ORs first (outside strings, brackets and parentheses, as the grammar binds
them), the parts are read by the grammar a batch at a time, and the ORs are
put back as flat lists. That is exact: an OR is the union of its branches'
clauses, and the grammar accepts the whole exactly when it accepts every part.
A part that cannot be cut (an AND, a group under a qualifier or FOLLOWEDBY) is
read whole, in a thread with room for ``MAX_NESTING`` levels when needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product
from typing import Any, TypeVar

from stix2 import patterns as ast
from stix2.pattern_visitor import create_pattern_object
from stix2patterns.exceptions import ParseException

from .._common.errors import PatternError
from .._common.model import DOMAIN, IPV4, IPV6, Atom, Clause
from .regexes import like_or_regex_atom, regex_atom
from .room import with_room
from .values import (
    ADDRESS_KINDS,
    GRAMMAR_SPACE,
    MAX_ALTERNATIVES,
    MAX_CLAUSES,
    MAX_NESTING,
    NESTED_TOO_DEEPLY,
    TOO_MANY_ALTERNATIVES,
    TOO_MANY_CLAUSES,
    atom,
    kind_of,
    unescape,
)

# An atom with the object type whose property it compares (AND needs one type).
_Term = tuple[Atom, str]
_T = TypeVar("_T")

# What cutting a pattern needs of its text: string literals (passed over),
# brackets, parentheses and the operators, as the grammar's lexer sees them
# (upper case, not inside a longer identifier).
_TOKEN = re.compile(r"'(?:[^'\\]|\\.)*'|[][()]|(?<![\w-])(?:AND|OR|FOLLOWEDBY)(?![\w-])", re.DOTALL)
_CLOSING = {"(": ")", "[": "]"}
# Up to this many tokens a pattern goes to the grammar whole, as it always
# has (and its errors keep the grammar's own positions): far below the
# few hundred ORs or few dozen parentheses that exhaust the stack.
_WHOLE_UP_TO = 64
# Parts read by one call of the grammar: few enough for its recursion, many
# enough that its cost per call does not dominate.
_BATCH_TOKENS = 150


def clauses_of(pattern: str, stix_version: str, *, cut: bool | None = None) -> tuple[list[Clause], list[str]]:
    """(clauses, warnings) of ``pattern``, or PatternError with the reason.

    ``cut`` forces (True) or forbids (False) cutting the pattern at its ORs;
    by default only large patterns are cut. Tests compare the two.
    """
    try:
        return _clauses(pattern, stix_version, cut)
    except RecursionError:
        # Too deep for the stack this was called on: once more, with room.
        return with_room(lambda: _clauses(pattern, stix_version, cut))


def _clauses(pattern: str, stix_version: str, cut: bool | None) -> tuple[list[Clause], list[str]]:
    tokens = _tokens(pattern) if cut is not False else None
    if tokens is not None and sum(token.text == "OR" for token in tokens) >= MAX_ALTERNATIVES:
        raise PatternError(TOO_MANY_ALTERNATIVES)  # before any work on its parts
    if tokens is None or (cut is None and len(tokens) <= _WHOLE_UP_TO):
        tree = _parsed(pattern, stix_version)
    else:
        tree = _cut(pattern, tokens, stix_version)
    warnings: list[str] = []
    clauses = _observations(tree, warnings)
    if len(clauses) > MAX_ALTERNATIVES:
        raise PatternError(TOO_MANY_ALTERNATIVES)
    return clauses, warnings


def _parsed(pattern: str, stix_version: str) -> Any:
    try:
        return create_pattern_object(pattern, version=stix_version)
    except ParseException as exc:
        raise PatternError(f"invalid STIX pattern: {exc}") from None
    except RecursionError:
        raise
    except Exception as exc:  # noqa: BLE001 - stix2 raises bare ValueError/TypeError for semantic errors
        raise PatternError(f"invalid STIX pattern: {exc}") from None


@dataclass(slots=True)
class _Token:
    start: int
    end: int
    text: str
    partner: int = -1  # for a bracket or parenthesis, the index of the other one


@dataclass(slots=True)
class _OrList:
    """An OR list put back from a pattern's parts: its branches, flattened."""

    operands: list[Any]


def _tokens(pattern: str) -> list[_Token] | None:
    """The pattern's tokens outside strings, each bracket paired with the other;
    None when they do not pair (the grammar will say where)."""
    tokens: list[_Token] = []
    opened: list[int] = []
    for found in _TOKEN.finditer(pattern):
        text = found.group()
        if text.startswith("'"):
            continue
        token = _Token(found.start(), found.end(), text)
        if text in _CLOSING:
            opened.append(len(tokens))
        elif text in ")]":
            if not opened or _CLOSING[tokens[opened[-1]].text] != text:
                return None
            token.partner = opened.pop()
            tokens[token.partner].partner = len(tokens)
        tokens.append(token)
    return None if opened else tokens


@dataclass(frozen=True, slots=True)
class _Part:
    """A stretch of the pattern: characters [start, end), tokens [first, last)."""

    start: int
    end: int
    first: int
    last: int
    observations: bool  # between observations (else between comparisons, inside one)


def _cut(pattern: str, tokens: list[_Token], stix_version: str) -> _OrList:
    """The tree of ``pattern`` with every OR that can be cut at made a flat list
    of branches, in the pattern's order; what is left is read by the grammar."""
    top = _OrList([])
    leaves: list[_Leaf] = []
    pending = [(_Part(0, len(pattern), 0, len(tokens), True), top.operands)]
    while pending:  # depth first, each part's pieces in order: the pattern's order
        part, branches = pending.pop()
        part = _trimmed(pattern, part)
        inner = _inside(part, tokens)
        if inner is not None and inner.observations == part.observations:
            pending.append((inner, branches))  # a group in parentheses: its branches join this list
            continue
        if inner is not None:
            comparisons = _OrList([])  # one observation: a list of its own
            branches.append(ast.ObservationExpression(comparisons))
            pending.append((inner, comparisons.operands))
            continue
        pieces = _or_pieces(part, tokens)
        if len(pieces) > 1:
            pending.extend((piece, branches) for piece in reversed(pieces))
            continue
        if part.last - part.first > MAX_NESTING:
            raise PatternError(NESTED_TOO_DEEPLY)
        text = pattern[part.start : part.end]
        leaves.append(_Leaf(text, part.observations, part.last - part.first, branches, len(branches)))
        branches.append(None)  # its place, filled once the grammar has read it
        if len(leaves) > MAX_ALTERNATIVES:
            raise PatternError(TOO_MANY_ALTERNATIVES)
    for batch in _batches(leaves):
        _read(batch, stix_version)
    return top


def _inside(part: _Part, tokens: list[_Token]) -> _Part | None:
    """What is inside ``part`` when it is wholly one group in parentheses, or,
    between observations, one observation in brackets; else None."""
    if part.first == part.last:
        return None
    opening, closing = tokens[part.first], tokens[part.last - 1]
    if opening.start != part.start or closing.end != part.end or opening.partner != part.last - 1:
        return None
    if opening.text == "[" and not part.observations:
        return None
    inside_observation = part.observations and opening.text == "("
    return _Part(opening.end, closing.start, part.first + 1, part.last - 1, inside_observation)


@dataclass(frozen=True, slots=True)
class _Leaf:
    """A part no OR cuts: the grammar reads it, and its tree takes ``branches[place]``."""

    text: str
    observations: bool
    tokens: int
    branches: list[Any]
    place: int


_SPACES = re.compile(f"[{GRAMMAR_SPACE}]*")
_IS_SPACE = re.compile(f"[{GRAMMAR_SPACE}]")


def _trimmed(pattern: str, part: _Part) -> _Part:
    """``part`` without the space around it (found without copying the text)."""
    found = _SPACES.match(pattern, part.start, part.end)
    start = found.end() if found else part.start
    end = part.end
    while end > start and _IS_SPACE.match(pattern, end - 1):
        end -= 1
    return _Part(start, end, part.first, part.last, part.observations)


def _or_pieces(part: _Part, tokens: list[_Token]) -> list[_Part]:
    """``part`` cut at its own ORs (not those inside its brackets and parentheses).

    Between observations FOLLOWEDBY binds looser than OR, so a part holding
    one is not cut; AND and the qualifiers bind tighter and stay in their piece.
    """
    cuts: list[int] = []
    index = part.first
    while index < part.last:
        token = tokens[index]
        if token.text == "FOLLOWEDBY" and part.observations:
            return [part]
        if token.text == "OR":
            cuts.append(index)
        index = token.partner + 1 if token.text in _CLOSING else index + 1
    pieces: list[_Part] = []
    start, first = part.start, part.first
    for cut in cuts:
        pieces.append(_Part(start, tokens[cut].start, first, cut, part.observations))
        start, first = tokens[cut].end, cut + 1
    pieces.append(_Part(start, part.end, first, part.last, part.observations))
    return pieces


def _batches(leaves: list[_Leaf]) -> list[list[_Leaf]]:
    """Leaves of one kind in a row, up to ``_BATCH_TOKENS`` tokens a batch."""
    batches: list[list[_Leaf]] = []
    size = 0
    for leaf in leaves:
        if batches and batches[-1][0].observations == leaf.observations and size + leaf.tokens < _BATCH_TOKENS:
            batches[-1].append(leaf)
            size += leaf.tokens + 3  # the parentheses and OR that join it
        else:
            batches.append([leaf])
            size = leaf.tokens + 3
    return batches


def _read(batch: list[_Leaf], stix_version: str) -> None:
    """Read a batch of leaves with one call of the grammar, as ``(a) OR (b) ...``,
    and put each leaf's tree in its place."""
    joined = " OR ".join(f"({leaf.text})" for leaf in batch)
    observations = batch[0].observations
    try:
        tree = _parsed(joined if observations else f"[{joined}]", stix_version)
    except PatternError:
        for leaf in batch:  # name the part at fault, with positions in it
            _parsed(leaf.text if observations else f"[{leaf.text}]", stix_version)
        raise
    grouped = _or_operands(tree, len(batch)) if observations else _comparison_operands(tree.operand, len(batch))
    for leaf, node in zip(batch, grouped, strict=True):
        leaf.branches[leaf.place] = node.expression


def _or_operands(node: Any, count: int) -> list[Any]:
    """The ``count`` operands of ``a OR b OR ...`` between observations, which
    stix2 nests to the left: ``((a OR b) OR c)``."""
    operands = []
    for _ in range(count - 1):
        node, last = node.operands
        operands.append(last)
    operands.append(node)
    return operands[::-1]


def _comparison_operands(node: Any, count: int) -> list[Any]:
    """The ``count`` operands of ``a OR b OR ...`` inside one observation, which stix2 keeps flat."""
    return [node] if count == 1 else list(node.operands)


def _observations(node: Any, warnings: list[str]) -> list[Clause]:
    if isinstance(node, ast.ObservationExpression):
        return _one_object_each(_boolean(node.operand, warnings), warnings)
    if isinstance(node, (ast.OrObservationExpression, _OrList)):
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
    unsatisfiable: list[str] = []
    for clause in terms:
        object_types = sorted({object_type for _, object_type in clause})
        if len(object_types) > 1:
            mixed.append(" AND ".join(object_types))
            continue
        atoms, why = _without_reference_types(frozenset(atom for atom, _ in clause))
        if atoms is None:
            unsatisfiable.append(why)
        else:
            clauses.append(atoms)
    reasons = list(dict.fromkeys(unsatisfiable))
    if mixed:
        reasons.append(f"AND across object types ({'; '.join(dict.fromkeys(mixed))}) cannot be satisfied by one object")
    if not clauses:
        prefix = "invalid STIX pattern: " if mixed and not unsatisfiable else ""
        raise PatternError(prefix + "; ".join(reasons))
    warnings.extend(f"part of the pattern was not compiled: {reason}" for reason in reasons)
    return clauses


def _boolean(node: Any, warnings: list[str]) -> list[frozenset[_Term]]:
    if isinstance(node, ast.ParentheticalExpression):
        return _boolean(node.expression, warnings)
    if isinstance(node, (ast.OrBooleanExpression, _OrList)):
        return _any_of(node.operands, _boolean, warnings)
    if isinstance(node, ast.AndBooleanExpression):
        named = _file_named_by_its_hashes(node, warnings)
        if named is not None:
            return named
        combined: list[frozenset[_Term]] = [frozenset()]
        for operand in node.operands:
            parts = _boolean(operand, warnings)
            if len(combined) * len(parts) > MAX_CLAUSES:
                raise PatternError(TOO_MANY_CLAUSES)
            combined = [left | right for left, right in product(combined, parts)]
        return combined
    return [frozenset((term,)) for term in _comparison(node, warnings)]


def _file_named_by_its_hashes(node: Any, warnings: list[str]) -> list[frozenset[_Term]] | None:
    """A flat AND of ``=`` on one file that holds exact hashes, as MISP writes a
    file object (its hashes, name, size, mime type, ...): each exact hash names
    the content, so the file is any one of them, with the other parts a log
    can show (its name) still ANDed; what no log line shows (size, fuzzy
    hashes, mime type) follows from the content and is left out, with a
    warning. No log line writes every hash. None for any other AND."""
    hashes: list[_Term] = []
    kept: list[_Term] = []
    left_out: list[str] = []
    for operand in node.operands:
        if not isinstance(operand, ast.EqualityComparisonExpression) or operand.negated:
            return None
        path = operand.lhs
        if path.object_type_name not in _CONTENT_TYPES:
            return None
        steps = [str(component.property_name).strip("'") for component in path.property_path]
        try:
            terms = _comparison(operand, warnings)
        except PatternError:
            left_out.append(f"{path.object_type_name}:{'.'.join(steps)}")
            continue
        is_hash = len(steps) == 2 and steps[0] == "hashes"
        (hashes if is_hash else kept).extend(terms)
    if not hashes or (len(hashes) == 1 and not left_out):
        return None  # an ordinary AND
    if left_out:
        warnings.append(f"a file is named by its exact hashes: {', '.join(dict.fromkeys(left_out))} left out")
    return [frozenset((term, *kept)) for term in dict.fromkeys(hashes)]


# Objects a hash names whole: their other properties follow from their content.
_CONTENT_TYPES = ("file", "artifact")


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
    if len(clauses) > MAX_ALTERNATIVES:
        raise PatternError(TOO_MANY_ALTERNATIVES)
    warnings.extend(f"part of the pattern was not compiled: {reason}" for reason in reasons)
    return clauses


def _comparison(node: Any, warnings: list[str]) -> list[_Term]:
    """One comparison -> the atoms any of which satisfies it, with its object type."""
    operator = getattr(node, "operator", type(node).__name__)
    if getattr(node, "negated", False):
        raise PatternError(f"negated {operator} is not supported")
    if _is_reference_type(node.lhs):
        return _reference_type(node)
    kind, object_type = _kind(node.lhs, warnings)
    if isinstance(node, ast.EqualityComparisonExpression):
        atoms = [atom(kind, _literal(node.rhs), warnings)]
    elif isinstance(node, ast.InComparisonExpression):
        atoms = _in_list(kind, node.rhs, warnings)
    elif isinstance(node, ast.LikeComparisonExpression):
        atoms = [like_or_regex_atom(kind, _string(node.rhs), warnings)]
    elif isinstance(node, ast.MatchesComparisonExpression):
        atoms = [regex_atom(kind, _string(node.rhs))]
    elif isinstance(node, ast.IsSubsetComparisonExpression) and kind in ADDRESS_KINDS:
        atoms = [atom(kind, _literal(node.rhs), warnings)]
    else:
        raise PatternError(f"{operator} is not supported on {kind}")
    return [(atom, object_type) for atom in atoms]


# ``network-traffic:dst_ref.type = 'ipv4-addr'`` (MISP's STIX 2 exports write one
# beside every ``dst_ref.value``) says which object the reference names: true
# of the value beside it when the value is of that type. It becomes a marker
# atom that ``_one_object_each`` checks and removes; no clause keeps one.
_REFERENCE = "reference-type"
_REFERENCE_KINDS = {"ipv4-addr": (IPV4,), "ipv6-addr": (IPV6, IPV4), "domain-name": (DOMAIN,)}
_ADDRESS_VALUE_KINDS = (IPV4, IPV6, DOMAIN)


def _is_reference_type(path: Any) -> bool:
    steps = [str(component.property_name).strip("'") for component in path.property_path]
    return path.object_type_name == "network-traffic" and steps in (["dst_ref", "type"], ["src_ref", "type"])


def _reference_type(node: Any) -> list[_Term]:
    if isinstance(node, ast.EqualityComparisonExpression):
        written = [_string(node.rhs)]
    elif isinstance(node, ast.InComparisonExpression):
        written = [_string(element) for element in getattr(node.rhs, "value", [])]
    else:
        raise PatternError(f"{node.operator} is not supported on a reference's type")
    for value in written:
        if value not in _REFERENCE_KINDS:
            raise PatternError(f"a reference to a {value!r} object names nothing a log line shows")
    return [(Atom(_REFERENCE, value), "network-traffic") for value in written]


def _without_reference_types(atoms: frozenset[Atom]) -> tuple[frozenset[Atom] | None, str]:
    """``atoms`` without their reference types, or None and why no object satisfies them."""
    types = {found.value for found in atoms if found.kind == _REFERENCE}
    rest = frozenset(found for found in atoms if found.kind != _REFERENCE)
    if not types:
        return rest, ""
    if not rest:
        return None, "a reference's type alone is no indicator"
    fitting = {kind for written in types for kind in _REFERENCE_KINDS[written]}
    if any(found.kind in _ADDRESS_VALUE_KINDS and found.kind not in fitting for found in rest):
        return None, f"the reference's type ({', '.join(sorted(types))}) does not fit its value"
    return rest, ""


def _in_list(kind: str, rhs: Any, warnings: list[str]) -> list[Atom]:
    atoms: list[Atom] = []
    for element in getattr(rhs, "value", []):
        try:
            atoms.append(atom(kind, _literal(element), warnings))
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


def _literal(constant: Any) -> str | int:
    """A compared value: a string, or an integer (ports)."""
    if isinstance(constant, ast.IntegerConstant):
        return int(constant.value)
    return _string(constant)


def _string(constant: Any) -> str:
    if not isinstance(constant, ast.StringConstant):
        raise PatternError(f"{type(constant).__name__} values are not supported")
    return unescape(str(constant.value))
