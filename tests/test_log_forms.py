"""Values a log's form hides are found at their place as written: percent-
encoding, Windows DNS debug names, Zeek's host and uri columns, and (when
asked for) defanged text; on every path, and as the reference says."""

from __future__ import annotations

import io
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import iocmatch
from iocmatch._cli.command import main
from iocmatch._compiling import log_forms
from iocmatch._engines.hyperscan import AVAILABLE as HYPERSCAN
from iocmatch._scanning import parallel
from tests.conftest import bundle, indicator
from tests.oracle import Atom
from tests.oracle_forms import oracle_form_hits

ATOMS = [
    Atom("domain-name", "cia.toh.info"),
    Atom("url", "http://evil.com/a/b.php"),
    Atom("email-addr", "x@evil.com"),
    Atom("domain-name", "bad.example"),
    Atom("ipv4-addr", "203.0.113.7"),
    Atom("sha256", "a" * 64),
]
PATHS = {
    "domain-name": "domain-name:value",
    "url": "url:value",
    "email-addr": "email-addr:value",
    "ipv4-addr": "ipv4-addr:value",
    "sha256": "file:hashes.'SHA-256'",
}


def matcher(*, subdomains: bool = True, defanged: bool = False, engine: str = "aho-corasick") -> iocmatch.Matcher:
    objects = [indicator(f"[{PATHS[a.kind]} = '{a.value}']", n) for n, a in enumerate(ATOMS, 1)]
    loaded = iocmatch.load(bundle(*objects))
    assert loaded.report.compiled == len(ATOMS), loaded.report.problems
    return iocmatch.compile(loaded, subdomains=subdomains, defanged=defanged, engine=engine)


PLAIN = matcher()
DEFANGED = matcher(defanged=True)


def found(m: iocmatch.Matcher, line: str) -> list[tuple[str, str]]:
    return [(hit.text, hit.value) for hit in m.scan_line(line)]


def every_path(m: iocmatch.Matcher, lines: list[str]) -> set[tuple[int, int, int, str]]:
    """The matches of ``lines`` by line, and checks that the block path (at
    several block sizes) and ``scan`` find the same."""
    by_line = {(hit.line, hit.start, hit.end, hit.value) for hit in m.scan(lines)}
    data = "\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"
    for size in (7, 64, 1 << 20):
        block = {(hit.line, hit.start, hit.end, hit.value) for hit in m.scan_stream(io.BytesIO(data), size)}
        assert block == by_line, size
    return by_line


# -- realistic lines ------------------------------------------------------------------

SQUID = (
    "1765012442.123    212 10.0.0.5 TCP_MISS/302 512 GET "
    "http://redirect.example/r?u=http%3A%2F%2Fcia.toh.info%2Flogin - HIER_DIRECT/198.51.100.4 text/html"
)
APACHE = (
    '10.0.0.5 - - [06/Dec/2026:09:14:02 +0000] "GET /out?next=https%3a%2f%2fcia%2etoh%2einfo%2f HTTP/1.1" 302 0 '
    '"-" "Mozilla/5.0"'
)
DNS_DEBUG = (
    "12/6/2026 9:14:02 AM 0E5C PACKET  000000D2A5B8E1A0 UDP Rcv 10.0.0.5   5b3c   Q [0001   D   NOERROR] A      "
    "(3)cia(3)toh(4)info(0)"
)
ZEEK_TSV = (
    "1765012442.123456\tCHhAvVGS1DHFjwGM9\t10.0.0.5\t49152\t198.51.100.4\t80\t1\tGET\tevil.com\t/a/b.php\t-\t1.1\t"
    "Mozilla/5.0\t-\t0\t512\t200\tOK"
)
ZEEK_JSON = json.dumps(
    {"ts": 1765012442.1, "uid": "CHhAvVGS1DHFjwGM9", "method": "GET", "host": "evil.com", "uri": "/a/b.php"},
    separators=(",", ":"),
)
MAIL = "Subject: phish reported: hxxp://evil[.]com/a/b.php sent by x[@]evil.com, see cia(.)toh(.)info"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (SQUID, [("cia.toh.info", "cia.toh.info")]),
        (APACHE, [("cia%2etoh%2einfo", "cia.toh.info")]),
        (DNS_DEBUG, [("cia(3)toh(4)info", "cia.toh.info")]),
        (DNS_DEBUG.replace("(3)cia", "(3)www(3)cia"), [("cia(3)toh(4)info", "cia.toh.info")]),
        (ZEEK_TSV, [("evil.com\t/a/b.php", "http://evil.com/a/b.php")]),
        (ZEEK_JSON, [('evil.com","uri":"/a/b.php', "http://evil.com/a/b.php")]),
        (
            ZEEK_JSON.replace('","', '", "').replace('":', '": '),
            [('evil.com", "uri": "/a/b.php', "http://evil.com/a/b.php")],
        ),
        (
            "GET /?to=x%40evil.com&u=bad%2Eexample HTTP/1.1",
            [("x%40evil.com", "x@evil.com"), ("bad%2Eexample", "bad.example")],
        ),
        ("q=%E2%80%9Ccia.toh.info%E2%80%9D", [("cia.toh.info", "cia.toh.info")]),
    ],
)
def test_a_value_a_log_form_hides_is_found_where_it_is_written(line: str, expected: list[tuple[str, str]]) -> None:
    assert found(PLAIN, line) == expected
    hits = PLAIN.scan_line(line)
    assert all(line[hit.start : hit.end] == hit.text for hit in hits)
    atoms_hits = {(h.start, h.end, h.kind, h.value) for h in oracle_form_hits(ATOMS, line)}
    assert {(h.start, h.end, h.kind, h.value) for h in hits} == atoms_hits
    assert every_path(PLAIN, [line]) == {(1, h.start, h.end, h.value) for h in hits}


