"""LIKE of any shape and MATCHES: compiled to regexes that RE2 runs, around
the literal text the engines find, on realistic log lines."""

from __future__ import annotations

import io
import pickle
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._common.model import COMMAND_LINE, DOMAIN, FILE_NAME, MATCHES, URL, Atom
from iocmatch._compiling.regex_rule import REACH
from iocmatch._indicators.breadth import too_broad
from iocmatch._patterns import regexes, tree
from iocmatch._patterns.clauses import compile_pattern
from iocmatch._patterns.regexes import like_regex, read_regex
from iocmatch._scanning.long_lines import CONTEXT
from tests.conftest import ENGINES, bundle, indicator

SQUID = "1765015200.123    245 10.1.2.3 TCP_MISS/200 5120 GET {url} - HIER_DIRECT/203.0.113.9 text/html"
APACHE = '198.51.100.7 - - [06/Dec/2026:10:00:00 +0000] "GET {path} HTTP/1.1" 200 512 "-" "Mozilla/5.0"'
ZEEK_DNS = "1765015200.123456\tCx1a2b\t10.1.2.3\t53533\t10.0.0.53\t53\tudp\t4821\t-\t{query}\t1\tC_INTERNET\t1\tA"
BIND = (
    "06-Dec-2026 10:00:00.123 queries: info: client @0x7f3a 10.1.2.3#53533 ({query}): query: {query} IN A + (10.0.0.53)"
)
SYSMON_IMAGE = (
    "Process Create: RuleName: - UtcTime: 2026-12-06 10:00:00.123 ProcessId: 4242 "
    "Image: {image} FileVersion: - CommandLine: {command}"
)
ENCODED = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"

PS_ENCODED = r"(?i)powershell(\\.exe)?\\s.*-enc(odedcommand)?\\s+[A-Za-z0-9+/=]{40,}"
DGA = r"^[a-z0-9]{8}\\.dgaevil\\.net$"

