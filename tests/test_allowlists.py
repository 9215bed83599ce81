"""Allowlists: every type's lookup gives the verdict and names the entry that a
plain walk of the list gives, on generated values and on the real MISP
warninglists; regex entries run under RE2, in linear time, and an entry RE2
cannot read is refused naming the file and the entry."""

from __future__ import annotations

import csv
import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch import Allowlist, SourceError, parse_allowlist, read_allowlist
from iocmatch._common.model import DOMAIN, EMAIL, FILE_NAME, IPV4, IPV6, KINDS, MD5, MUTEX, SHA256, URL, Atom
from iocmatch._indicators.allowlists import host_of
from tests.conftest import ROOT, bundle, indicator

FEEDS = ROOT.parent / "shared" / "corpus" / "feeds"
WARNINGLISTS = FEEDS / "misp-warninglists" / "lists"

# The kinds whose values are compared ignoring case (written here, not taken from the library).
CASELESS = {DOMAIN, EMAIL, IPV4, IPV6, URL, "md5", "sha1", "sha256", "sha512"}


# --- the reference: a plain walk of the list, entry by entry, as the rules say -------


def walk(kind: str, entries: list[str], atom: Atom) -> str | None:
    """The first entry in list order that holds ``atom``, found by trying each in turn."""
    for entry in entries:
        named = holds(kind, entry, atom)
        if named is not None:
            return named
    return None


def holds(kind: str, entry: str, atom: Atom) -> str | None:
    caseless = atom.kind in CASELESS
    value = atom.value.lower() if caseless else atom.value
    compared = entry.lower() if caseless else entry
    if kind == "string":
        return entry if compared == value else None
    if kind == "substring":
        return entry if compared in value else None
    if kind == "hostname":
        host, name = host_of(atom), entry.lower().strip(".")
        return entry if host and (host == name or host.endswith("." + name)) else None
    if kind == "cidr":
        if atom.kind not in (IPV4, IPV6):
            return None
        network, held = ipaddress.ip_network(atom.value), ipaddress.ip_network(entry, strict=False)
        inside = network.version == held.version and network.subnet_of(held)  # type: ignore[arg-type]
        return str(held) if inside else None
    delimited = re.fullmatch(r"/(.*)/([gimsuxy]*)", entry, re.DOTALL)
    text, flags = delimited.groups() if delimited else (entry, "")
    return text if re.search(text, atom.value, re.IGNORECASE if "i" in flags else 0) else None


def lookup(kind: str, entries: list[str], atom: Atom) -> str | None:
    return parse_allowlist({"name": "generated", "type": kind, "list": entries}, "generated.json").suppresses(atom)


# --- generated lists and values: small alphabets, so that entries repeat and overlap ---

KIND = st.sampled_from(KINDS)
# "İ" lower-cases to two characters; "ß" has no upper-case letter of its own.
TEXT = st.text(alphabet="abAB.-İß", min_size=1, max_size=4)
VALUE = st.text(alphabet="abAB.-İß@", max_size=10)
LABEL = st.sampled_from(["a", "b", "ab", "B", "xn--ab"])
HOST = st.lists(LABEL, min_size=1, max_size=4).map(".".join)
DOT = st.sampled_from(["", "."])
HOST_ENTRY = st.builds(lambda before, host, after: before + host + after, DOT, HOST, DOT)
HOST_ATOM = st.one_of(
    HOST.map(lambda host: Atom(DOMAIN, host.lower())),
    st.builds(lambda host, tail: Atom(URL, f"http://{host}{tail}"), HOST, st.sampled_from(["", "/", ":8080/x", "./"])),
    st.builds(lambda host: Atom(URL, f"{host}/path"), HOST),
    st.builds(lambda host: Atom(EMAIL, f"user@{host}"), HOST),
    st.builds(lambda host: Atom(FILE_NAME, host), HOST),
)


def _block(version: int, number: int, length: int) -> str:
    """A block in 10.0.0.0/22 or 2001:db8::/118, where blocks nest and repeat."""
    if version == 4:
        return str(ipaddress.ip_network((0x0A000000 + number, length), strict=False))
    return str(ipaddress.ip_network(((0x20010DB8 << 96) + number, length + 96), strict=False))


