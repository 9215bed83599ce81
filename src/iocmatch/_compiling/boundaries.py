"""The boundary rules of SEMANTICS.md: does a candidate occurrence count?

Each rule gets the original line, the span where the case-folded needle was
found, and the needle; it returns the span to report (registry keys and root
URLs may widen it) or None. Rules only index into the line: they never raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .._common.model import EQUALS, PREFIX, SUBDOMAINS_ONLY
from .._patterns.canonical import HIVES
from .literal_rules import LITERAL_RULES
from .regex_rule import regex_span

HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_EMAIL_BEFORE = HOST_CHARS | {".", "%", "+"}
_URL_END = frozenset("\"'<>|,;)]#")

# Rule names, stored in needles.
DOMAIN_RULE = "domain"
URL_RULE = "url"
HASH_RULE = "hash"
EMAIL_RULE = "email"
FILE_NAME_RULE = "file-name"
LITERAL_RULE = "literal"
REGISTRY_RULE = "registry"
PORT_RULE = "port"
REGEX_RULE = "regex"  # MATCHES and LIKE of other shapes (regex_rule.py)

# How each hive is written. STIX 2.1 requires the full name; regedit, reg.exe
# and most logs write the short one: the same key either way.
_HIVE_SPELLINGS = {short: [short, full] for short, full in HIVES.items()}
# Other paths to the same key, used when asked for (registry_aliases): an
# HKCU key as HKU\<SID> (how Sysmon writes it), and the kernel's \REGISTRY.
_HIVE_ALIASES = {
    "HKCU": [r"HKU{sep}[^\\\s]+", r"HKEY_USERS{sep}[^\\\s]+", r"{sep}REGISTRY{sep}USER{sep}[^\\\s]+"],
    "HKLM": ["{sep}REGISTRY{sep}MACHINE"],
    "HKU": ["{sep}REGISTRY{sep}USER"],
}
HIVE_NAMES = {spelling: hive for hive, spellings in _HIVE_SPELLINGS.items() for spelling in spellings}
# How far back from the rest of a key its hive (with a SID) may start.
_HIVE_WINDOW = 256


def _hive_pattern(hive: str, aliases: bool, escaped: bool) -> re.Pattern[str]:
    """A hive spelling that ends where the rest of the key begins."""
    sep = r"\\\\" if escaped else r"\\"
    spellings = list(_HIVE_SPELLINGS[hive])
    if aliases:
        spellings += [alias.format(sep=sep) for alias in _HIVE_ALIASES.get(hive, [])]
    return re.compile(f"(?:{'|'.join(spellings)})\\Z", re.IGNORECASE)


_HIVE_BEFORE = {
    (hive, aliases, escaped): _hive_pattern(hive, aliases, escaped)
    for hive in _HIVE_SPELLINGS
    for aliases in (False, True)
    for escaped in (False, True)
}


@dataclass(frozen=True, slots=True)
class Needle:
    """How to verify an occurrence of a key for one kind of atom. Needles carry
    no atom, so equal ones are one object (a large feed has a few hundred
    distinct needles for a million atoms).

    ``exact``, when set, must stand case-sensitively at ``exact_at`` characters
    into the occurrence (a URL's path, a mutex). ``hive`` names the hive that
    must precede a registry key;
    ``aliases`` lets other paths to it count, and ``escaped`` says the needle
    is the JSON-escaped spelling (``\\\\`` for ``\\``). ``regex`` is a regex
    atom's regex as written and ``kind`` its kind (the rule compiles it once).
    """

    rule: str
    mode: str = EQUALS
    exact: str = ""
    exact_at: int = 0
    has_query: bool = False
    hive: str = ""
    aliases: bool = False
    escaped: bool = False
    regex: str = ""
    kind: str = ""


Span = tuple[int, int]
Rule = Callable[[str, int, int, Needle, bool], "Span | None"]


def _char(line: str, index: int) -> str:
    """The character at ``index``, or "" off either end ("" is in no set)."""
    return line[index] if 0 <= index < len(line) else ""


def _is_word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _ends_name(line: str, end: int) -> bool:
    """After a domain, e-mail or file name: not in H, and not '.' then H."""
    after = _char(line, end)
    if after in HOST_CHARS:
        return False
    return not (after == "." and _char(line, end + 1) in HOST_CHARS)


def _exact_ok(line: str, start: int, needle: Needle) -> bool:
    if not needle.exact:
        return True
    at = start + needle.exact_at
    return line[at : at + len(needle.exact)] == needle.exact


def domain(line: str, start: int, end: int, needle: Needle, subdomains: bool) -> Span | None:
    before = _char(line, start - 1)
    if before == ".":
        if needle.mode == PREFIX or (needle.mode == EQUALS and not subdomains):
            return None
    elif before in HOST_CHARS or needle.mode == SUBDOMAINS_ONLY:
        return None
    if needle.mode != PREFIX and not _ends_name(line, end):
        return None
    return start, end


def url(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    before = _char(line, start - 1)
    if before in HOST_CHARS or before == "." or not _exact_ok(line, start, needle):
        return None
    if needle.mode == PREFIX:
        return start, end
    after = _char(line, end)
    if not after or after.isspace() or after in _URL_END or (after in "?&" and not needle.has_query):
        return start, end
    return None


def hash_digits(line: str, start: int, end: int, _needle: Needle, _subdomains: bool) -> Span | None:
    if _char(line, start - 1) in HEX_DIGITS or _char(line, end) in HEX_DIGITS:
        return None
    return start, end


def email(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    before = _char(line, start - 1)
    if before in _EMAIL_BEFORE:
        return None
    if needle.mode != PREFIX and not _ends_name(line, end):
        return None
    return start, end


def file_name(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    before = _char(line, start - 1)
    if before in HOST_CHARS or before == ".":
        return None
    if needle.mode != PREFIX and not _ends_name(line, end):
        return None
    return start, end


def literal(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    """Mutexes and other strings: word boundaries where the value has word ends."""
    if not _exact_ok(line, start, needle):
        return None
    if _is_word(line[start]) and _is_word(_char(line, start - 1)):
        return None
    if needle.mode != PREFIX and _is_word(line[end - 1]) and _is_word(_char(line, end)):
        return None
    return start, end


def registry(line: str, start: int, end: int, needle: Needle, _subdomains: bool) -> Span | None:
    """A key found without its hive: some spelling of the hive must end at ``start``."""
    pattern = _HIVE_BEFORE[(needle.hive, needle.aliases, needle.escaped)]
    found = pattern.search(line, max(0, start - _HIVE_WINDOW), start)
    if found is None:
        return None
    hive_start = found.start()
    if _is_word(line[hive_start]) and _is_word(_char(line, hive_start - 1)):
        return None
    if needle.mode != PREFIX and _is_word(line[end - 1]) and _is_word(_char(line, end)):
        return None
    return hive_start, end


# A port is a bare number, so it must not be a piece of a longer number-like
# token: an address octet, a time (11:45:22), a date (2026-12-06, 06/12/2026),
# a decimal, an IPv6 group. What may stand before it, by the separator:
_COLON_GROUP = re.compile(r":[0-9A-Fa-f]{0,4}\Z")  # 11:45 then :22, 2001:db8: then :443
_SLASH_GROUP = re.compile(r"/[0-9A-Za-z]{1,4}\Z")  # 06/12 then /2026
_PORT_WINDOW = 16
_DIGITS = frozenset("0123456789")
_NUMBER_JOINERS = frozenset(".-/")


def port(line: str, start: int, end: int, _needle: Needle, _subdomains: bool) -> Span | None:
    """A port: a number on its own, after an address (``1.2.3.4:443``, ASA's
    ``1.2.3.4/443``) or a field name (``DPT=443``, ``"dst_port":443``, a tab)."""
    before, after = _char(line, start - 1), _char(line, end)
    if _is_word(before) or _is_word(after) or before == ".":
        return None
    following = _char(line, end + 1)
    if (after in _NUMBER_JOINERS and following in _DIGITS) or (after == ":" and following in HEX_DIGITS):
        return None
    head = line[max(0, start - 1 - _PORT_WINDOW) : max(0, start - 1)]
    if before == ":" and _COLON_GROUP.search(head):
        return None
    if before == "/" and _SLASH_GROUP.search(head):
        return None
    if before == "-" and head[-1:] in _DIGITS:
        return None
    if before == "[" and after == "]" and _is_word(_char(line, start - 2)):
        return None  # a syslog process id: ``postfix/smtp[53]:``
    return start, end


RULES: dict[str, Rule] = {
    DOMAIN_RULE: domain,
    URL_RULE: url,
    HASH_RULE: hash_digits,
    EMAIL_RULE: email,
    FILE_NAME_RULE: file_name,
    LITERAL_RULE: literal,
    REGISTRY_RULE: registry,
    PORT_RULE: port,
    REGEX_RULE: regex_span,
    **LITERAL_RULES,
}
