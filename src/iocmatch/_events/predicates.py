"""A STIX pattern -> a predicate over one record's objects, with STIX semantics.

Read through stix2's pattern AST (``grammar.py``). One observation expression (``[...]``), or
several joined by OR, compiles; AND, FOLLOWEDBY and qualifiers between
observations speak of several records over time and are refused here.

Inside ``[...]``, as the STIX specification and its reference matcher say:

- A comparison holds when some value its path reaches holds it: any object of
  its type in the record, any element of a list (``protocols[*]``), the
  element given (``protocols[0]``). A list property (``LIST_PROPERTIES``) is
  only compared through an index. A path the record does not hold makes the
  comparison false, negated or not: nothing is guessed.
- ``AND`` holds when one object holds every operand (the grammar requires one
  object type); ``OR`` when either does.
- ``NOT`` (and ``!=``, the same in the grammar) negates the comparison of
  each value: ``dst_port != 80`` holds for a record whose port is 443, not
  for one with no port.
- ``=``, ``<``, ``<=``, ``>``, ``>=`` compare a string with a string (by code
  point), a number with a number, a timestamp with a timestamp (``t'...'``)
  or with a string written as one; other pairs never compare (false, true
  when negated).
- ``IN``: equal to one of the list. ``LIKE``: the whole value, ``%`` any run,
  ``_`` one character. ``MATCHES``: RE2 finds the regex anywhere in the value
  (a regex RE2 refuses, such as one with backreferences, is refused with the
  pattern). ``ISSUBSET``/``ISSUPERSET``: an address or CIDR inside/around the
  given CIDR, IPv4 and IPv6.
- Hashes (``hashes.*``) and domain names compare without case in ``=``,
  ``IN``, ordering and ``LIKE`` (hex digests and DNS names have no case);
  every other string keeps its case, and ``MATCHES`` always does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import eq, ge, gt, le, lt
from typing import Any, TypeVar

from .._common.errors import PatternError
from .._common.lazy import LazyModule
from .._patterns.values import unescape
from .objects import StixObject

# Properties STIX defines as lists: a comparison reaches their elements only through an index.
LIST_PROPERTIES = frozenset(
    {
        "network-traffic:protocols",
        "email-message:to_refs",
        "email-message:cc_refs",
        "email-message:bcc_refs",
        "domain-name:resolves_to_refs",
        "process:child_refs",
        "process:opened_connection_refs",
        "process:arguments",
    }
)
ast = LazyModule("stix2.patterns")
# An ordering's outcome from the comparison of a value with the literal (-1, 0, 1).
_OUTCOMES: dict[str, Callable[[int, int], bool]] = {
    "=": eq,
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}
# AND/OR nesting a pattern may have: evaluation recurses once per level, on
# the stack of the scan. Patterns from feeds nest a few levels.
MAX_JUNCTION_DEPTH = 100
# How a path's values compare (form_of).
FOLDED = "folded"
ADDRESS = "address"
AS_WRITTEN = ""
_NO_INDEX = None
_ALL = "*"

Test = Callable[[Any], bool]
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Comparison:
    """One comparison: the path it reads, the test each value gets, and what it needs of a record."""

    object_type: str
    steps: tuple[tuple[str, str | int | None], ...]  # (property name, list index)
    negated: bool
    test: Test
    key: str  # "type:a.b" (one reference deep at most), the path the matcher's index knows
    equal_to: tuple[Any, ...] = ()  # values any of which '=' or IN needs (for the index), none when negated

    def holds(self, obj: StixObject) -> bool:
        if obj.type != self.object_type:
            return False
        return any(self.test(value) != self.negated for value in reach(obj, self.steps, self.object_type))

    def missing(self, provided: frozenset[str]) -> list[str]:
        """The paths this comparison reads that no record can hold (the comparison never holds then)."""
        if self.key.endswith(":*") or self.key in provided:
            return []
        if "hashes." in self.key and self.key.split("hashes.", 1)[0] + "hashes.*" in provided:
            return []  # a list of hashes (Sysmon's Hashes) gives whatever names it holds
        return [self.key]

    def fields(self, obj: StixObject) -> list[str]:
        """The record's fields whose values make this comparison hold on ``obj``."""
        if obj.type != self.object_type:
            return []
        return [field for value, field in reach_sources(obj, self.steps) if self.test(value) != self.negated]