BLOCK = st.builds(_block, st.sampled_from([4, 6]), st.integers(0, 2**10 - 1), st.integers(22, 32))
# An entry may be written with host bits set, or as one address.
CIDR_ENTRY = st.one_of(
    BLOCK, BLOCK.map(lambda block: block.replace(".0/", ".1/")), BLOCK.map(lambda block: block.split("/")[0])
)
CIDR_ATOM = st.one_of(
    BLOCK.map(lambda block: Atom(IPV6 if ":" in block else IPV4, block)),
    BLOCK.map(lambda block: Atom(IPV6 if ":" in block else IPV4, block.split("/")[0])),
    BLOCK.map(lambda block: Atom(DOMAIN, block.split("/")[0])),
)
# Patterns that Python's re and RE2 read alike on these values (ASCII, no newline).
PATTERN = st.sampled_from(
    ["a", "b+", "^a", "b$", "a.b", "(a|b)c", "[ab]{2}", "/A/i", "/^B/i", "/c/", "/x*/", r"\d", "(a+)+$", r"^(\w+\.)+b$"]
)
REGEX_VALUE = st.text(alphabet="abcAB1.", max_size=12)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=8), KIND, VALUE, st.sampled_from(["string", "substring"]))
def test_string_and_substring_name_what_a_walk_names(entries: list[str], kind: str, value: str, how: str) -> None:
    # Often the value is one of the entries, or holds one, written in another case.
    for candidate in (value, entries[-1].upper(), value + entries[0].swapcase() + value):
        atom = Atom(kind, candidate)
        assert lookup(how, entries, atom) == walk(how, entries, atom)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(HOST_ENTRY, min_size=1, max_size=8), HOST_ATOM)
def test_hostname_names_what_a_walk_names(entries: list[str], atom: Atom) -> None:
    assert lookup("hostname", entries, atom) == walk("hostname", entries, atom)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(CIDR_ENTRY, min_size=1, max_size=10), CIDR_ATOM)
def test_cidr_names_what_a_walk_names(entries: list[str], atom: Atom) -> None:
    assert lookup("cidr", entries, atom) == walk("cidr", entries, atom)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.lists(PATTERN, min_size=1, max_size=6), st.sampled_from([DOMAIN, FILE_NAME, URL]), REGEX_VALUE)
def test_regex_names_what_a_walk_under_pythons_re_names(entries: list[str], kind: str, value: str) -> None:
    atom = Atom(kind, value)
    assert lookup("regex", entries, atom) == walk("regex", entries, atom)


# --- the entry named, and values no lookup may raise on ----------------------------

FIRST_ENTRY = [
    ("string", ["x.example", "Evil.Example", "evil.example"], Atom(DOMAIN, "evil.example"), "Evil.Example"),
    ("string", ["Dropper.exe", "dropper.exe"], Atom(FILE_NAME, "dropper.exe"), "dropper.exe"),
    ("substring", ["zzz", "edge", "akamai"], Atom(DOMAIN, "a1.akamaiedge.net"), "edge"),
    ("substring", ["Mutex", "mutex"], Atom(MUTEX, "Global\\mutex1"), "mutex"),
    ("hostname", ["microsoft.com", "login.microsoft.com"], Atom(DOMAIN, "login.microsoft.com"), "microsoft.com"),
    ("hostname", ["www.example.com.", "example.com"], Atom(URL, "http://WWW.example.com/x"), "www.example.com."),
    ("hostname", ["example.org", "mail.example.com"], Atom(EMAIL, "abuse@mail.example.com"), "mail.example.com"),
    ("cidr", ["20.1.0.0/16", "20.0.0.0/8", "20.1.2.0/24"], Atom(IPV4, "20.1.2.0/24"), "20.1.0.0/16"),
    ("cidr", ["20.1.2.0/25", "20.1.2.3"], Atom(IPV4, "20.1.2.3"), "20.1.2.0/25"),
    ("cidr", ["2001:db8::/32", "2001:db8::1"], Atom(IPV6, "2001:db8::1"), "2001:db8::/32"),
    ("regex", ["/^z/", "b", "a"], Atom(FILE_NAME, "ab"), "b"),
    ("regex", ["/EVIL/i", "evil"], Atom(DOMAIN, "evil.example"), "EVIL"),
]


@pytest.mark.parametrize(("kind", "entries", "atom", "named"), FIRST_ENTRY)
def test_of_several_entries_that_hold_a_value_the_first_in_the_list_is_named(
    kind: str, entries: list[str], atom: Atom, named: str
) -> None:
    assert lookup(kind, entries, atom) == named


@pytest.mark.parametrize(
    ("kind", "entries"),
    [("string", ["a"]), ("substring", ["a", "\u00e9"]), ("hostname", ["a"]), ("regex", ["a", "."])],
)
@pytest.mark.parametrize("value", ["a\udc80b", "\udcff", "\ud800\udc00"])
def test_a_value_holding_a_lone_surrogate_is_judged_as_a_walk_judges(kind: str, entries: list[str], value: str) -> None:
    for atom_kind in (FILE_NAME, DOMAIN):
        atom = Atom(atom_kind, value)
        assert lookup(kind, entries, atom) == walk(kind, entries, atom)