@pytest.mark.parametrize(
    "line",
    [
        DNS_DEBUG.replace("(3)cia", "(3)xcia"),  # a length that does not hold: not a name
        DNS_DEBUG.replace("(3)cia", "(4)xcia"),  # xcia.toh.info is another name
        "GET /?u=http%253A%252F%252Fcia.toh.info%252F HTTP/1.1",  # encoded twice: %2F in the view
        "GET /a%2Fxcia.toh.info HTTP/1.1",
        "GET /r?u=http%3A%2F%2Fcia.toh.info%2Eattacker.net%2F HTTP/1.1",  # another host once decoded
        "GET /r?u=cia.toh.info%2Dx HTTP/1.1",
        ZEEK_TSV.replace("\t/a/b.php", "\t/a/b.php5"),
        ZEEK_TSV.replace("GET\tevil.com\t", "GET\tevil.com\t-\t"),  # not adjacent
        MAIL,  # defanged text is read only when asked for
    ],
)
def test_near_misses_stay_misses(line: str) -> None:
    assert found(PLAIN, line) == []
    assert oracle_form_hits(ATOMS, line) == set()


def test_an_encoded_dot_before_a_name_is_a_subdomain_dot() -> None:
    line = "GET /r?d=%2Ecia.toh.info HTTP/1.1"
    assert found(PLAIN, line) == [("cia.toh.info", "cia.toh.info")]
    assert found(matcher(subdomains=False), line) == []
    assert found(matcher(subdomains=False), "GET /r?d=%20cia.toh.info HTTP/1.1") == [("cia.toh.info", "cia.toh.info")]


def test_a_match_in_the_line_and_in_its_view_is_one_match() -> None:
    line = "GET http://cia.toh.info/?next=cia.toh.info%2F HTTP/1.1"
    assert [(h.start, h.end) for h in PLAIN.scan_line(line)] == [(11, 23), (30, 42)]


def test_defanged_text_is_found_when_asked_for_at_its_place_as_written() -> None:
    assert found(DEFANGED, MAIL) == [
        ("evil[.]com/a/b.php", "http://evil.com/a/b.php"),
        ("x[@]evil.com", "x@evil.com"),
        ("cia(.)toh(.)info", "cia.toh.info"),
    ]
    assert {(h.start, h.end, h.kind, h.value) for h in DEFANGED.scan_line(MAIL)} == {
        tuple(h) for h in oracle_form_hits(ATOMS, MAIL, defanged=True)
    }
    ticket = "IOC: hXXps[://]evil{.}com/a/b.php (AT) 203[.]0[.]113[.]7; bad[dot]example"
    assert found(DEFANGED, ticket) == [
        ("evil{.}com/a/b.php", "http://evil.com/a/b.php"),
        ("203[.]0[.]113[.]7", "203.0.113.7"),
        ("bad[dot]example", "bad.example"),
    ]
    assert every_path(DEFANGED, [MAIL, ticket]) == every_path(DEFANGED, [MAIL, ticket])