# (name, pattern, line, the texts that hit, in order)
CASES: list[tuple[str, str, str, list[str]]] = [
    (
        "squid URL LIKE with % at both ends",
        "[url:value LIKE '%.evil-cdn.com/gate%']",
        SQUID.format(url="http://cdn.evil-cdn.com/gate.php?id=7"),
        [".evil-cdn.com/gate"],
    ),
    (
        "squid URL LIKE: the host goes on",
        "[url:value LIKE '%.evil-cdn.com/gate%']",
        SQUID.format(url="http://cdn.evil-cdn.com.example.net/gate.php"),
        [],
    ),
    (
        "apache path MATCHES",
        r"[url:value MATCHES '/wp-content/plugins/[a-z]+shell/up\\.php']",
        APACHE.format(path="/wp-content/plugins/wpshell/up.php"),
        ["/wp-content/plugins/wpshell/up.php"],
    ),
    (
        "apache path MATCHES keeps a URL path's case",
        r"[url:value MATCHES '/wp-content/plugins/[a-z]+shell/up\\.php']",
        APACHE.format(path="/WP-CONTENT/plugins/wpshell/up.php"),
        [],
    ),
    (
        "apache path MATCHES stays in one field",
        r"[url:value MATCHES '/wp-content/plugins/[a-z]+shell/up\\.php.*HTTP/2']",
        APACHE.format(path="/wp-content/plugins/wpshell/up.php"),
        [],
    ),
    (
        "zeek DGA name",
        f"[domain-name:value MATCHES '{DGA}']",
        ZEEK_DNS.format(query="q7x9k2m4.dgaevil.net"),
        ["q7x9k2m4.dgaevil.net"],
    ),
    (
        "zeek DGA: one label too long",
        f"[domain-name:value MATCHES '{DGA}']",
        ZEEK_DNS.format(query="aq7x9k2m4.dgaevil.net"),
        [],
    ),
    (
        "zeek DGA: a subdomain is another value",
        f"[domain-name:value MATCHES '{DGA}']",
        ZEEK_DNS.format(query="www.q7x9k2m4.dgaevil.net"),
        [],
    ),
    (
        "zeek DGA: under another domain",
        f"[domain-name:value MATCHES '{DGA}']",
        ZEEK_DNS.format(query="q7x9k2m4.dgaevil.net.example.org"),
        [],
    ),
    (
        "zeek DGA: a trailing FQDN dot",
        f"[domain-name:value MATCHES '{DGA}']",
        ZEEK_DNS.format(query="Q7X9K2M4.dgaevil.net."),
        ["Q7X9K2M4.dgaevil.net"],
    ),
    (
        "bind LIKE with an open start",
        "[domain-name:value LIKE '%paypal%.evil.org']",
        BIND.format(query="login-paypal-secure.evil.org"),
        ["paypal-secure.evil.org", "paypal-secure.evil.org"],
    ),
    (
        "bind LIKE: the wildcard does not cross a label into another domain",
        "[domain-name:value LIKE '%paypal%.evil.org']",
        BIND.format(query="paypal.com.evil.org.example.net"),
        [],
    ),
    (
        "domain LIKE '%evil%' is 'holds evil'",
        "[domain-name:value LIKE '%evil%']",
        BIND.format(query="devilish.example"),
        ["evil", "evil"],
    ),
    (
        "file name LIKE with _ and %",
        "[file:name LIKE 'invoice_%.exe']",
        SYSMON_IMAGE.format(image=r"C:\Users\bob\Downloads\Invoice_2291.exe", command="-"),
        ["Invoice_2291.exe"],
    ),
    (
        "file name LIKE: _ needs a character",
        "[file:name LIKE 'invoice_%.exe']",
        SYSMON_IMAGE.format(image=r"C:\Users\bob\Downloads\invoice.exe", command="-"),
        [],
    ),
    (
        "file name LIKE: another name that ends in it",
        "[file:name LIKE 'invoice_%.exe']",
        SYSMON_IMAGE.format(image=r"C:\Users\bob\Downloads\myinvoice_1.exe", command="-"),
        [],
    ),
    (
        "file name LIKE: a longer extension",
        "[file:name LIKE 'invoice_%.exe']",
        SYSMON_IMAGE.format(image=r"C:\Users\bob\Downloads\invoice_1.exe.txt", command="-"),
        [],
    ),
    (
        "sysmon encoded PowerShell",
        f"[process:command_line MATCHES '{PS_ENCODED}']",
        SYSMON_IMAGE.format(
            image=r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            command=f"powershell.exe -nop -w hidden -enc {ENCODED}",
        ),
        # The regex's own `.*` may run across fields: the span is RE2's leftmost match.
        [f"powershell.exe FileVersion: - CommandLine: powershell.exe -nop -w hidden -enc {ENCODED}"],
    ),
    (
        "sysmon PowerShell with a short argument",
        f"[process:command_line MATCHES '{PS_ENCODED}']",
        SYSMON_IMAGE.format(
            image=r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", command="powershell.exe -enc SQBFAFgA"
        ),
        [],
    ),
    (
        "command line LIKE with a space in it",
        "[process:command_line LIKE '%vssadmin%delete shadows%']",
        SYSMON_IMAGE.format(
            image=r"C:\Windows\System32\vssadmin.exe", command="vssadmin.exe Delete Shadows /All /Quiet"
        ),
        ["vssadmin.exe FileVersion: - CommandLine: vssadmin.exe Delete Shadows"],
    ),
    (
        "LIKE without wildcard is the whole value",
        "[file:name LIKE 'evil.dll']",
        SYSMON_IMAGE.format(image=r"C:\Temp\evil.dll", command=r"rundll32.exe C:\Temp\notevil.dll,Start"),
        ["evil.dll"],
    ),
    (
        "escaped literal characters of a regex",
        r"[url:value MATCHES 'evil\\.example/a\\?b=1']",
        SQUID.format(url="http://evil.example/a?b=1"),
        ["evil.example/a?b=1"],
    ),
    (
        "a prefix on a kind LIKE 'x%' takes none on",
        "[user-account:account_login LIKE 'svc_backup%']",
        "Dec  6 10:00:00 web1 sshd[811]: Accepted password for svc_backup01 from 10.1.2.3 port 52311 ssh2",
        ["svc_backup"],
    ),
    (
        "a network-traffic address LIKE is a host name",
        "[network-traffic:dst_ref.value LIKE '%-c2.evilnet.org']",
        ZEEK_DNS.format(query="eu-c2.evilnet.org"),
        ["-c2.evilnet.org"],
    ),
    (
        "a defanged-style class [.] is read as its literal",
        r"[domain-name:value MATCHES '^c2[.]evil[.]example$']",
        BIND.format(query="c2.evil.example"),
        ["c2.evil.example", "c2.evil.example"],
    ),
]


