"""LIKE of any shape and MATCHES: a regular expression in RE2's syntax.

A comparison becomes an atom whose value is the regex. This module checks
that RE2 can run it (RE2 runs in linear time: no backreferences, no
lookaround), translates LIKE into one, and reads off the literal text every
match must hold: the keys the engines look for before RE2 verifies.

Everything here is one pass over the regex's text. Python's ``re`` never
compiles a feed's regex: a backtracking engine on a feed's regex could take
exponential time on one log line.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .._common.errors import PatternError
from .._common.model import (
    DOMAIN,
    EMAIL,
    FILE_NAME,
    HASH_KINDS,
    IPV4,
    IPV6,
    MATCHES,
    PORT,
    URL,
    Atom,
)
from .canonical import fold_case
from .values import NETWORK_ADDRESS, like_atom

# A regex longer than this is refused: no feed writes one, and it bounds the work.
MAX_REGEX = 4096
# Groups nested deeper than this are refused (the reader recurses once per group).
MAX_DEPTH = 64
# The literal text a regex is looked for by must fix this many letters or
# digits, as a LIKE prefix must (breadth.SHORTEST_LIKE_PREFIX): shorter
# pieces (`exe`, `www`, `.js`) occur in nearly every line, and each
# occurrence would run the regex.
SHORTEST_LITERAL = 4
# A regex may be looked for by several literals, one per branch of an
# alternation (`evil(one|two)`); past this many it is refused.
MAX_KEYS = 16
# A literal repeated `{n}` times is written out up to this many times.
_MAX_REPEAT = 64
# Characters of a refused value quoted in the reason.
_SHOWN = 80

# Kinds a regex cannot be compared with: addresses are compared as numbers.
_NOT_TEXT = (IPV4, IPV6, PORT)

# What one LIKE wildcard stands for, by kind: kinds whose values hold no
# white space (a domain, a URL, a file name without its folder) get a class
# that cannot run out of the value into the next field of a log line.
_NAME_CHAR = r"[A-Za-z0-9_.\-\x{80}-\x{10FFFF}]"
_WILDCARD = {
    DOMAIN: _NAME_CHAR,
    EMAIL: r"[A-Za-z0-9_.+%@\-\x{80}-\x{10FFFF}]",
    URL: r"[^\s\"'<>|]",
    FILE_NAME: r"[^\s\\/\"'<>|:*?]",
    **dict.fromkeys(HASH_KINDS, "[0-9A-Fa-f]"),
}
_ANY_CHARACTER = "."

# RE2's refusals, said in a feed author's terms.
_UNSUPPORTED = {
    "(?=": "lookahead (?=...)",
    "(?!": "negative lookahead (?!...)",
    "(?<=": "lookbehind (?<=...)",
    "(?<!": "negative lookbehind (?<!...)",
    "(?>": "an atomic group (?>...)",
    "*+": "a possessive quantifier (*+)",
    "++": "a possessive quantifier (++)",
    "?+": "a possessive quantifier (?+)",
}
_WHY_RE2 = "RE2 runs every regex in time linear in the line, so it has no backtracking constructs"


@dataclass(frozen=True, slots=True)
class RegexParts:
    """A regex as the matcher runs it: ``core`` is the regex without its
    outer anchors (``^``, ``$``, ``\\A``, ``\\z``) and without a leading or
    trailing ``.*``; ``anchored_start``/``anchored_end`` say whether the match
    must start or end the value; ``keys`` are the case-folded literals, one of
    which every match holds."""

    core: str
    anchored_start: bool
    anchored_end: bool
    keys: tuple[str, ...]


def like_or_regex_atom(kind: str, value: str, warnings: list[str]) -> Atom:
    """LIKE: '%.domain' and 'prefix%' as ``values.like_atom`` reads them,
    any other shape, and a prefix on a kind it takes none on, as a regex atom."""
    _refuse_kind(kind, "LIKE")
    if _one_wildcard(value):
        try:
            return like_atom(kind, value, warnings)
        except PatternError as exc:
            # Only a refused shape or kind comes here; a bad value keeps its own reason.
            # A hash prefix stays refused: part of a hash names no file.
            reason = str(exc)
            kind_refused = reason.startswith(_KIND_REFUSED) and kind not in HASH_KINDS
            if not (kind_refused or reason.endswith(_SHAPE_REFUSED)):
                raise
    return like_regex_atom(kind, value)


# How ``values.like_atom`` says that the kind, or the shape, is what it does not take.
_KIND_REFUSED = "LIKE is not supported on "
_SHAPE_REFUSED = "(only '%.domain' and 'prefix%')"


def _one_wildcard(value: str) -> bool:
    """'%.x' or 'x%', with no other wildcard: the shapes ``like_atom`` reads."""
    if value.startswith("%.") and not _has_wildcard(value[2:]):
        return True
    literal = value[:-1]
    return value.endswith("%") and bool(literal) and not _has_wildcard(literal)


def like_regex_atom(kind: str, value: str) -> Atom:
    """LIKE of any shape: ``%`` is any run of the kind's characters, ``_`` one
    of them, the rest literal; anchored at each end without a ``%``."""
    kind = _named(kind)
    _refuse_kind(kind, "LIKE")
    regex = like_regex(kind, value)
    try:
        read_regex(regex)
    except PatternError as exc:
        raise PatternError(f"LIKE {_shown(value)} {exc}") from None
    return Atom(kind, regex, MATCHES)


def regex_atom(kind: str, regex: str) -> Atom:
    """MATCHES: the regex itself, once RE2 can run it and a literal is found."""
    kind = _named(kind)
    _refuse_kind(kind, "MATCHES")
    try:
        read_regex(regex)
    except PatternError as exc:
        raise PatternError(f"MATCHES {_shown(regex)} {exc}") from None
    return Atom(kind, regex, MATCHES)


def _named(kind: str) -> str:
    """A network-traffic address compared with a regex: a host name (a regex on
    an address's digits would miss its other spellings)."""
    return DOMAIN if kind == NETWORK_ADDRESS else kind


def _shown(text: str) -> str:
    """``text`` quoted for a reason, cut short so that the reason itself shows."""
    return repr(text) if len(text) <= _SHOWN else f"{text[:_SHOWN]!r}..."


def _refuse_kind(kind: str, operator: str) -> None:
    if kind in _NOT_TEXT:
        raise PatternError(f"{operator} is not supported on {kind} (addresses and ports are compared as numbers)")


def like_regex(kind: str, value: str) -> str:
    """The regex a LIKE value stands for. A leading or trailing ``%`` leaves
    that end open (the same set of values, and a match no longer than needed)."""
    many = _WILDCARD.get(kind, _ANY_CHARACTER)
    body = value.strip("%")
    pieces = ["^" if not value.startswith("%") else ""]
    for index, character in enumerate(body):
        if character == "%":
            if body[index - 1] != "%":
                pieces.append(many + "*")
        elif character == "_":
            pieces.append(many)
        else:
            pieces.append(_escaped(character))
    pieces.append("$" if not value.endswith("%") else "")
    return "".join(pieces)


def _escaped(character: str) -> str:
    if character.isascii() and not character.isalnum():
        return f"\\x{{{ord(character):x}}}" if not character.isprintable() else "\\" + character
    return character


def _has_wildcard(text: str) -> bool:
    return "%" in text or "_" in text


@lru_cache(maxsize=4096)
def read_regex(regex: str) -> RegexParts:
    """``regex`` as the matcher runs it, or PatternError saying why it cannot be."""
    if len(regex) > MAX_REGEX:
        raise PatternError(f"is longer than {MAX_REGEX:,} characters (the limit)")
    _compiles(regex)
    try:
        branches = _Reader(regex).whole()
    except (IndexError, ValueError):  # a form RE2 takes that the reader does not know
        raise PatternError("could not be read for its literal text") from None
    return _parts(regex, branches)


def _compiles(regex: str) -> None:
    """RE2 accepts ``regex``, or PatternError with its reason."""
    try:
        compile_re2(regex)
    except PatternError:
        raise
    except Exception as exc:  # noqa: BLE001 - re2.error, whose message is bytes
        message = exc.args[0] if exc.args else "refused"
        reason = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
        raise PatternError(_refusal(reason)) from None


def compile_re2(source: str) -> Any:
    """``source`` compiled by RE2 (errors not written to stderr)."""
    import re2  # only regex atoms need it

    options = re2.Options()
    options.log_errors = False
    return re2.compile(source, options)


def _refusal(reason: str) -> str:
    operator = reason.rpartition(": ")[2]
    named = _UNSUPPORTED.get(operator)
    if named is None and reason.startswith("invalid escape sequence: \\") and operator[1:2].isdigit():
        named = f"a backreference ({operator})"
    if named is None and operator in ("\\k", "\\g"):
        named = f"a named backreference ({operator})"
    if named is not None:
        return f"uses {named}, which RE2 cannot run ({_WHY_RE2})"
    return f"is not a regular expression RE2 can run: {reason}"


# The reader: a regex RE2 accepted, as branches of pieces. Only what finding
# the literals and the outer anchors needs is kept.
_CHAR, _GROUP, _OTHER, _ZERO, _FLAGS, _START, _END, _ANY = (
    "char",
    "group",
    "other",
    "zero",
    "flags",
    "start",
    "end",
    "any",
)
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_CLASS_ESCAPES = frozenset("dDwWsSC")


@dataclass(slots=True)
class _Piece:
    kind: str
    start: int  # its text in the regex, quantifier included
    end: int
    char: str = ""
    branches: list[list[_Piece]] | None = None
    least: int = 1
    most: int | None = 1  # None: no upper bound


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def whole(self) -> list[list[_Piece]]:
        branches = self.alternation(0)
        if self.at != len(self.text):  # RE2 accepted it, so this is the reader's gap
            raise PatternError("could not be read for its literal text")
        return branches

    def alternation(self, depth: int) -> list[list[_Piece]]:
        if depth > MAX_DEPTH:
            raise PatternError(f"nests groups more than {MAX_DEPTH} deep (the limit)")
        branches: list[list[_Piece]] = [[]]
        text = self.text
        while self.at < len(text) and text[self.at] != ")":
            if text[self.at] == "|":
                branches.append([])
                self.at += 1
                continue
            pieces = self.atom(depth)
            if pieces:
                self.quantifier(pieces[-1])
                branches[-1].extend(pieces)
        return branches

    def atom(self, depth: int) -> list[_Piece]:
        text, start = self.text, self.at
        character = text[start]
        self.at += 1
        if character == "(":
            return [self.group(start, depth)]
        if character == "[":
            return [self.character_class(start)]
        if character == "\\":
            return self.escape(start)
        kind = {".": _ANY, "^": _START, "$": _END}.get(character, _CHAR)
        return [_Piece(kind, start, self.at, char=character if kind == _CHAR else "")]

    def group(self, start: int, depth: int) -> _Piece:
        text = self.text
        if text.startswith("?", self.at):
            self.at += 1
            if text.startswith(("P<", "<"), self.at):
                self.at = text.index(">", self.at) + 1
            else:
                while text[self.at] not in ":)":
                    self.at += 1
                if text[self.at] == ")":
                    self.at += 1
                    return _Piece(_FLAGS, start, self.at)
                self.at += 1
        branches = self.alternation(depth + 1)
        self.at += 1  # the closing parenthesis
        return _Piece(_GROUP, start, self.at, branches=branches)

    def character_class(self, start: int) -> _Piece:
        """``[...]``: one literal character when it holds only one (``[.]``)."""
        text = self.text
        negated = text.startswith("^", self.at)
        self.at += negated
        members: list[str | None] = []
        first = True
        while first or text[self.at] != "]":
            first = False
            member = self.class_member()
            if text[self.at] == "-" and text[self.at + 1] != "]":
                self.at += 1
                self.class_member()
                member = None  # a range
            members.append(member)
        self.at += 1
        if not negated and len(members) == 1 and members[0] is not None:
            return _Piece(_CHAR, start, self.at, char=members[0])
        return _Piece(_OTHER, start, self.at)

    def class_member(self) -> str | None:
        text = self.text
        if text.startswith("[:", self.at):
            self.at = text.index(":]", self.at) + 2
            return None
        if text[self.at] != "\\":
            self.at += 1
            return text[self.at - 1]
        self.at += 1
        return self.escaped_character()

    def escape(self, start: int) -> list[_Piece]:
        text = self.text
        letter = text[self.at]
        if letter == "Q":  # \Q...\E: every character literal
            end = text.find("\\E", self.at)
            end = len(text) if end < 0 else end
            pieces = [_Piece(_CHAR, index, index + 1, char=text[index]) for index in range(self.at + 1, end)]
            self.at = min(len(text), end + 2)
            return pieces
        if letter in "AzbB":
            self.at += 1
            kind = {"A": _START, "z": _END}.get(letter, _ZERO)
            return [_Piece(kind, start, self.at)]
        character = self.escaped_character()
        if character is None:
            return [_Piece(_OTHER, start, self.at)]
        return [_Piece(_CHAR, start, self.at, char=character)]

    def escaped_character(self) -> str | None:
        """After a backslash: the character it stands for, or None for a class."""
        text = self.text
        letter = text[self.at]
        self.at += 1
        if letter == "x":
            if text.startswith("{", self.at):
                end = text.index("}", self.at)
                digits, self.at = text[self.at + 1 : end], end + 1
            else:
                digits, self.at = text[self.at : self.at + 2], self.at + 2
            return chr(int(digits, 16))
        if letter in "pP":
            if text.startswith("{", self.at):
                self.at = text.index("}", self.at) + 1
            else:
                self.at += 1
            return None
        if letter.isdigit():  # an octal code (RE2 refuses backreferences)
            end = self.at
            while end < min(len(text), self.at + 2) and text[end] in "01234567":
                end += 1
            self.at = end
            return None
        if letter in _CONTROL:
            return _CONTROL[letter]
        if letter in _CLASS_ESCAPES or letter.isalnum():
            return None
        return letter

    def quantifier(self, piece: _Piece) -> None:
        text = self.text
        if self.at >= len(text):
            return
        mark = text[self.at]
        if mark in "*+?":
            piece.least, piece.most = {"*": (0, None), "+": (1, None), "?": (0, 1)}[mark]
            self.at += 1
        elif mark == "{":
            bounds = self.repetition()
            if bounds is None:
                return
            piece.least, piece.most = bounds
        else:
            return
        if self.at < len(text) and text[self.at] == "?":  # lazy
            self.at += 1
        piece.end = self.at

    def repetition(self) -> tuple[int, int | None] | None:
        """``{n}``, ``{n,}``, ``{n,m}``; None when the brace is a literal one."""
        text = self.text
        close = text.find("}", self.at)
        inside = text[self.at + 1 : close] if close > 0 else ""
        least, comma, most = inside.partition(",")
        if not least.isdigit() or not (most.isdigit() or most == ""):
            return None
        self.at = close + 1
        if not comma:
            return int(least), int(least)
        return int(least), (int(most) if most else None)


def _parts(regex: str, branches: list[list[_Piece]]) -> RegexParts:
    removed: list[_Piece] = []
    anchored_start = anchored_end = False
    if len(branches) == 1:
        pieces = branches[0]
        leading = [piece for piece in pieces if piece.kind != _FLAGS]
        if leading and leading[0].kind == _START:
            anchored_start = True
            removed.append(leading.pop(0))
        if leading and _any_run(leading[0]):
            anchored_start = False
            removed.append(leading.pop(0))
        if leading and leading[-1].kind == _END:
            anchored_end = True
            removed.append(leading.pop())
        if leading and _any_run(leading[-1]):
            anchored_end = False
            removed.append(leading.pop())
    if any(piece.kind in (_START, _END) for piece in _all_pieces(branches) if piece not in removed):
        raise PatternError(
            "holds ^, $, \\A or \\z other than at its very start and end"
            " (a line has one start and one end: group an alternation, as ^(?:a|b)$)"
        )
    keys = _required(branches, removed)
    if keys is None:
        raise PatternError(
            f"holds no literal text of {SHORTEST_LITERAL} letters or digits that every match must contain,"
            " so it would have to run on every line"
        )
    weak = [key for key in keys if _letters(key) < SHORTEST_LITERAL]
    if weak:
        raise PatternError(
            f"holds no literal text of {SHORTEST_LITERAL} letters or digits that every match must contain"
            f" (the best is {weak[0]!r}), so it would run on nearly every line"
        )
    core = _without(regex, removed)
    return RegexParts(core, anchored_start, anchored_end, keys)


def _any_run(piece: _Piece) -> bool:
    """``.*`` (greedy or lazy): at either end it leaves that end open."""
    return piece.kind == _ANY and piece.least == 0 and piece.most is None


def _all_pieces(branches: list[list[_Piece]]) -> list[_Piece]:
    found: list[_Piece] = []
    pending = [branches]
    while pending:
        for branch in pending.pop():
            for piece in branch:
                found.append(piece)
                if piece.branches is not None:
                    pending.append(piece.branches)
    return found


def _without(regex: str, removed: list[_Piece]) -> str:
    kept, at = [], 0
    for piece in sorted(removed, key=lambda one: one.start):
        kept.append(regex[at : piece.start])
        at = piece.end
    kept.append(regex[at:])
    return "".join(kept)


def _required(branches: list[list[_Piece]], removed: list[_Piece]) -> tuple[str, ...] | None:
    """Case-folded literals, one of which every match holds; None when a
    branch has none."""
    keys: dict[str, None] = {}
    for branch in branches:
        best = _best(_candidates([piece for piece in branch if piece not in removed]))
        if best is None:
            return None
        keys.update(dict.fromkeys(best))
    return tuple(keys) if len(keys) <= MAX_KEYS else None


def _candidates(branch: list[_Piece]) -> list[tuple[str, ...]]:
    """Each run of literal characters in a row, and each required group's literals."""
    found: list[tuple[str, ...]] = []
    run: list[str] = []

    def close() -> None:
        if run:
            found.append((fold_case("".join(run)),))
            run.clear()

    for piece in branch:
        if piece.kind == _CHAR and piece.least > 0:
            run.append(piece.char * min(piece.least, _MAX_REPEAT))
            if piece.most != piece.least:
                close()
        elif piece.kind == _FLAGS:
            continue  # a flag changes case or dots, not which characters follow
        else:
            close()
            if piece.kind == _GROUP and piece.least > 0 and piece.branches is not None:
                inner = _required(piece.branches, [])
                if inner is not None:
                    found.append(inner)
    close()
    return found


def _best(candidates: list[tuple[str, ...]]) -> tuple[str, ...] | None:
    """The literals whose weakest member fixes most letters or digits."""
    if not candidates:
        return None
    return max(candidates, key=lambda keys: (min(map(_letters, keys)), min(map(len, keys)), -len(keys)))


def _letters(text: str) -> int:
    return sum(character.isalnum() for character in text)