def test_an_allowlist_made_in_code_is_indexed_like_one_read_from_a_file() -> None:
    made = Allowlist("Mine", "hostname", ("example.com", "example.org"))
    assert made.suppresses(Atom(URL, "https://www.example.org/a")) == "example.org"
    assert made.suppresses(Atom(DOMAIN, "example.net")) is None
    with pytest.raises(SourceError, match=re.escape("'Mine': '10.0.0.300' is not an address or CIDR")):
        Allowlist("Mine", "cidr", ("10.0.0.0/8", "10.0.0.300"))


# --- RE2: linear time, and what it refuses -----------------------------------------


@pytest.mark.parametrize(
    ("entries", "value", "named"),
    [
        (["/(a+)+$/"], "a" * 100_000 + "!", None),
        (["(a|aa)*b", "(x+x+)+y"], "a" * 100_000, None),
        (["(x+x+)+y", "/!$/"], "x" * 100_000 + "!", "!$"),
        (["^(([a-z])+.)+[A-Z]([a-z])+$"], "a" * 50_000 + "!", None),
    ],
)
def test_a_regex_that_backtracks_for_ages_under_re_is_decided_at_once(
    entries: list[str], value: str, named: str | None
) -> None:
    assert lookup("regex", entries, Atom(FILE_NAME, value)) == named


def test_a_catastrophic_regex_entry_does_not_hold_up_loading() -> None:
    warninglist = {"name": "Backtracking", "type": "regex", "list": ["/^(a+)+$/", "/^sinkhole/"]}
    backtracks = indicator(f"[domain-name:value = '{'a' * 60}.example']", 1)
    loaded = iocmatch.load(
        bundle(backtracks, indicator("[domain-name:value = 'sinkhole.example']", 2)), allowlists=[warninglist]
    )
    assert loaded.report.compiled == 1
    (problem,) = loaded.report.problems
    assert problem.id == indicator("[domain-name:value = 'sinkhole.example']", 2)["id"]
    assert "regex '^sinkhole'" in problem.reason