def _matcher(engine: str, *patterns: str) -> iocmatch.Matcher:
    loaded = iocmatch.load(bundle(*(indicator(pattern, number) for number, pattern in enumerate(patterns, 1))))
    assert loaded.report.compiled == len(patterns), loaded.report.problems
    return iocmatch.compile(loaded, engine=engine)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("pattern", "line", "expected"), [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_regex_atoms_on_log_lines(engine: str, pattern: str, line: str, expected: list[str]) -> None:
    matcher = _matcher(engine, pattern, "[domain-name:value = 'control.example']")
    found = matcher.scan_line(line)
    assert [match.text for match in found] == expected
    # The block path verifies in place: the same hits.
    streamed = list(matcher.scan_stream(io.BytesIO(f"{line}\nnothing here\n{line}\n".encode())))
    assert [(match.line, match.text) for match in streamed] == [(n, t) for n in (1, 3) for t in expected]


def test_a_match_reports_the_regex_and_its_kind() -> None:
    matcher = _matcher("auto", f"[domain-name:value MATCHES '{DGA}']", "[file:name LIKE 'invoice_%.exe']")
    dns, image = matcher.scan_line(ZEEK_DNS.format(query="q7x9k2m4.dgaevil.net") + r" C:\x\invoice_1.exe")
    assert (dns.kind, dns.value) == (DOMAIN, r"/^[a-z0-9]{8}\.dgaevil\.net$/")
    assert (image.kind, image.value) == (FILE_NAME, "/^invoice[^\\s\\\\/\\\"'<>|:*?][^\\s\\\\/\\\"'<>|:*?]*\\.exe$/")


@pytest.mark.parametrize(
    ("kind", "like", "regex"),
    [
        (URL, "%.evil.com/%", r"\.evil\.com\/"),
        (DOMAIN, "%evil%", "evil"),
        (DOMAIN, "ev_l.com", r"^ev[A-Za-z0-9_.\-\x{80}-\x{10FFFF}]l\.com$"),
        (COMMAND_LINE, "%whoami /all%", r"whoami\ \/all"),
        (COMMAND_LINE, "cmd%%/c%", r"^cmd.*\/c"),
    ],
)
def test_like_becomes_a_regex(kind: str, like: str, regex: str) -> None:
    assert like_regex(kind, like) == regex


def test_like_shapes_values_already_reads_stay_as_they_were() -> None:
    compiled = compile_pattern("[domain-name:value LIKE '%.evil.example'] OR [file:name LIKE 'mimikatz%']")
    assert {atom.mode for clause in compiled.clauses for atom in clause} == {"subdomains-only", "prefix"}
    with pytest.raises(iocmatch.PatternError, match="can never hit a log line"):
        compile_pattern("[url:value LIKE 'http://%']")


@pytest.mark.parametrize(
    ("regex", "keys", "anchors"),
    [
        (r"^evil\.com$", ("evil.com",), (True, True)),
        (r"(?i)^.*Evil[.]com/x.*$", ("evil.com/x",), (False, False)),
        (r"stage(one|two)\.bin$", ("stage",), (False, True)),
        (r"(?:dropper|loader)-v\d+\.exe", ("dropper", "loader"), (False, False)),
        (r"\Qupdate.php?id=\E\d+", ("update.php?id=",), (False, False)),
        (r"\x65vil\x{2e}com", ("evil.com",), (False, False)),
        (r"ev{2}il-c2", ("evvil-c2",), (False, False)),
    ],
)
def test_the_literal_every_match_holds_is_the_key(
    regex: str, keys: tuple[str, ...], anchors: tuple[bool, bool]
) -> None:
    parts = read_regex(regex)
    assert parts.keys == keys
    assert (parts.anchored_start, parts.anchored_end) == anchors


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"[url:value MATCHES 'evil\\.com(?=/gate)']", r"uses lookahead \(\?=\.\.\.\), which RE2 cannot run"),
        (r"[url:value MATCHES '(?<=https://)evil\\.com']", r"uses lookbehind"),
        (r"[file:name MATCHES '(evil)\\1\\.exe']", r"uses a backreference \(\\1\)"),
        (r"[file:name MATCHES 'evil.*+\\.exe']", r"possessive quantifier"),
        (r"[file:name MATCHES '(?>evil)\\.exe']", r"atomic group"),
        (r"[file:name MATCHES 'evil(\\.exe']", r"is not a regular expression RE2 can run: missing \)"),
        ("[domain-name:value MATCHES '.*']", "holds no literal text of 4 letters or digits.*every line"),
        ("[domain-name:value MATCHES '(a+)+$']", "holds no literal text of 4 letters or digits"),
        (r"[file:name MATCHES '\\d+\\.exe']", r"\(the best is '\.exe'\), so it would run on nearly every line"),
        ("[file:name LIKE '%.exe']", r"LIKE '%\.exe' holds no literal text of 4 letters or digits"),
        ("[file:name LIKE 'a_b%c']", "LIKE 'a_b%c' holds no literal text"),
        (
            "[domain-name:value MATCHES '^evil\\\\.com|^bad\\\\.org']",
            r"\^, \$, \\A or \\z other than at its very start",
        ),
        ("[ipv4-addr:value MATCHES '^10\\\\.1\\\\.']", "MATCHES is not supported on ipv4-addr"),
        ("[ipv4-addr:value LIKE '10.%.1']", "LIKE is not supported on ipv4-addr"),
        ("[file:hashes.MD5 LIKE 'd41d8cd9%']", "LIKE is not supported on md5"),
        (f"[file:name MATCHES 'evil{'x' * 5000}']", "longer than 4,096 characters"),
        ("[domain-name:value NOT MATCHES 'evil\\\\.com']", "NOT is not supported"),
        ("[domain-name:value NOT LIKE '%evil%']", "NOT is not supported"),
    ],
)
def test_refused_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(iocmatch.PatternError, match=reason):
        compile_pattern(pattern)
    loaded = iocmatch.load(bundle(indicator(pattern)))
    assert loaded.report.skipped == 1
    assert re.search(reason, loaded.report.problems[0].reason)