@dataclass(frozen=True, slots=True)
class Junction:
    """AND (``every``) or OR of comparisons or junctions, over one object."""

    every: bool
    operands: tuple[Comparison | Junction, ...]

    def holds(self, obj: StixObject) -> bool:
        if self.every:
            return all(operand.holds(obj) for operand in self.operands)
        return any(operand.holds(obj) for operand in self.operands)

    def missing(self, provided: frozenset[str]) -> list[str]:
        """Paths no record holds that keep this junction from ever holding."""
        missing = [operand.missing(provided) for operand in self.operands]
        if self.every:
            return [path for paths in missing for path in paths]
        return [] if any(not paths for paths in missing) else [path for paths in missing for path in paths]

    def fields(self, obj: StixObject) -> list[str]:
        """The record's fields of every operand that holds on ``obj``."""
        return [field for operand in self.operands for field in operand.fields(obj)]


Node = Comparison | Junction


@dataclass(frozen=True, slots=True)
class Observation:
    """One ``[...]``: holds when some object of its root types holds its expression."""

    root_types: frozenset[str]
    expression: Node

    def holds(self, by_type: dict[str, list[StixObject]]) -> bool:
        return any(self.expression.holds(obj) for kind in self.root_types for obj in by_type.get(kind, ()))

    def fields(self, by_type: dict[str, list[StixObject]]) -> list[str]:
        """The record's fields that make this observation hold, read on the first object that holds it."""
        for kind in sorted(self.root_types):
            for obj in by_type.get(kind, ()):
                if self.expression.holds(obj):
                    return self.expression.fields(obj)
        return []


def observations_of(pattern: str) -> tuple[Observation, ...]:
    """The observations of ``pattern`` (any one holding is a match), or PatternError with the reason."""
    from .grammar import parse  # stix2's parser: imported by the first pattern read as a tree

    tree = parse(pattern)
    found: list[Observation] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.ParentheticalExpression):
            pending.append(node.expression)
        elif isinstance(node, ast.OrObservationExpression):
            pending.extend(reversed(node.operands))
        elif isinstance(node, ast.ObservationExpression):
            expression = _node(node.operand)
            found.append(Observation(frozenset(_root_types(expression)), expression))
        elif isinstance(
            node,
            (ast.AndObservationExpression, ast.FollowedByObservationExpression, ast.QualifiedObservationExpression),
        ):
            raise PatternError(
                "AND, FOLLOWEDBY and qualifiers between observations need a stream of records, not one record"
            )
        else:
            raise PatternError(f"unexpected part of a pattern: {type(node).__name__}")
    return tuple(found)


def compile_observation(operand: Any) -> Observation:
    """One ``[...]`` of stix2's AST (its comparison expression) as an Observation; PatternError with the reason."""
    expression = _node(operand)
    return Observation(frozenset(_root_types(expression)), expression)


def _node(expression: Any, depth: int = 0) -> Node:
    while isinstance(expression, ast.ParentheticalExpression):
        expression = expression.expression
    if isinstance(expression, (ast.AndBooleanExpression, ast.OrBooleanExpression)):
        if depth >= MAX_JUNCTION_DEPTH:
            raise PatternError(f"AND and OR are nested more than {MAX_JUNCTION_DEPTH} deep")
        every = isinstance(expression, ast.AndBooleanExpression)
        operands: list[Node] = []
        for operand in expression.operands:
            node = _node(operand, depth + 1)
            # (a AND b) AND c is a AND b AND c: one level, however it was bracketed.
            flat = isinstance(node, Junction) and node.every == every
            operands.extend(node.operands if flat else (node,))  # type: ignore[union-attr]
        return Junction(every, tuple(operands))
    if isinstance(expression, ast._ComparisonExpression):  # the AST's one base of comparisons
        return _comparison(expression)
    raise PatternError(f"unexpected part of a comparison: {type(expression).__name__}")


def _root_types(node: Node) -> Iterator[str]:
    if isinstance(node, Comparison):
        yield node.object_type
    else:
        for operand in node.operands:
            yield from _root_types(operand)


