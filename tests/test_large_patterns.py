"""Large STIX patterns: ten thousand ORs, between comparisons or between
observations, however parenthesised, compile to the clauses the grammar gives
a small pattern of the same shape; past the documented limits the indicator
is skipped with a reason that names the limit."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch import PatternError
from iocmatch._common.model import DOMAIN, FILE_NAME, MD5, PREFIX, Atom, Clause
from iocmatch._patterns.clauses import compile_pattern
from iocmatch._patterns.tree import clauses_of
from tests.conftest import bundle, indicator

N = 10_000
LIMIT = 100_000  # alternatives an OR may hold, as documented
NESTING = 10_000  # operators, brackets and parentheses in a part no OR cuts, as documented
NESTED_TOO_DEEPLY = (
    "pattern has a part with more than 10,000 operators, brackets and parentheses and no OR to cut it at (the limit)"
)


def branch(number: int) -> tuple[str, Clause]:
    """One OR branch, in turn a LIKE, an '=' and an AND (so the fast path
    does not take the pattern), with the clause it must compile to."""
    if number % 3 == 0:
        return f"file:name LIKE 'dropper{number}%'", frozenset({Atom(FILE_NAME, f"dropper{number}", PREFIX)})
    if number % 3 == 1:
        return f"domain-name:value = 'c2-{number}.example'", frozenset({Atom(DOMAIN, f"c2-{number}.example")})
    digest = f"{number:032x}"
    return (
        f"file:name = 'x{number}.exe' AND file:hashes.MD5 = '{digest}'",
        frozenset({Atom(FILE_NAME, f"x{number}.exe"), Atom(MD5, digest)}),
    )


def comparisons(texts: list[str]) -> str:
    return "[" + " OR ".join(texts) + "]"


def observations(texts: list[str]) -> str:
    return " OR ".join(f"[{text}]" for text in texts)


def groups_of_two(texts: list[str]) -> str:
    return " OR ".join(f"([{a}] OR [{b}])" for a, b in zip(texts[::2], texts[1::2], strict=True))


def nested_observations(texts: list[str]) -> str:
    """``([a] OR ([b] OR ([c] ...)))``: one parenthesis deeper per branch."""
    return "".join(f"([{text}] OR " for text in texts[:-1]) + f"[{texts[-1]}]" + ")" * (len(texts) - 1)


def nested_comparisons(texts: list[str]) -> str:
    """``[(a OR (b OR (c ...)))]`` inside one observation."""
    return "[" + "".join(f"({text} OR " for text in texts[:-1]) + texts[-1] + ")" * (len(texts) - 1) + "]"


SHAPES = [comparisons, observations, groups_of_two, nested_observations, nested_comparisons]


def load_one(pattern: str) -> iocmatch.IndicatorSet:
    loaded = iocmatch.load(bundle(indicator(pattern)))
    report = loaded.report
    assert report.read == report.compiled + report.skipped + report.excluded == 1
    return loaded


# A line for three of the branches: a LIKE, an '=' and an AND.
LINES = [
    "resolved c2-9997.example",
    "wrote C:\\Temp\\dropper0_x64.dll",
    "ran x9998.exe 0000000000000000000000000000270e",
]
HITS = [["c2-9997.example"], ["dropper0%"], ["x9998.exe", "0000000000000000000000000000270e"]]


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES, ids=lambda shape: shape.__name__)
def test_ten_thousand_ors_compile_to_every_branch_in_order(shape: Callable[[list[str]], str]) -> None:
    texts, clauses = zip(*(branch(number) for number in range(N)), strict=True)
    loaded = load_one(shape(list(texts)))
    assert loaded.report.compiled == 1, loaded.report.problems
    assert not loaded.report.warnings
    (compiled,) = loaded.indicators
    assert compiled.clauses == clauses
    matcher = iocmatch.compile(loaded)
    assert [[match.value for match in matcher.scan_line(line)] for line in LINES] == HITS


@pytest.mark.slow
def test_ten_thousand_likes_compile_on_the_fast_path_as_the_grammar_reads_them() -> None:
    pattern = comparisons([f"file:name LIKE 'dropper{number}%'" for number in range(N)])
    fast = compile_pattern(pattern)
    assert fast.clauses == tuple(frozenset({Atom(FILE_NAME, f"dropper{number}", PREFIX)}) for number in range(N))
    assert fast == compile_pattern(pattern, fast=False)


def too_many_comparisons() -> str:
    return comparisons([f"file:name = 'n{number}.exe'" for number in range(LIMIT + 1)])


def too_many_observations() -> str:
    texts, _ = zip(*(branch(number) for number in range(LIMIT + 1)), strict=True)
    return observations(list(texts))


def qualified_group() -> str:
    names = [f"file:name = 'n{number}.exe'" for number in range(NESTING // 3 + 1)]
    return "(" + observations(names) + ") WITHIN 5 SECONDS"


def deep_and() -> str:
    depth = NESTING // 2
    return "[" + "file:name = 'a.exe' AND (" * depth + "file:name = 'b.exe'" + ")" * depth + "]"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (too_many_comparisons, "pattern ORs together more than 100,000 alternatives (the limit)"),
        (too_many_observations, "pattern ORs together more than 100,000 alternatives (the limit)"),
        (qualified_group, NESTED_TOO_DEEPLY),
        (deep_and, NESTED_TOO_DEEPLY),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_past_a_limit_the_indicator_is_skipped_naming_it(pattern: Callable[[], str], reason: str) -> None:
    report = load_one(pattern()).report
    assert report.skipped == 1
    (problem,) = report.problems
    assert (problem.status, problem.reason) == ("skipped", reason)


@pytest.mark.slow
def test_a_part_nested_deeper_than_the_stack_but_within_the_limit_compiles() -> None:
    depth = 2_000  # far past what the grammar reads on an ordinary stack
    names = [f"part{number}.exe" for number in range(depth + 1)]
    pattern = "[" + "".join(f"file:name = '{name}' AND (" for name in names[:-1]) + f"file:name = '{names[-1]}'"
    limit = sys.getrecursionlimit()
    loaded = load_one(pattern + ")" * depth + "]")
    assert sys.getrecursionlimit() == limit
    assert loaded.indicators[0].clauses == (frozenset(Atom(FILE_NAME, name) for name in names),)


@pytest.mark.slow
@pytest.mark.parametrize("where", [0, N // 2, N - 1])
@pytest.mark.parametrize(
    ("broken", "complaint"),
    [
        ("file:name LIKE", "expecting StringLiteral"),
        ("file:name = 'x.exe' AND domain-name:value = 'x.example'", "must be satisfiable with the same object type"),
    ],
)
def test_an_error_in_any_branch_makes_the_whole_pattern_invalid(where: int, broken: str, complaint: str) -> None:
    texts = [f"file:name LIKE 'dropper{number}%'" for number in range(N)]
    texts[where] = broken
    report = load_one(observations(texts)).report
    (problem,) = report.problems
    assert problem.status == "skipped"
    assert problem.reason.startswith("invalid STIX pattern: ")
    assert complaint in problem.reason  # the grammar's own complaint, not an exhausted stack


# -- small patterns: cut at their ORs, they compile as the grammar reads them whole


COMPARISONS = [
    "file:name = 'a.exe'",
    "file:name LIKE 'abcd%'",
    "domain-name:value = 'a.example'",
    "domain-name:value IN ('b.example', 'bad..example')",
    "ipv4-addr:value = '198.51.100.1'",
    "file:name = 'OR ] ) ('",
    "file:name = 'x\\'y'",
    "file:size = 10",  # cannot be seen in a log: its branch is dropped
    "file:hashes.MD5 = 'bad'",
    "file:name MATCHES 'x'",
    "file:name != 'q.exe'",
]


def comparison_expressions(depth: int = 0) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(COMPARISONS)
    if depth > 2:
        return leaf
    inner = comparison_expressions(depth + 1)
    return st.one_of(
        leaf,
        inner.map(lambda text: f"({text})"),
        st.tuples(inner, inner, st.sampled_from(["AND", "OR"])).map(lambda t: f"{t[0]} {t[2]} {t[1]}"),
    )


def observation_expressions(depth: int = 0) -> st.SearchStrategy[str]:
    leaf = comparison_expressions().map(lambda text: f"[{text}]")
    if depth > 2:
        return leaf
    inner = observation_expressions(depth + 1)
    return st.one_of(
        leaf,
        inner.map(lambda text: f"({text})"),
        inner.map(lambda text: f"{text} WITHIN 5 SECONDS"),
        st.tuples(inner, inner, st.sampled_from(["AND", "OR", "OR", "FOLLOWEDBY"])).map(
            lambda t: f"{t[0]} {t[2]} {t[1]}"
        ),
    )


@st.composite
def patterns(draw: st.DrawFn) -> str:
    """A pattern of those shapes, sometimes with a character broken or added."""
    pattern = draw(observation_expressions())
    if draw(st.integers(0, 4)) == 0:
        where = draw(st.integers(0, len(pattern) - 1))
        damage = draw(st.sampled_from(["", " OR ", "]", "(", ")", "'", "\x1c", " OR OR "]))
        pattern = pattern[:where] + damage + pattern[where + 1 :]
    return pattern


def outcome(pattern: str, version: str, cut: bool) -> object:
    """Clauses in order and the reasons of the warnings, or the kind of error.
    An OR nested in another reports its failed branches together or apart
    depending on the nesting, so reasons are compared one by one."""
    try:
        clauses, warnings = clauses_of(pattern, version, cut=cut)
    except PatternError as exc:
        reason = str(exc)
        if reason.startswith("invalid STIX pattern") and "AND across object types" not in reason:
            return "invalid"
        return set(reason.split("; "))
    prefix = "part of the pattern was not compiled: "
    reasons = {part for warning in warnings for part in warning.removeprefix(prefix).split("; ")}
    return list(dict.fromkeys(clauses)), reasons


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(patterns(), st.sampled_from(["2.0", "2.1"]))
def test_cutting_at_ors_gives_what_the_grammar_gives(pattern: str, version: str) -> None:
    assert outcome(pattern, version, cut=True) == outcome(pattern, version, cut=False)