def test_an_or_branch_that_cannot_run_is_dropped_with_a_warning() -> None:
    compiled = compile_pattern(r"[url:value MATCHES 'evil\\.com(?!/ok)' OR domain-name:value = 'evil.example']")
    assert [atom.value for clause in compiled.clauses for atom in clause] == ["evil.example"]
    assert "lookahead" in compiled.warnings[0]


@pytest.mark.parametrize(
    "pattern",
    [
        r"[domain-name:value MATCHES '^evil\\.example$']",
        "[domain-name:value LIKE '%evil%']",
        "[file:name LIKE 'invoice_%.exe'] OR [domain-name:value = 'a.example']",
        "[url:value LIKE '%.evil.com/gate%' OR url:value = 'http://evil.com/x']",
    ],
)
def test_the_fast_path_hands_regexes_to_the_grammar(pattern: str, monkeypatch: pytest.MonkeyPatch) -> None:
    grammar_calls: list[str] = []
    real = tree.clauses_of

    def counted(text: str, version: str, **options: Any) -> Any:
        grammar_calls.append(text)
        return real(text, version, **options)

    monkeypatch.setattr(tree, "clauses_of", counted)
    fast = compile_pattern(pattern)
    assert grammar_calls == [pattern]
    assert fast == compile_pattern(pattern, fast=False)
    assert any(atom.mode == MATCHES for clause in fast.clauses for atom in clause)


def _reference(regex: str, line: str) -> list[str]:
    """What a file name regex finds, by Python's re on this test's own fixed
    regexes: the file name rule's boundaries written as lookarounds."""
    before, after = r"(?<![A-Za-z0-9_.\-])", r"(?![A-Za-z0-9_\-])(?!\.[A-Za-z0-9_\-])"
    return [found.group() for found in re.finditer(before + regex + after, line, re.IGNORECASE)]


