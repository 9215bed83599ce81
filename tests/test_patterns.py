"""Pattern compilation: the fast path equals the full grammar, and what the
grammar cannot express in the contract is refused with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iocmatch import PatternError
from iocmatch._patterns.clauses import compile_pattern
from tests import strategies as gen

PATHS = {
    # Some defanged (refanged with a warning, which the fast path gives as the grammar does).
    "domain-name:value": st.one_of(gen.domains, gen.domains.map(lambda name: name.replace(".", "[.]", 1))),
    "file:hashes.MD5": gen.md5s,
    "file:hashes.'SHA-256'": gen.sha256s,
    "ipv4-addr:value": gen.ipv4s,
    "ipv6-addr:value": gen.ipv6s,
    "email-addr:value": gen.emails,
    "mutex:name": st.text(min_size=1, max_size=12).filter(str.strip),
    "windows-registry-key:key": st.text(alphabet="HKCUabc\\' _-", min_size=1, max_size=16).filter(str.strip),
    # Literal properties, a quoted header name among them.
    "process:command_line": st.text(alphabet="abC:\\\"' -/%", min_size=1, max_size=12).filter(str.strip),
    "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'": st.text(min_size=1, max_size=12),
    "network-traffic:extensions.'http-request-ext'.request_value": st.text(alphabet="/ab?=&", min_size=1, max_size=8),
    "x509-certificate:serial_number": st.text(alphabet="0123456789abcdef:", min_size=6, max_size=12),
    "network-traffic:dst_ref.value": st.one_of(gen.ipv4s, gen.domains, gen.ipv6s),
    # A port alone is refused, on either path, however it is ORed.
    "network-traffic:src_port": st.integers(0, 70000).map(str),
    # Values that do not fit their kind send the pattern to the full grammar.
    "file:hashes.'SHA-1'": st.text(alphabet="0123456789abcdefg", min_size=39, max_size=41),
}
SPACES = st.sampled_from(["", " ", "  ", "\t"])


def quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def simple_comparison(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(sorted(PATHS)))
    values = draw(st.lists(PATHS[path], min_size=1, max_size=3))
    space = draw(SPACES)
    if len(values) > 1 or draw(st.booleans()):
        return f"{path} IN{space}({', '.join(map(quoted, values))})"
    operator = draw(st.sampled_from(["=", "ISSUBSET", "LIKE"] if path.startswith("ipv") else ["=", "LIKE"]))
    value = values[0]
    if operator == "LIKE":
        value = f"%.{value}" if path == "domain-name:value" and draw(st.booleans()) else f"{value}%"
    return f"{path}{space} {operator} {quoted(value)}"


@st.composite
def simple_patterns(draw: st.DrawFn) -> str:
    """Observations of comparisons joined by OR, joined by OR."""
    observations = []
    for _ in range(draw(st.integers(1, 3))):
        comparisons = draw(st.lists(simple_comparison(), min_size=1, max_size=4))
        observations.append(f"[{draw(SPACES)}" + " OR ".join(comparisons) + f"{draw(SPACES)}]")
    return " OR ".join(observations)


def outcome(pattern: str, fast: bool) -> object:
    try:
        return compile_pattern(pattern, fast=fast)
    except PatternError as exc:
        return str(exc)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(simple_patterns())
def test_fast_path_equals_the_full_grammar(pattern: str) -> None:
    assert outcome(pattern, fast=True) == outcome(pattern, fast=False)


@pytest.mark.parametrize(
    "pattern",
    [
        "[domain-name:value = ('evil.example')]",  # '=' takes one value, IN a list
        "[domain-name:value IN 'evil.example']",
        "[domain-name:value LIKE ('evil%')]",
        "[ipv4-addr:value ISSUBSET ('198.51.100.0/24')]",
        "[domain-name:valueIN ('evil.example')]",  # one identifier, no operator
        "[domain-name:value = 'evil.example'\x1c]",  # white space to Python, not to the grammar
        "[domain-name:value = 'a.example']\x1cOR [domain-name:value = 'b.example']",
    ],
)
def test_fast_path_refuses_what_the_grammar_refuses(pattern: str) -> None:
    assert outcome(pattern, fast=False) == outcome(pattern, fast=True)
    with pytest.raises(PatternError, match="invalid STIX pattern"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        # stix2 3.0.2 drops NOT before LIKE/IN/MATCHES: refused from the text.
        ("[domain-name:value NOT LIKE '%.evil.example']", "NOT is not supported"),
        ("[domain-name:value NOT IN ('evil.example')]", "NOT is not supported"),
        ("[domain-name:value != 'evil.example']", "negated = is not supported"),
        ("[file:size > 10]", "file:size cannot be seen in a log line"),
        ("[x-acme-beacon:name = 'evil.exe']", "object path x-acme-beacon:name is not supported"),
        ("[network-traffic:dst_port = '443']", "a port alone is no indicator"),
        ("[domain-name:value = 'a.example'] FOLLOWEDBY [domain-name:value = 'b.example']", "FOLLOWEDBY"),
        ("[domain-name:value = 'a.example'] AND [domain-name:value = 'b.example']", "AND between observations"),
        ("[domain-name:value = 'a.example'] WITHIN 5 SECONDS", "WITHIN"),
        ("[domain-name:value = 'a.example'] REPEATS 2 TIMES", "REPEATS"),
        ("[domain-name:value = 'a.example' AND ipv4-addr:value = '1.2.3.4']", "invalid STIX pattern"),
        ("[file:hashes.MD5 = 'abc']", "not a valid MD5"),
        ("[ipv4-addr:value = '300.1.2.3']", "not a valid ipv4-addr"),
        ("[domain-name:value = 'a.example'", "invalid STIX pattern"),
    ],
)
def test_unsupported_patterns_are_refused_with_a_reason(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError, match=reason):
        compile_pattern(pattern)


def test_an_or_branch_that_cannot_compile_is_dropped_with_a_warning() -> None:
    compiled = compile_pattern("[domain-name:value = 'a.example' OR file:size = 10]")
    assert [sorted(a.value for a in clause) for clause in compiled.clauses] == [["a.example"]]
    assert compiled.warnings == ("part of the pattern was not compiled: file:size cannot be seen in a log line",)


def test_an_and_with_an_unobservable_part_is_not_weakened() -> None:
    with pytest.raises(PatternError, match="file:size"):
        compile_pattern("[file:name = 'evil.exe' AND file:size = 10]")


def test_a_file_object_is_any_of_its_exact_hashes_with_its_name() -> None:
    """MISP writes a file object as one AND of its hashes, name, size and more:
    a hash names the content (its size, type and other hashes follow), so
    each exact hash with the name is one clause; the rest is left out, said."""
    md5, sha256 = "0123456789abcdef0123456789abcdef", "ab" * 32
    compiled = compile_pattern(
        f"[file:hashes.MD5 = '{md5}' AND file:hashes.'SHA-256' = '{sha256}' AND file:hashes.SSDEEP = '3:a:b'"
        " AND file:name = 'dcmd.dll' AND file:size = '291840' AND file:x_misp_mimetype = 'application/x-dosexec']"
    )
    assert {frozenset((a.kind, a.value) for a in clause) for clause in compiled.clauses} == {
        frozenset({("md5", md5), ("file-name", "dcmd.dll")}),
        frozenset({("sha256", sha256), ("file-name", "dcmd.dll")}),
    }
    assert compiled.warnings == (
        "a file is named by its exact hashes: file:hashes.SSDEEP, file:size, file:x_misp_mimetype left out",
    )
    only_size = compile_pattern(f"[file:hashes.MD5 = '{md5}' AND file:size = 10]")
    assert [{(a.kind, a.value) for a in clause} for clause in only_size.clauses] == [{("md5", md5)}]


def test_in_list_keeps_valid_values_and_warns_about_the_rest() -> None:
    compiled = compile_pattern("[file:hashes.MD5 IN ('0123456789abcdef0123456789abcdef', 'abc')]")
    assert len(compiled.clauses) == 1
    assert "'abc' is not a valid MD5" in compiled.warnings[0]


@pytest.mark.parametrize("fast", [True, False])
def test_an_address_written_as_a_domain_name_is_read_as_an_address(fast: bool) -> None:
    """Amnesty's NoviSpy writes its addresses as ``domain-name:value``: they are
    looked for, and judged for breadth, as the addresses they are."""
    compiled = compile_pattern("[domain-name:value = '176.223.111.131']", fast=fast)
    assert [(a.kind, a.value) for clause in compiled.clauses for a in clause] == [("ipv4-addr", "176.223.111.131")]
    assert compiled.warnings == ("domain-name value '176.223.111.131' is an IPv4 address: read as one",)