def test_defanged_is_kept_by_pickle_and_the_matcher_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "key"))
    assert pickle.loads(pickle.dumps(DEFANGED)).defanged
    assert not pickle.loads(pickle.dumps(PLAIN)).defanged
    path = tmp_path / "feed.matcher"
    iocmatch.save_matcher(DEFANGED, path)
    assert found(iocmatch.load_matcher(path), "x[@]evil.com") == [("x[@]evil.com", "x@evil.com")]
    assert PLAIN.with_defanged().defanged
    assert not DEFANGED.with_defanged(False).defanged
    assert found(PLAIN.with_defanged(), "x[@]evil.com") == [("x[@]evil.com", "x@evil.com")]
    assert not PLAIN.defanged  # with_defanged makes another matcher


def test_the_command_reads_defanged_text_only_with_its_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "key"))
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps(bundle(indicator("[email-addr:value = 'x@evil.com']"))))
    log = tmp_path / "mail.log"
    log.write_text(MAIL + "\n" + DNS_DEBUG + "\n")
    assert main(["scan", "--format", "jsonl", "-i", str(feed), str(log)]) == 1
    capsys.readouterr()
    assert main(["scan", "--format", "jsonl", "--defanged", "-i", str(feed), str(log)]) == 0
    assert [json.loads(row)["text"] for row in capsys.readouterr().out.splitlines()] == ["x[@]evil.com"]
    matcher_file = tmp_path / "feed.matcher"
    assert main(["compile", "-i", str(feed), "-o", str(matcher_file)]) == 0
    capsys.readouterr()
    assert main(["scan", "--format", "jsonl", "--defanged", "-m", str(matcher_file), str(log)]) == 0
    assert [json.loads(row)["start"] for row in capsys.readouterr().out.splitlines()] == [MAIL.index("x[@]")]


# -- every path agrees ----------------------------------------------------------------


BACKGROUND = [
    '10.0.0.9 - - [06/Dec/2026:09:14:02 +0000] "GET /search?q=a%20b%20c&lang=en%2DGB HTTP/1.1" 200 5120',
    DNS_DEBUG.replace("(3)cia(3)toh(4)info(0)", "(3)www(7)example(3)org(0)"),
    "Dec  6 09:14:04 host sshd(pam_unix)[812]: session opened for user root(uid=0)",
]


@pytest.mark.parametrize("engine", ["aho-corasick", "hyperscan", "tokens"])
def test_the_block_path_finds_lines_whose_values_only_a_view_shows(engine: str) -> None:
    if engine == "hyperscan" and not HYPERSCAN:
        pytest.skip("hyperscan is not installed on this platform")
    m = matcher(engine=engine)
    lines = BACKGROUND * 20 + [SQUID, APACHE, DNS_DEBUG, ZEEK_TSV, ZEEK_JSON] + BACKGROUND * 20
    # A line holding a value as written and another only its view shows.
    lines.append("GET http://bad.example/?r=cia%2Etoh%2Einfo HTTP/1.1")
    hits = every_path(m, lines)
    assert sorted(number for number, *_ in hits) == [61, 62, 63, 64, 65, 126, 126]


def test_a_block_where_most_lines_hold_forms_is_viewed_whole() -> None:
    proxy = [f"GET /search?q=a%20b%20{n}&lang=en%2DGB HTTP/1.1" for n in range(300)]
    lines = [*proxy[:150], SQUID, APACHE, "q=cia.toh.info%2F", ZEEK_JSON, *proxy[150:]]
    assert sorted(number for number, *_ in every_path(PLAIN, lines)) == [151, 152, 153, 154]