REFERENCE_REGEXES = [r"stage[0-9]{1,3}\.(?:dll|bin)", r"update_[a-f0-9]{6}\.exe", r"report-[0-9]{4}-q[1-4]\.docm"]
REFERENCE_NAMES = [
    "stage7.dll", "stage77.bin", "stage1234.dll", "stage.dll", "xstage7.dll", "stage7.dll.bak", "Stage9.BIN",
    "update_a1b2c3.exe", "update_a1b2c.exe", "update_a1b2c3d.exe", "update_A1B2C3.exe", "report-2026-q3.docm",
    "report-2026-q5.docm", "report-2026-q3.docmx", "my-report-2026-q3.docm",
]  # fmt: skip


@pytest.mark.parametrize("engine", ENGINES)
def test_anchored_file_name_regexes_agree_with_a_reference(engine: str) -> None:
    matcher = _matcher(
        engine, *(f"[file:name MATCHES '^{regex.replace(chr(92), chr(92) * 2)}$']" for regex in REFERENCE_REGEXES)
    )
    for name in REFERENCE_NAMES:
        for folder in ("C:\\Users\\Public\\", "/tmp/", '"'):
            line = SYSMON_IMAGE.format(image=folder + name, command="-")
            expected = sorted(text for regex in REFERENCE_REGEXES for text in _reference(regex, line))
            assert sorted(match.text for match in matcher.scan_line(line)) == expected, line


# Nested quantifiers that make a backtracking engine take exponential time.
BACKTRACKING = [
    # (pattern, line, texts): RE2 answers in linear time.
    (r"[file:name MATCHES 'evil(a+)+$']", "Image: C:\\x\\evil" + "a" * 200 + "!", ["evil" + "a" * 200]),
    (r"[file:name MATCHES 'evil(a+)+$']", "Image: C:\\x\\evil" + "a" * 100_000 + "b", []),
    (r"[process:command_line MATCHES 'invoke-(\\w+\\s?)+;$']", "invoke-" + "word " * 20_000 + "x", []),
    (r"[url:value MATCHES '^(x+x+)+y\\.evil\\.com$']", "CONNECT " + "x" * 50_000 + ".evil.com:443", []),
]


@pytest.mark.slow
@pytest.mark.parametrize(("pattern", "line", "expected"), BACKTRACKING)
def test_catastrophic_regexes_run_in_linear_time(pattern: str, line: str, expected: list[str]) -> None:
    matcher = _matcher("auto", pattern)
    assert [match.text for match in matcher.scan_line(line)] == expected
    many = " ".join([line[:2000]] * 200)  # a long line with hundreds of occurrences
    assert len(matcher.scan_line(many)) == (200 if expected and len(line) <= 2000 else 0)


def test_python_re_never_sees_a_feed_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    feed_regexes = {
        "^[a-z0-9]{8}\\.dgaevil\\.net$",
        "(?i)powershell(\\.exe)?\\s.*-enc(odedcommand)?\\s+[A-Za-z0-9+/=]{40,}",
    }
    seen: list[str] = []
    real: Callable[..., Any] = re._compile  # type: ignore[attr-defined]

    def spy(pattern: Any, flags: Any) -> Any:
        if isinstance(pattern, str) and any(regex in pattern for regex in feed_regexes):
            seen.append(pattern)
        return real(pattern, flags)

    monkeypatch.setattr(re, "_compile", spy)
    regexes.read_regex.cache_clear()
    matcher = _matcher("auto", f"[domain-name:value MATCHES '{DGA}']", f"[process:command_line MATCHES '{PS_ENCODED}']")
    line = ZEEK_DNS.format(query="q7x9k2m4.dgaevil.net") + f" powershell -enc {ENCODED}"
    assert len(matcher.scan_line(line)) == 2
    assert seen == []


def test_a_compiled_matcher_with_regexes_pickles() -> None:
    matcher = _matcher("auto", f"[domain-name:value MATCHES '{DGA}']")
    again = pickle.loads(pickle.dumps(matcher))
    line = ZEEK_DNS.format(query="q7x9k2m4.dgaevil.net")
    assert again.scan_line(line) == matcher.scan_line(line) != []


