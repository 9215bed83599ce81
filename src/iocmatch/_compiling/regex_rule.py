"""When an occurrence of a regex atom's literal counts: RE2 finds a match of
the regex around it, holding it, whose anchored ends keep the kind's
boundaries.

The engines (Hyperscan, Aho-Corasick, tokens) find the literal; RE2, which
runs in time linear in the text it reads, runs the regex, and only over a
bounded window of the line around the literal. Python's ``re`` never sees a
feed's regex. A regex RE2 cannot compile (a needle made by hand) verifies
nothing: rules never raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from .._common.errors import PatternError
from .._common.model import (
    DOMAIN,
    EMAIL,
    FILE_NAME,
    HASH_KINDS,
    HTTP_HEADER,
    HTTP_REQUEST,
    MUTEX,
    PROCESS_NAME,
    URL,
    USER_ACCOUNT,
    USER_AGENT,
    X509_NAME,
    X509_SERIAL,
)
from .._patterns.regexes import compile_re2, read_regex
from . import literal_rules

# How far from its literal a match may reach, each way, in characters: it
# bounds the work per occurrence on a very long line. At most half the context
# a long line's window keeps on each side (``long_lines.CONTEXT``, 512), so a
# match a window owns never reaches the window's cut edges, where a boundary
# would be read as the line's end.
REACH = 256

# Kinds whose values hold no white space: a match stays inside one run of
# non-space characters, so `.*` cannot run on into the next field.
_SPACE_FREE = frozenset({DOMAIN, URL, EMAIL, *HASH_KINDS})
# Kinds whose regexes are case-sensitive as written (`(?i)` makes them not):
# a URL's path and a mutex are compared with their case; every other kind
# ignores case, as its `=` does (directories too: a regex cannot tell a
# Windows folder, compared without case, from a POSIX one).
_CASE_SENSITIVE = frozenset({URL, MUTEX})

_H = r"A-Za-z0-9_\-"
# What may stand before and after an anchored value, by kind, as RE2 text
# (it finds the leftmost match that keeps them) and as a check on the line
# (the truth, also at the window's edges and for non-ASCII word characters).
_NAME, _WEB, _MAIL, _HEX, _WORD = "name", "url", "mail", "hex", "word"
_FAMILY = {
    DOMAIN: _NAME,
    FILE_NAME: _NAME,
    PROCESS_NAME: _NAME,
    URL: _WEB,
    EMAIL: _MAIL,
    **dict.fromkeys(HASH_KINDS, _HEX),
}
# The literal kinds with rules of their own: the same edges as their `=`
# (``literal_rules``), checked on the line; RE2 gets no guard for them.
_ACCOUNT, _SERIAL, _DN, _FIELD, _REQUEST = "account", "serial", "dn", "field", "request"
_FAMILY |= {
    USER_ACCOUNT: _ACCOUNT,
    X509_SERIAL: _SERIAL,
    X509_NAME: _DN,
    USER_AGENT: _FIELD,
    HTTP_HEADER: _FIELD,
    HTTP_REQUEST: _REQUEST,
}
_OPENS = {
    _ACCOUNT: literal_rules.account_opens,
    _SERIAL: literal_rules.serial_opens,
    _DN: literal_rules.name_opens,
    _FIELD: literal_rules.field_opens,
    _REQUEST: literal_rules.request_opens,
}
_CLOSES = {
    _ACCOUNT: literal_rules.account_closes,
    _SERIAL: literal_rules.serial_closes,
    _DN: literal_rules.name_closes,
    _FIELD: literal_rules.field_closes,
}
_NAME_AFTER = rf"(?:\z|[^{_H}.]|\.(?:\z|[^{_H}]))"
_BEFORE = {
    _NAME: rf"(?:\A|[^{_H}.])",
    _WEB: rf"(?:\A|[^{_H}.])",
    _MAIL: rf"(?:\A|[^{_H}.%+])",
    _HEX: r"(?:\A|[^0-9A-Fa-f])",
    _WORD: r"(?:\A|\W|\b)",
}
_AFTER = {
    _NAME: _NAME_AFTER,
    _WEB: r"(?:\z|[\s\"'<>|,;)\]#])",
    _MAIL: _NAME_AFTER,
    _HEX: r"(?:\z|[^0-9A-Fa-f])",
    _WORD: r"(?:\z|\W|\b)",
}
_HOST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_NOT_BEFORE = {
    _NAME: _HOST | {"."},
    _WEB: _HOST | {"."},
    _MAIL: _HOST | {".", "%", "+"},
    _HEX: frozenset("0123456789abcdefABCDEF"),
}
_URL_END = frozenset("\"'<>|,;)]#")
# Fixed patterns of this module (never a feed's): the edges of a run of
# non-space characters; the lone surrogates a line may hold (bytes that are not
# UTF-8), which RE2 cannot be given.
_LAST_SPACE = re.compile(r"\s\S*\Z")
_SPACE = re.compile(r"\s")
_SURROGATE = re.compile("[\ud800-\udfff]")

Span = tuple[int, int]


class RegexNeedle(Protocol):
    """What the rule reads of a needle: the regex as the atom holds it, and its kind."""

    @property
    def regex(self) -> str: ...
    @property
    def kind(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Verifier:
    pattern: Any  # a compiled RE2 regex: the core in group 1, guards around it
    anchored_start: bool
    anchored_end: bool
    family: str
    names_query: bool  # the regex holds a literal `?`: a query after it is another value


@lru_cache(maxsize=4096)
def _verifier(regex: str, kind: str) -> _Verifier | None:
    """The compiled form of one regex atom, made once per process (needles
    carry only the regex's text, so they pickle); None when it cannot be."""
    try:
        parts = read_regex(regex)
    except PatternError:
        return None
    family = _FAMILY.get(kind, _WORD)
    core = parts.core
    if core.rfind("\\Q") > core.rfind("\\E"):
        core += "\\E"  # a quote left open runs to the end: closed before the group is
    names_query = "\\?" in core or "[?]" in core
    source = "".join(
        (
            "" if kind in _CASE_SENSITIVE else "(?i)",
            _BEFORE.get(family, "") if parts.anchored_start else "",
            f"({core})",
            _after_guard(family, names_query) if parts.anchored_end else "",
        )
    )
    try:
        pattern = compile_re2(source)
    except Exception:  # noqa: BLE001 - re2.error: verify nothing rather than raise
        return None
    return _Verifier(pattern, parts.anchored_start, parts.anchored_end, family, names_query)


def _after_guard(family: str, names_query: bool) -> str:
    if family == _WEB and not names_query:
        return r"(?:\z|[\s\"'<>|,;)\]#?&])"  # a query the regex does not name is still its URL's
    return _AFTER.get(family, "")


def regex_span(line: str, start: int, end: int, needle: RegexNeedle, _subdomains: bool) -> Span | None:
    """The match of the needle's regex that holds ``line[start:end]``, or None.

    Matches are taken leftmost first, as RE2 finds them, from the window's
    start; the first that holds the occurrence and keeps the boundaries is
    reported (its own text, not the whole value)."""
    verifier = _verifier(needle.regex, needle.kind)
    if verifier is None:
        return None
    low, high = _window(line, start, end, needle.kind in _SPACE_FREE)
    # One character more on each side: the guards read the characters around
    # the match. RE2 is given only that piece (it copies what it is given: the
    # whole line for each occurrence would be quadratic), a lone surrogate in
    # it replaced by U+FFFD, one character for one.
    base, stop = max(0, low - 1), min(len(line), high + 2)
    piece = line[base:stop]
    if not piece.isascii():
        piece = _SURROGATE.sub("\ufffd", piece)
    search = verifier.pattern.search
    position = base
    while position <= start:
        found = search(piece, position - base)
        if found is None:
            return None
        match_start, match_end = (offset + base for offset in found.span(1))
        if match_start > start:
            return None
        if (
            match_end >= end
            and low <= match_start
            and match_end <= high
            and _ends_hold(line, match_start, match_end, verifier)
        ):
            return match_start, match_end
        position = match_end if match_end > position else position + 1
    return None


def _window(line: str, start: int, end: int, space_free: bool) -> Span:
    """Where a match holding ``line[start:end]`` may lie: ``REACH`` either way,
    and for kinds without white space, the run of non-space characters."""
    low, high = max(0, start - REACH), min(len(line), end + REACH)
    if space_free:
        before = _LAST_SPACE.search(line, low, start)
        low = before.start() + 1 if before else low
        after = _SPACE.search(line, end, high)
        high = after.start() if after else high
    return low, high


def _ends_hold(line: str, start: int, end: int, verifier: _Verifier) -> bool:
    """The kind's boundaries at the anchored ends, on the line itself."""
    family = verifier.family
    if family in _OPENS:
        if verifier.anchored_start and not _OPENS[family](line, start):
            return False
        if not verifier.anchored_end:
            return True
        if family == _REQUEST:
            return literal_rules.request_closes(line, end, verifier.names_query)
        return _CLOSES[family](line, end)
    if verifier.anchored_start:
        before = line[start - 1] if start > 0 else ""
        if family == _WORD:
            if _is_word(before) and _is_word(line[start : start + 1]):
                return False
        elif before in _NOT_BEFORE[family]:
            return False
    if verifier.anchored_end:
        after = line[end] if end < len(line) else ""
        if family == _WORD:
            return not (_is_word(after) and _is_word(line[end - 1 : end]))
        if family == _WEB:
            query = after in "?&" and not verifier.names_query
            return not after or after.isspace() or after in _URL_END or query
        if family == _HEX:
            return after not in _NOT_BEFORE[_HEX]
        following = line[end + 1] if end + 1 < len(line) else ""
        return after not in _HOST and not (after == "." and following in _HOST)
    return True


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"


__all__ = ["REACH", "RegexNeedle", "regex_span"]
