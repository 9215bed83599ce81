"""Boundary rules of the literal kinds that need their own: accounts,
certificate serials and names, request headers and request paths.

As in ``boundaries``, a rule gets the line, the span of a candidate and its
needle, returns the span or None, and only indexes into the line.
"""

from __future__ import annotations

import re
from typing import Protocol

from .._common.model import PREFIX


class Needle(Protocol):
    """What these rules read of ``boundaries.Needle``."""

    @property
    def mode(self) -> str: ...
    @property
    def exact(self) -> str: ...
    @property
    def has_query(self) -> bool: ...


Span = tuple[int, int]

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
# How far back a rule looks for what precedes a value (a URL's scheme and host).
_WINDOW = 300


def _char(line: str, index: int) -> str:
    return line[index] if 0 <= index < len(line) else ""


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _exact_ok(line: str, start: int, needle: Needle) -> bool:
    return not needle.exact or line[start : start + len(needle.exact)] == needle.exact


_NOT_BEFORE_ACCOUNT = frozenset(".@")


def account(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    """A user name: ``CORP\\jdoe`` and ``jdoe@corp.example`` (a UPN) hold ``jdoe``;
    ``jdoe.adm``, ``xjdoe``, ``jdoe-2`` and the machine account ``jdoe$`` do not."""
    if not account_opens(line, start):
        return None
    if needle.mode == PREFIX or account_closes(line, end):
        return start, end
    return None


def account_opens(line: str, start: int) -> bool:
    before = _char(line, start - 1)
    return before not in _HOST_CHARS and before not in _NOT_BEFORE_ACCOUNT


def account_closes(line: str, end: int) -> bool:
    after = _char(line, end)
    return not (after in _HOST_CHARS or after == "$" or (after == "." and _char(line, end + 1) in _HOST_CHARS))


def serial(line: str, start: int, end: int, _needle: Needle, _subdomains: bool) -> Span | None:
    """A certificate serial: not a piece of a longer hex run, with or without
    colons (another serial, a fingerprint)."""
    return (start, end) if serial_opens(line, start) and serial_closes(line, end) else None


def serial_opens(line: str, start: int) -> bool:
    before = _char(line, start - 1)
    return before not in _HEX_DIGITS and not (before == ":" and _char(line, start - 2) in _HEX_DIGITS)


def serial_closes(line: str, end: int) -> bool:
    after = _char(line, end)
    return after not in _HEX_DIGITS and not (after == ":" and _char(line, end + 1) in _HEX_DIGITS)


# Characters that join the parts of a distinguished name: next to one, the
# name found is part of a longer name (``OU=x,CN=a`` is not ``CN=a``).
_DN_JOINERS = frozenset(",/+;\\")
# After a space, a ``key=`` starts the next field (CEF, key=value logs).
_NEXT_KEY = re.compile(r" +[A-Za-z0-9_.-]+=")


def distinguished_name(line: str, start: int, end: int, _needle: Needle, _subdomains: bool) -> Span | None:
    """A whole subject or issuer: nothing joined before or after it, and no
    word after a space (``CN=Microsoft`` is not ``CN=Microsoft Windows``)."""
    return (start, end) if name_opens(line, start) and name_closes(line, end) else None


def name_opens(line: str, start: int) -> bool:
    at = start - 1
    while _char(line, at) == " ":
        at -= 1
    before = _char(line, at)
    return not (before in _DN_JOINERS or (at == start - 1 and (_is_word(before) or before == ".")))


def name_closes(line: str, end: int) -> bool:
    after = _char(line, end)
    if _is_word(after) or after in _DN_JOINERS or (after == "." and _is_word(_char(line, end + 1))):
        return False
    return not (after == " " and _char(line, end + 1) not in ("", " ", "\t") and not _NEXT_KEY.match(line, end))


# What a log puts around a whole field: quotes, tabs (Zeek), bars (CEF headers), brackets.
_FIELD_OPEN = frozenset("\"'\t|[<,=")
_FIELD_CLOSE = frozenset("\"'\t|]>\r")


def field(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    """A whole header value, case kept: ``Mozilla/5.0`` is not the start of
    ``Mozilla/5.0 (Windows NT 10.0)``. Fields are quoted (Apache, Squid,
    JSON), tab-separated (Zeek), ``key=`` (CEF) or follow ``Name: ``."""
    if not _exact_ok(line, start, needle) or not field_opens(line, start):
        return None
    if needle.mode == PREFIX:
        return start, end
    return (start, end) if field_closes(line, end) else None


def field_opens(line: str, start: int) -> bool:
    before = _char(line, start - 1)
    return before == "" or before in _FIELD_OPEN or (before == " " and _char(line, start - 2) == ":")


def field_closes(line: str, end: int) -> bool:
    after = _char(line, end)
    if after == "" or after in _FIELD_CLOSE:
        return True
    if after == ",":  # CSV; ", " is inside a value ("KHTML, like Gecko")
        return _char(line, end + 1) != " "
    return after == " " and _NEXT_KEY.match(line, end) is not None


def spaceless_field(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    """A header value with ``+`` for each space, in a white-space separated W3C log (IIS)."""
    if not _exact_ok(line, start, needle):
        return None
    before, after = _char(line, start - 1), _char(line, end)
    if not (before == "" or before.isspace() or before in _FIELD_OPEN):
        return None
    if needle.mode != PREFIX and not (after == "" or after.isspace() or after in _FIELD_CLOSE):
        return None
    return start, end


# A URL's scheme and host (and port) that a request path follows in a proxy log.
_AUTHORITY_END = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/\"'?#|]+\Z")
_REQUEST_OPEN = frozenset("\"'\t|=,[(")
_REQUEST_CLOSE = frozenset("\"'<>|,;)]#")


def request(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    """A request path, case kept: at the start of a field (``"GET /gate.php``,
    Zeek's uri) or right after a URL's host (``http://evil.com/gate.php``), not
    inside a longer path (``/admin/gate.php``); it ends as a URL does."""
    if not _exact_ok(line, start, needle) or not request_opens(line, start):
        return None
    return (start, end) if request_closes(line, end, needle.has_query) else None


def request_opens(line: str, start: int) -> bool:
    before = _char(line, start - 1)
    opened = before == "" or before.isspace() or before in _REQUEST_OPEN
    return opened or _AUTHORITY_END.search(line, max(0, start - _WINDOW), start) is not None


def request_closes(line: str, end: int, has_query: bool) -> bool:
    after = _char(line, end)
    if after == "" or after.isspace() or after in _REQUEST_CLOSE:
        return True
    return after in "?&" and not has_query


# Rule names, stored in needles.
ACCOUNT_RULE = "account"
SERIAL_RULE = "x509-serial"
DN_RULE = "distinguished-name"
FIELD_RULE = "field"
SPACELESS_FIELD_RULE = "spaceless-field"
REQUEST_RULE = "request"

LITERAL_RULES = {
    ACCOUNT_RULE: account,
    SERIAL_RULE: serial,
    DN_RULE: distinguished_name,
    FIELD_RULE: field,
    SPACELESS_FIELD_RULE: spaceless_field,
    REQUEST_RULE: request,
}