def test_breadth_and_allowlists_take_regex_atoms() -> None:
    for atom in (
        Atom(FILE_NAME, r"cmd\.exe", MATCHES),
        Atom(DOMAIN, "evil", MATCHES),
        Atom(URL, r"\.evil\.com\/", MATCHES),
    ):
        too_broad(atom)  # reads the value as text: no error
    allowlist = iocmatch.parse_allowlist({"name": "ours", "type": "substring", "list": ["dgaevil.net"]}, "ours.json")
    loaded = iocmatch.load(bundle(indicator(f"[domain-name:value MATCHES '{DGA}']")), allowlists=[allowlist])
    assert loaded.report.read == 1


_REGEX_ATOMS = [
    "a",
    "b",
    "evil",
    "stage",
    "[.]",
    "\\.",
    ".",
    "\\d",
    "[a-c]",
    "[^x]",
    "\\x61",
    "\\Qa.b\\E",
    "(?i)",
    "\\b",
    "-",
]
_QUANTIFIERS = ["", "", "", "*", "+", "?", "{2}", "{1,3}", "{0,}", "*?", "{2,}"]


@st.composite
def _regexes(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 2 and draw(st.booleans()) and draw(st.booleans()):
            branches = draw(st.lists(_regexes(depth + 1), min_size=1, max_size=3))
            atom = draw(st.sampled_from(["(", "(?:"])) + "|".join(branches) + ")"
        else:
            atom = draw(st.sampled_from(_REGEX_ATOMS))
        parts.append(atom + ("" if atom in ("(?i)", "\\b") else draw(st.sampled_from(_QUANTIFIERS))))
    return draw(st.sampled_from(["", "^"])) + "".join(parts) + draw(st.sampled_from(["", "$"]))


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    regex=_regexes(),
    texts=st.lists(
        st.lists(st.sampled_from(["a", "b", "evil", "EVIL", "stage", ".", "-", "1", "x", " "]), max_size=12).map(
            "".join
        ),
        max_size=20,
    ),
)
def test_every_match_holds_one_of_the_keys(regex: str, texts: list[str]) -> None:
    """The prefilter never loses a hit: whatever RE2 matches holds a key."""
    try:
        parts = read_regex(regex)
    except iocmatch.PatternError:
        return
    compiled = regexes.compile_re2(regex)
    for text in texts:
        found = compiled.search(text)
        if found is not None:
            assert any(key in found.group().lower() for key in parts.keys), (regex, text, parts.keys)


def test_a_match_never_reaches_a_long_line_windows_cut_edges() -> None:
    assert 2 * REACH <= CONTEXT


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_long_lines_in_windows_give_the_whole_lines_hits(engine: str) -> None:
    matcher = _matcher(
        engine,
        r"[file:name MATCHES '^[a-z]{2,6}loader\\.(exe|dll)$']",
        "[url:value LIKE '%.evil-cdn.com/gate%']",
        f"[process:command_line MATCHES '{PS_ENCODED}']",
    )
    pieces = [
        r"C:\Temp\abloader.dll",  # hits
        r"C:\Temp\x1abloader.dll",  # another name ending in it
        "http://a.evil-cdn.com/gate.php",  # hits
        f"powershell -enc {ENCODED}",  # hits
        "zzloader.exe.bak",  # a longer extension
    ]
    for shift in range(0, 2100, 97):  # the values fall on every side of the windows' edges
        line = "q" * shift + " ".join(
            pieces[index % len(pieces)] + " " + "w" * (index * 37 % 300) for index in range(60)
        )
        whole = [(match.start, match.text) for match in matcher.scan_line(line)]
        windowed = [
            (match.start, match.text)
            for match in matcher.scan_stream(io.BytesIO(line.encode() + b"\n"), line_window=2048)
        ]
        assert sorted(windowed) == sorted(whole)
        assert {text for _, text in whole} == {"abloader.dll", ".evil-cdn.com/gate", f"powershell -enc {ENCODED}"}