def _comparison(expression: Any) -> Comparison:
    path = expression.lhs
    steps = tuple(
        (component.property_name, _index(getattr(component, "index", _NO_INDEX))) for component in path.property_path
    )
    object_type = path.object_type_name
    form = form_of(object_type, ".".join(name for name, _ in steps))
    operator = expression.operator
    literal = expression.rhs
    test, equal_to = _test(operator, literal, form, object_type, steps)
    key = f"{object_type}:{_key(steps)}"
    return Comparison(object_type, steps, bool(expression.negated), test, key, () if expression.negated else equal_to)


def _index(index: Any) -> str | int | None:
    if index is None or index == _ALL:
        return index  # type: ignore[no-any-return]
    return int(index)


def _key(steps: Sequence[tuple[str, str | int | None]]) -> str:
    names = [name for name, _ in steps]
    refs = [at for at, name in enumerate(names) if name.endswith(("_ref", "_refs"))]
    if len(refs) > 1 or (refs and refs[0] != 0):
        return "*"  # deeper than the index looks: indexed by the object type alone
    return ".".join(names)


@lru_cache(maxsize=4096)
def form_of(object_type: str, path: str) -> str:
    """How values of a path compare: FOLDED without case (hashes, domain names),
    ADDRESS as IP addresses in their canonical form (a record's are read so), or as written."""
    names = path.split(".")
    last_ref = max((at for at, name in enumerate(names) if name.endswith(("_ref", "_refs"))), default=-1)
    tail = names[last_ref + 1 :]
    if "hashes" in tail or (object_type == "domain-name" and tail == ["value"]):
        return FOLDED
    if tail == ["value"] and (last_ref >= 0 or object_type in ("ipv4-addr", "ipv6-addr")):
        return ADDRESS
    return AS_WRITTEN


def folded(value: Any, form: str) -> Any:
    """A record's value as compared on a path of ``form``."""
    return value.lower() if form == FOLDED and isinstance(value, str) else value


def _literal(value: Any, form: str) -> Any:
    if form == ADDRESS and isinstance(value, str):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    return folded(value, form)


def _test(operator: str, literal: Any, form: str, object_type: str, steps: Any) -> tuple[Test, tuple[Any, ...]]:
    if operator in ("=", "<", "<=", ">", ">="):
        wanted = _literal(_value(literal), form)
        return _ordering(operator, wanted, form), _indexable((wanted,) if operator == "=" else ())
    if operator == "IN":
        choices = tuple(_literal(_value(item), form) for item in literal.value)
        return lambda value: any(_compare(folded(value, form), choice) == 0 for choice in choices), _indexable(choices)
    if operator == "LIKE":
        return _regex_test(like_regex(_string(literal)), form == FOLDED, whole=True), ()
    if operator == "MATCHES":
        return _regex_test(_string(literal), folded=False, whole=False), ()
    if operator in ("ISSUBSET", "ISSUPERSET"):
        return _set_test(operator, _string(literal)), ()
    raise PatternError(f"unsupported operator {operator} on {object_type}:{_key(steps)}")


def _indexable(values: tuple[Any, ...]) -> tuple[Any, ...]:
    """The values an index may look up; none when a time is among them (a record may hold it as a string)."""
    return () if any(isinstance(value, datetime) for value in values) else values


def _ordering(operator: str, wanted: Any, form: str) -> Test:
    outcome = _OUTCOMES[operator]

    def test(value: Any) -> bool:
        order = _compare(folded(value, form), wanted)
        return order is not None and outcome(order, 0)

    return test