def test_not_utf8_bytes_and_stray_marks_never_raise() -> None:
    lines = [
        b"GET /\xff%2Fcia.toh.info%C3 %zz % %C3%28 %F0%9F%98 (999)a(0) (99999999999999999999)x(0) (3)(0) (0)",
        b"\xc3\x28 (3)cia(3)toh(4)info(0)\xff",
        b"%" * 5000 + b"%2Ecia.toh.info",
        b'\t/\t/\t\t/ "uri":"/" "host":"","uri":"/x"',
    ]
    for line in lines:
        PLAIN.scan_line(line)
    assert every_path(PLAIN, [line.decode("utf-8", "surrogateescape") for line in lines]) == {
        (1, 9, 21, "cia.toh.info"),
        (2, 6, 22, "cia.toh.info"),
        (3, 5003, 5015, "cia.toh.info"),
    }


@pytest.mark.slow
def test_parallel_pieces_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "MIN_PARALLEL_BYTES", 0)
    log = tmp_path / "mixed.log"
    log.write_text("\n".join((BACKGROUND * 50 + [SQUID, DNS_DEBUG, ZEEK_TSV]) * 40) + "\n")
    sequential = list(PLAIN.scan_file(log))
    assert len(sequential) == 120
    assert list(PLAIN.scan_file(log, workers=3)) == sequential