REQUEST = "network-traffic:extensions.'http-request-ext'.request_value"
AGENT = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"
# Anchored ends keep the kind's own edges, those its `=` has (DESIGN "Matching rules").
EDGES = [
    (
        f"[{REQUEST} MATCHES '^/gate[0-9]+\\\\.php$']",
        '10.0.0.5 - - [x] "GET /gate12.php HTTP/1.1" 200 5',
        ["/gate12.php"],
    ),
    (f"[{REQUEST} MATCHES '^/gate[0-9]+\\\\.php$']", '10.0.0.5 - - [x] "GET /admin/gate12.php HTTP/1.1" 200 5', []),
    (f"[{REQUEST} LIKE '/gate%.php']", "GET http://evil.example/gate7.php?id=1 HTTP/1.1", ["/gate7.php"]),
    (f"[{REQUEST} LIKE '/gate%.php']", '"GET /admin/gate12.php HTTP/1.1"', []),
    ("[user-account:account_login MATCHES '^svcadm[0-9]$']", "Account Name: svcadm1 Domain: CORP", ["svcadm1"]),
    ("[user-account:account_login MATCHES '^svcadm[0-9]$']", "Account Name: svcadm1$ Domain: CORP", []),
    ("[user-account:account_login MATCHES '^svcadm[0-9]$']", "Account Name: svcadm1.adm", []),
    ("[process:name LIKE 'evil%.exe']", r"Image: C:\x\evil32.exe", ["evil32.exe"]),
    ("[process:name LIKE 'evil%.exe']", r"Image: C:\x\not-evil32.exe", []),
    ("[x509-certificate:subject MATCHES '^CN=evil[0-9]+$']", "subject=CN=evil12\tissuer=CN=ca", ["CN=evil12"]),
    ("[x509-certificate:subject MATCHES '^CN=evil[0-9]+$']", "subject=OU=x,CN=evil12", []),
    (
        f"[{AGENT} MATCHES '^EvilBot/[0-9]\\\\.[0-9]$']",
        '10.0.0.5 - - [x] "GET / HTTP/1.1" 200 5 "-" "EvilBot/2.0"',
        ["EvilBot/2.0"],
    ),
    (f"[{AGENT} MATCHES '^EvilBot/[0-9]\\\\.[0-9]$']", '"-" "Mozilla/5.0 EvilBot/2.0"', []),
    # A query the regex does not name is still its URL's, as for `=`.
    (
        "[url:value LIKE 'http://evil.com/%/gate.php']",
        "GET http://evil.com/a/b/gate.php?x=1 -",
        ["http://evil.com/a/b/gate.php"],
    ),
    ("[url:value MATCHES '^http://evil\\\\.com/gate\\\\?id=[0-9]+$']", "GET http://evil.com/gate?id=12&x=1 -", []),
    # A quote left open (\Q...) runs to the end, as RE2 reads it.
    ("[process:command_line MATCHES '\\\\Qevilword']", "x evilword y", ["evilword"]),
]


@pytest.mark.parametrize(("pattern", "line", "expected"), EDGES)
def test_anchored_ends_keep_the_kinds_own_edges(pattern: str, line: str, expected: list[str]) -> None:
    matcher = _matcher("aho-corasick", pattern)
    assert [match.text for match in matcher.scan_line(line)] == expected
    block = [
        match.text for _, _, _, matches in matcher.hit_lines(io.BytesIO(line.encode() + b"\n")) for match in matches
    ]
    assert block == expected


@pytest.mark.parametrize("engine", ENGINES)
def test_bytes_that_are_not_utf8_never_stop_a_regex(engine: str) -> None:
    """A byte that is not UTF-8 is a lone surrogate in the line's text, which
    RE2 cannot be given: it reads as U+FFFD, and the hit is still found."""
    matcher = _matcher(
        engine, "[url:value LIKE '%.evil-cdn.com/gate%']", "[process:command_line MATCHES 'mimikatz.*sekurlsa']"
    )
    assert [m.text for m in matcher.scan_line("GET http://a.evil-cdn.com/gate.php?q=%FF HTTP/1.1")] == [
        ".evil-cdn.com/gate"
    ]
    assert [m.text for m in matcher.scan_line(b"\xff run mimikatz \xfe sekurlsa")] == ["mimikatz \udcfe sekurlsa"]
    block = b"\xff run mimikatz \xfe sekurlsa\nGET http://a.evil-cdn.com/gate.php?q=%FF\n"
    assert sum(len(matches) for _, _, _, matches in matcher.hit_lines(io.BytesIO(block))) == 2
