"""The library against the naive oracle on random lines: planted values with
random, boundary-testing neighbours, in random case."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from tests import strategies as gen
from tests.conftest import PATTERN_PATHS as PATHS
from tests.conftest import bundle, indicator
from tests.oracle import Atom
from tests.oracle_forms import oracle_form_hits as oracle_hits

_PATH_PART = st.text(alphabet="abcXYZ019-_/.", min_size=1, max_size=8)
cidrs = st.tuples(gen.ipv4s, st.integers(8, 32)).map(lambda t: f"{t[0]}/{t[1]}")
urls = st.builds(
    lambda scheme, host, path: f"{scheme}://{host}/{path}", st.sampled_from(["http", "https"]), gen.domains, _PATH_PART
)
file_names = st.builds(
    lambda stem, ext: f"{stem}.{ext}",
    st.text(alphabet="abcdxyz019_-", min_size=1, max_size=8),
    st.sampled_from(["exe", "dll", "dat"]),
)
mutexes = st.text(alphabet="abcXYZ019_-#!@", min_size=2, max_size=10)
ATOMS = st.one_of(
    gen.domains.map(lambda v: Atom("domain-name", v)),
    gen.md5s.map(lambda v: Atom("md5", v)),
    gen.sha256s.map(lambda v: Atom("sha256", v)),
    gen.ipv4s.map(lambda v: Atom("ipv4-addr", v)),
    cidrs.map(lambda v: Atom("ipv4-addr", v)),
    gen.ipv6s.map(lambda v: Atom("ipv6-addr", v)),
    gen.emails.map(lambda v: Atom("email-addr", v)),
    urls.map(lambda v: Atom("url", v)),
    file_names.map(lambda v: Atom("file-name", v)),
    mutexes.map(lambda v: Atom("mutex", v)),
)
# Neighbours chosen to sit right on the boundary rules: host characters, dots,
# hex digits, colons, e-mail and URL punctuation, white space.
NEIGHBOURS = st.text(alphabet="aZ9_-.:/@%+?&#=\"'[]() \tF0x", max_size=4)


def stix_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@st.composite
def lines_with_plants(draw: st.DrawFn) -> tuple[list[Atom], str]:
    atoms = draw(st.lists(ATOMS, min_size=1, max_size=5, unique=True))
    pieces = [draw(NEIGHBOURS)]
    for _ in range(draw(st.integers(1, 6))):
        atom = draw(st.sampled_from(atoms))
        value = atom.value.split("/")[0] if atom.kind == "ipv4-addr" else atom.value
        if atom.kind in ("domain-name", "md5", "sha256", "email-addr", "ipv6-addr"):
            value = draw(gen.case_changes)(value)
        pieces += [value, draw(NEIGHBOURS)]
    return atoms, "".join(pieces)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(lines_with_plants(), st.booleans(), st.sampled_from(["aho-corasick", "tokens"]))
def test_library_equals_oracle(planted: tuple[list[Atom], str], subdomains: bool, engine: str) -> None:
    atoms, line = planted
    objects = [indicator(f"[{PATHS[a.kind]} = {stix_string(a.value)}]", n) for n, a in enumerate(atoms, 1)]
    # Random values may be a public suffix such as co.jp: the matching rules are under test here.
    loaded = iocmatch.load(bundle(*objects), allow_broad=True)
    assert loaded.report.compiled == len(atoms), loaded.report.problems
    matcher = iocmatch.compile(loaded, subdomains=subdomains, engine=engine)
    want = set(oracle_hits(atoms, line, subdomains))
    assert {(m.start, m.end, m.kind, m.value) for m in matcher.scan_line(line)} == want
    block = matcher.scan_stream(io.BytesIO(line.encode("utf-8", "surrogateescape")))
    assert {(m.start, m.end, m.kind, m.value) for m in block} == want