@pytest.mark.slow
@pytest.mark.parametrize("encoded", ["cia%2Etoh%2Einfo", "(3)cia(3)toh(4)info(0)", "u=http%3A%2F%2Fcia.toh.info%2F"])
def test_a_form_across_a_window_edge_of_a_long_line_is_found_once(encoded: str) -> None:
    """Windows own 2,048 characters here: the value is moved across the edge
    of the first window one character at a time."""
    for at in range(2048 - len(encoded) - 2, 2048 + 2):
        line = "z " * (at // 2) + " " * (at % 2) + encoded + " z" * 2000
        assert line.index(encoded) == at
        whole = [(h.start, h.end) for h in PLAIN.scan_line(line)]
        assert len(whole) == 1
        windows = [
            (h.start, h.end)
            for _, _, _, matches in PLAIN.hit_lines(io.BytesIO(line.encode()), 1 << 10, line_window=2048)
            for h in matches
        ]
        assert windows == whole, at


# -- the reference ---------------------------------------------------------------------

_VALUES = ["cia.toh.info", "evil.com/a/b.php", "x@evil.com", "bad.example", "203.0.113.7", "a" * 64]


def _percent(text: str, draw: st.DrawFn) -> str:
    chars = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    upper = draw(st.booleans())
    spelled = "%{:02X}" if upper else "%{:02x}"
    return "".join(spelled.format(ord(c)) if encode else c for c, encode in zip(text, chars, strict=True))


def _dns(text: str, draw: st.DrawFn) -> str:
    labels = text.split(".")
    if draw(st.booleans()):
        labels[0] += "x"
    return "".join(f"({len(label) - draw(st.sampled_from([0, 0, 0, 1]))}){label}" for label in labels) + "(0)"


def _zeek(text: str, draw: st.DrawFn) -> str:
    host, _, path = text.partition("/")
    if draw(st.booleans()):
        return f"GET\t{host}\t/{path}\t-"
    return f'"host":"{host}","uri":"/{path}"'


def _defang(text: str, draw: st.DrawFn) -> str:
    return text.replace(".", draw(st.sampled_from(["[.]", "(.)", "{.}", "[dot]", "."]))).replace("@", "[@]")


@st.composite
def form_lines(draw: st.DrawFn) -> str:
    pieces = [draw(st.text(alphabet='aZ9_-.:/@%+?&="()[] \t0F', max_size=4))]
    for _ in range(draw(st.integers(1, 4))):
        value = draw(st.sampled_from(_VALUES))
        form = draw(st.sampled_from([_percent, _dns, _zeek, _defang, lambda text, _: text]))
        pieces += [form(value, draw), draw(st.text(alphabet='aZ9_-.:/@%+?&="()[] \t0F', max_size=4))]
    return "".join(pieces)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(form_lines(), st.booleans(), st.booleans())
def test_library_equals_reference_on_lines_with_forms(line: str, subdomains: bool, defanged: bool) -> None:
    m = matcher(subdomains=subdomains, defanged=defanged) if (subdomains, defanged) != (True, False) else PLAIN
    want = {tuple(h) for h in oracle_form_hits(ATOMS, line, subdomains, defanged)}
    assert {(h.start, h.end, h.kind, h.value) for h in m.scan_line(line)} == want
    block = m.scan_stream(io.BytesIO(line.encode("utf-8", "surrogateescape")), 16)
    assert {(h.start, h.end, h.kind, h.value) for h in block} == want


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(st.lists(form_lines(), min_size=1, max_size=200), st.booleans())
def test_large_blocks_give_every_line_its_reference_hits(lines: list[str], defanged: bool) -> None:
    """Where a form may be in a large block is found in one scan of it (Hyperscan, where it is)
    rather than a search a form: the hits are still every line's own."""
    m = DEFANGED if defanged else PLAIN
    # A first line long enough that the block path reads the rest as one large block.
    lines = ["x" * 5000, *(line.replace("\n", " ").replace("\r", " ") for line in lines)]
    want = {
        (number, *hit) for number, line in enumerate(lines, 1) for hit in oracle_form_hits(ATOMS, line, True, defanged)
    }
    data = "\n".join(lines).encode("utf-8", "surrogateescape")
    got = {(h.line, h.start, h.end, h.kind, h.value) for h in m.scan_stream(io.BytesIO(data))}
    assert got == want


@pytest.mark.skipif(not HYPERSCAN, reason="the one scan is Hyperscan's; without it each form is searched")
@settings(max_examples=200, deadline=None)
@given(st.lists(form_lines(), min_size=1, max_size=100), st.booleans())
def test_one_scan_finds_the_lines_each_forms_own_search_finds(lines: list[str], defanged: bool) -> None:
    """Every line a form's own search finds (a line it skips, its block lacking the ``{`` of
    Zeek JSON, may be found too: it is then scanned whole, for the same hits)."""
    block = "\n".join(["x" * 5000, *lines]).encode("utf-8", "surrogateescape")
    each_form = [form.places(block) for form in log_forms._forms(defanged)]
    _, starts = log_forms.lines_with_forms(block, defanged)
    assert set(log_forms.lines_at(block, each_form)[1]) <= set(starts)


@pytest.mark.skipif(not HYPERSCAN, reason="Hyperscan has no wheel for this platform")
def test_a_hyperscan_that_cannot_compile_leaves_each_form_its_own_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where Hyperscan imports but cannot compile (a CPU it does not support), an
    Aho-Corasick matcher scans large blocks as it did without it."""
    import hyperscan

    class Refusing:
        def __init__(self, **_options: object) -> None:
            pass

        def compile(self, **_options: object) -> None:
            raise hyperscan.error("this host's CPU is not supported")

    lines = [f"GET http://cia.toh.info/{n} (3)cia(3)toh(4)info(0)" for n in range(300)]
    data = "\n".join(lines).encode()
    assert len(data) > 4096
    want = list(PLAIN.scan_stream(io.BytesIO(data)))
    assert len(want) >= 600
    monkeypatch.setattr(hyperscan, "Database", Refusing)
    log_forms._marks_engine.cache_clear()
    try:
        assert list(PLAIN.scan_stream(io.BytesIO(data))) == want
    finally:
        log_forms._marks_engine.cache_clear()


@pytest.mark.parametrize("block_size", [16, 1 << 20], ids=["lines one by one", "one large block"])
def test_zeek_json_is_joined_only_on_a_line_holding_a_brace(block_size: int) -> None:
    """The block path makes each line's view as the line path does: a line without
    ``{`` is not read as Zeek JSON, whatever the other lines of its block hold."""
    pattern = "[file:name = 'q" + '","uri":"' + "']"
    m = iocmatch.compile(iocmatch.load(bundle(indicator(pattern, 1))))
    loose = '"host":"%71","uri":"/x'  # no brace: as written, the name is there
    lines = ['{"host":"a.example","uri":"/b"}', loose, *(f"plain filler {n:04d}" for n in range(400))]
    want = [(n, h.start, h.end, h.value) for n, line in enumerate(lines, 1) for h in m.scan_line(line, n)]
    assert want == [(2, 8, 20, 'q","uri":"')]
    data = ("\n".join(lines) + "\n").encode()
    assert [(h.line, h.start, h.end, h.value) for h in m.scan_stream(io.BytesIO(data), block_size)] == want