@pytest.mark.parametrize(
    "entry",
    [
        "/^(?=.*evil)/",  # lookahead
        "(?<=mail\\.)example",  # lookbehind
        "/(a)\\1/",  # backreference
        "(?P<x>a)(?P=x)",  # named backreference
        "/evil\\Z/",  # Python's end of text: RE2 writes \z
        "a*+",  # possessive repetition
    ],
)
def test_a_regex_re2_cannot_read_is_refused_naming_the_file_and_the_entry(entry: str, tmp_path: Path) -> None:
    path = tmp_path / "regexes.json"
    path.write_text(json.dumps({"name": "Mine", "type": "regex", "list": ["^fine$", entry]}))
    with pytest.raises(SourceError) as refused:
        read_allowlist(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    assert repr(entry) in message
    assert "not a regular expression RE2 reads" in message


def test_slashes_are_delimiters_only_before_flags_misp_writes() -> None:
    """``/pattern/i`` and ``/pattern/g`` are delimited; ``/usr/bin/python`` is a
    path, not the pattern ``usr/bin`` with flags ``python``."""
    paths = parse_allowlist({"name": "x", "type": "regex", "list": ["/usr/bin/python", "/^EVIL/gi"]}, "t")
    assert paths.suppresses(Atom("file-name", "/usr/bin/python3")) == "/usr/bin/python"
    assert paths.suppresses(Atom("file-name", "usr/bin")) is None
    assert paths.suppresses(Atom("domain-name", "evil.example")) == "^EVIL"


@pytest.mark.parametrize("kind", ["glob", ["string"], {"of": "string"}, 5, None])
def test_a_type_that_is_not_one_of_the_five_is_refused_naming_the_file(kind: Any) -> None:
    with pytest.raises(SourceError, match=r"^mine\.json: warninglist type .* is not one of string, substring"):
        parse_allowlist({"type": kind, "list": ["a"]}, "mine.json")


def test_a_substring_entry_holding_a_lone_surrogate_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "substrings.json"
    path.write_text('{"type": "substring", "list": ["ok", "bad\\udc80"]}')
    with pytest.raises(SourceError, match=re.escape(f"{path}: 'bad\\udc80' is not valid Unicode text")):
        read_allowlist(path)


# --- the real MISP warninglists and real feed values --------------------------------


@pytest.fixture(scope="module")
def warninglists() -> Path:
    if not WARNINGLISTS.is_dir():
        pytest.skip(f"the real feeds are not beside the project ({WARNINGLISTS} is missing)")
    return WARNINGLISTS


@pytest.fixture(scope="module")
def feed_atoms(warninglists: Path) -> list[Atom]:  # noqa: ARG001 - asked for its skip when the lists are missing
    """Every 40th maltrail trail and URLhaus URL, as the atoms a loader would make of them."""
    trails = [
        line.strip()
        for path in sorted((FEEDS / "maltrail-suspicious").glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    with (FEEDS / "abusech-urlhaus" / "urlhaus.csv").open(encoding="utf-8", newline="") as rows:
        urls = [row["url"] for row in csv.DictReader(rows)]
    return [_atom(value) for value in (trails + urls)[::40]]


def _atom(value: str) -> Atom:
    address = value.partition(":")[0] if value.count(":") == 1 else value
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return Atom(URL, value) if "/" in value else Atom(DOMAIN, value.lower())
    return Atom(IPV6 if parsed.version == 6 else IPV4, str(parsed))


@pytest.mark.slow
def test_every_real_warninglist_reads(warninglists: Path) -> None:
    paths = sorted(warninglists.glob("*/list.json"))
    assert len(paths) > 100
    types = {read_allowlist(path).type for path in paths}
    assert types == {"string", "substring", "hostname", "cidr", "regex"}


REAL = [
    "google-gcp",  # cidr, IPv4 and IPv6
    "crl-ip",  # cidr, IPv4 and IPv6
    "url-shortener",  # hostname
    "covid",  # hostname
    "cisco_top1000",  # string
    "mozilla-CA",  # string, hashes
    "automated-malware-analysis",  # substring
    "microsoft-attack-simulator",  # substring
    "phone_numbers",  # regex
    "common-contact-emails",  # regex
]


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_a_real_warninglist_names_what_a_walk_names(name: str, warninglists: Path, feed_atoms: list[Atom]) -> None:
    document = json.loads((warninglists / name / "list.json").read_text(encoding="utf-8"))
    allowlist = parse_allowlist(document, name)
    entries = list(allowlist.entries)
    some = entries[:: max(1, len(entries) // 40)]
    atoms = feed_atoms + [atom for entry in some for atom in _near(allowlist.type, entry)]
    verdicts = [(atom, allowlist.suppresses(atom)) for atom in atoms]
    assert verdicts == [(atom, walk(allowlist.type, entries, atom)) for atom in atoms]
    assert any(named for _, named in verdicts) or allowlist.type == "regex"


def _near(kind: str, entry: str) -> list[Atom]:
    """Values an entry holds, or nearly holds, as the indicators of a feed would carry them."""
    if kind == "cidr":
        network = ipaddress.ip_network(entry, strict=False)
        family = IPV4 if network.version == 4 else IPV6
        wider = network.supernet() if network.prefixlen else network
        return [Atom(family, str(network)), Atom(family, str(network[-1])), Atom(family, str(wider))]
    if kind == "regex":
        return [Atom(EMAIL, "abuse@example.com"), Atom(FILE_NAME, "07700900123"), Atom(FILE_NAME, "+4401632960123")]
    name = entry.lower().strip(".")
    return [
        Atom(DOMAIN, name),
        Atom(DOMAIN, "www." + name),
        Atom(DOMAIN, "x" + name),
        Atom(URL, f"https://{name.upper()}/login"),
        Atom(EMAIL, f"user@{name}"),
        Atom(MD5 if len(entry) == 32 else SHA256, entry.upper()),
        Atom(FILE_NAME, entry.upper()),
    ]


def test_loading_with_real_warninglists_excludes_what_a_walk_holds(warninglists: Path, feed_atoms: list[Atom]) -> None:
    names = ["url-shortener", "common-contact-emails"]
    documents: list[dict[str, Any]] = [
        json.loads((warninglists / name / "list.json").read_text(encoding="utf-8")) for name in names
    ]
    domains = sorted({atom.value for atom in feed_atoms if atom.kind == DOMAIN and "'" not in atom.value})[:300]
    domains += ["bit.ly", "t.co", "www.bit.ly"]
    objects = [indicator(f"[domain-name:value = '{domain}']", number) for number, domain in enumerate(domains, 1)]
    report = iocmatch.load(bundle(*objects), allow_broad=True, allowlists=documents).report
    excluded = {problem.id for problem in report.problems if problem.reason.startswith("allowlisted: ")}
    expected = {
        objects[number]["id"]
        for number, domain in enumerate(domains)
        if any(walk(document["type"], document["list"], Atom(DOMAIN, domain)) for document in documents)
    }
    assert excluded == expected
    assert len(expected) >= 3