def _compare(value: Any, wanted: Any) -> int | None:
    """-1, 0 or 1 as ``value`` is below, equal to or above ``wanted``; None when they do not compare."""
    if isinstance(value, datetime) and isinstance(wanted, str):
        value = stix_timestamp(value)
    elif isinstance(value, str) and isinstance(wanted, datetime):
        from .._common.timestamps import parse_timestamp

        try:
            value = parse_timestamp(value)
        except ValueError:
            return None
    same = (
        (isinstance(value, bool) and isinstance(wanted, bool))
        or (_is_number(value) and _is_number(wanted))
        or (isinstance(value, str) and isinstance(wanted, str))
        or (isinstance(value, datetime) and isinstance(wanted, datetime))
    )
    if not same:
        return None
    return (value > wanted) - (value < wanted)  # type: ignore[no-any-return]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def stix_timestamp(moment: datetime) -> str:
    """A timestamp as STIX writes it (UTC, ``Z``, the fraction when there is one)."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{moment.microsecond:06d}Z" if moment.microsecond else f"{text}Z"


def _value(literal: Any) -> Any:
    if isinstance(literal, (ast.HexConstant, ast.BinaryConstant)):
        raise PatternError("hex and binary values compare only with bytes, which log fields do not hold")
    if isinstance(literal, ast.ListConstant):
        raise PatternError("a list compares only with IN")
    if isinstance(literal, ast.StringConstant):
        return unescape(literal.value)
    return literal.value


def _string(literal: Any) -> str:
    value = _value(literal)
    if not isinstance(value, str):
        raise PatternError(f"LIKE, MATCHES, ISSUBSET and ISSUPERSET take a string, not {value!r}")
    return value


def like_regex(like: str) -> str:
    """STIX LIKE as a regular expression of the whole value: ``%`` any run, ``_`` one character."""
    parts = []
    for char in like:
        if char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(char if char.isalnum() and char.isascii() else "\\" + char if char.isascii() else char)
    return "".join(parts)


def _regex_test(regex: str, folded: bool, whole: bool) -> Test:
    import re2  # RE2: linear time on every value, whatever the feed's regex

    options = re2.Options()
    options.log_errors = False
    options.dot_nl = True  # STIX's LIKE wildcards and PCRE's '.' in the reference cover any character
    options.case_sensitive = not folded
    try:
        compiled = re2.compile(regex, options)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"{regex!r} is not a regular expression RE2 runs: {reason}") from None
    except UnicodeEncodeError:
        raise PatternError(f"{regex!r} is not valid Unicode text (a lone surrogate)") from None
    find = compiled.fullmatch if whole else compiled.search

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return find(value) is not None
        except UnicodeEncodeError:  # a lone surrogate (JSON's "\udcff"), which RE2's UTF-8 cannot hold
            return find(value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")) is not None

    return test


def _set_test(operator: str, cidr: str) -> Test:
    try:
        given = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        raise PatternError(f"{operator} needs an address or CIDR, not {cidr!r}") from None

    def test(value: Any) -> bool:
        network = _network(value) if isinstance(value, str) else None
        if network is None:
            return False
        if network.version != given.version:
            return False
        if operator == "ISSUBSET":
            return network.subnet_of(given)  # type: ignore[arg-type]
        return network.supernet_of(given)  # type: ignore[arg-type]

    return test


@lru_cache(maxsize=65536)
def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """An address (as a one-address network) or CIDR; the same few addresses recur record after record."""
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def reach(obj: StixObject, steps: Sequence[tuple[str, str | int | None]], object_type: str) -> list[Any]:
    """The values a path reaches from ``obj``, through its references (which lead a path, as objects.py builds them)."""
    name, index = steps[0]
    if name.endswith(("_ref", "_refs")):
        if len(steps) == 1 or name not in obj.refs:
            return []  # a reference is compared by what it leads to, never by itself
        targets = _indexed(obj.refs[name], index, f"{obj.type}:{name}")
        return [value for target in targets for value in reach(target, steps[1:], target.type)]
    key = ".".join(name for name, _ in steps)
    values = obj.properties.get(key, [])
    return _indexed(values, steps[-1][1], f"{object_type}:{key}") if values else []


def reach_sources(obj: StixObject, steps: Sequence[tuple[str, str | int | None]]) -> list[tuple[Any, str]]:
    """``reach``'s values, each with the record's field it was read from (for hits, off the hot path)."""
    name, index = steps[0]
    if name.endswith(("_ref", "_refs")):
        if len(steps) == 1 or name not in obj.refs:
            return []
        targets = _indexed(obj.refs[name], index, f"{obj.type}:{name}")
        return [pair for target in targets for pair in reach_sources(target, steps[1:])]
    key = ".".join(name for name, _ in steps)
    pairs = list(zip(obj.properties.get(key, []), obj.sources.get(key, []), strict=True))
    return _indexed(pairs, steps[-1][1], f"{obj.type}:{key}") if pairs else []


def _indexed(values: list[_T], index: str | int | None, key: str) -> list[_T]:
    if key not in LIST_PROPERTIES:
        return values if index is None else []
    if index == _ALL:
        return values
    if isinstance(index, int):
        return values[index : index + 1] if -len(values) <= index < len(values) else []
    return []
