"""How each kind of string atom is spelled as needles: the case-folded keys
the engines look for, and the boundary rule that verifies each occurrence."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from .._common.model import (
    DIRECTORY,
    DOMAIN,
    EMAIL,
    FILE_NAME,
    HASH_KINDS,
    HTTP_METHOD,
    LITERAL_KINDS,
    MATCHES,
    MUTEX,
    PORT,
    PREFIX,
    REGISTRY_KEY,
    URL,
    Atom,
)
from .._patterns.canonical import DEFAULT_PORTS, domain_spellings, fold_case, split_url
from .._patterns.regexes import read_regex
from . import boundaries as rules
from .boundaries import Needle
from .literal_needles import literal_needles

NeedleMaker = Callable[..., Needle]


def needles(atom: Atom, registry_aliases: bool, make_needle: NeedleMaker) -> Iterator[tuple[str, Needle]]:
    """The case-folded keys under which one string atom is looked for."""
    kind, value, mode = atom.kind, atom.value, atom.mode
    if mode == MATCHES:
        # The literals every match holds are the keys; RE2 runs the regex on each occurrence.
        for key in read_regex(value).keys:
            yield key, make_needle(rules.REGEX_RULE, mode, regex=value, kind=kind)
    elif kind == DOMAIN:
        for spelling in domain_spellings(value) if mode != PREFIX else (value,):
            yield spelling, make_needle(rules.DOMAIN_RULE, mode)
    elif kind == URL:
        yield from _url_needles(atom, make_needle)
    elif kind in HASH_KINDS:
        yield value, make_needle(rules.HASH_RULE)
    elif kind == EMAIL:
        yield fold_case(value), make_needle(rules.EMAIL_RULE, mode)
    elif kind == FILE_NAME:
        key = fold_case(value)
        yield key, make_needle(rules.FILE_NAME_RULE, mode)
    elif kind in (MUTEX, DIRECTORY):
        # Windows folders are case-insensitive (C:\Windows\System32 is c:\windows\system32);
        # mutexes and POSIX folders are not.
        exact = kind == MUTEX or not _is_windows_path(value)
        for spelling in _backslash_spellings(value):
            key = fold_case(spelling)
            yield key, make_needle(rules.LITERAL_RULE, mode, exact=spelling if exact else "")
    elif kind == PORT:
        yield value, make_needle(rules.PORT_RULE)
    elif kind in LITERAL_KINDS or kind == HTTP_METHOD:
        yield from literal_needles(atom, make_needle, rules.LITERAL_RULE, rules.FILE_NAME_RULE)
    elif kind == REGISTRY_KEY:
        hive, sep, rest = value.partition("\\")
        # With a hive and a path under it, the hive may be spelled any way;
        # a bare hive or an unknown one is a literal string.
        canonical_hive = rules.HIVE_NAMES.get(hive.upper()) if rest else None
        for escaped, spelling in enumerate(_backslash_spellings(sep + rest if canonical_hive else value)):
            key = fold_case(spelling)
            if canonical_hive:
                needle = make_needle(
                    rules.REGISTRY_RULE,
                    mode,
                    hive=canonical_hive,
                    aliases=registry_aliases,
                    escaped=bool(escaped),
                )
            else:
                needle = make_needle(rules.LITERAL_RULE, mode)
            yield key, needle


def _is_windows_path(path: str) -> bool:
    return "\\" in path or (len(path) >= 2 and path[0].isalpha() and path[1] == ":")


def _backslash_spellings(value: str) -> tuple[str, ...]:
    """The value, and as JSON logs write it (each backslash doubled)."""
    if "\\" not in value:
        return (value,)
    return (value, value.replace("\\", "\\\\"))


def _url_needles(atom: Atom, make_needle: NeedleMaker) -> Iterator[tuple[str, Needle]]:
    """host+path(+query), the host in every spelling: its U-label, and with any
    default port written out (``https://evil.com:443/a`` is ``http://evil.com/a``
    under another scheme)."""
    hosts, port, rest, has_query = _url_parts(atom)
    netlocs = [f"{host}:{port}" if port else host for host in hosts]
    if not port:
        netlocs += [f"{host}:{default}" for host in hosts for default in sorted(set(DEFAULT_PORTS.values()))]
    for netloc in netlocs:
        key = fold_case(netloc + rest)
        yield key, make_needle(rules.URL_RULE, atom.mode, exact=rest, exact_at=len(netloc), has_query=has_query)


def _url_parts(atom: Atom) -> tuple[tuple[str, ...], str, str, bool]:
    """(host spellings, explicit port or "", path+query, has a query)."""
    if atom.mode == PREFIX:
        # A prefix may stop anywhere, even inside the host: take it as written.
        found = _URL_PREFIX.fullmatch(atom.value)
        host, port, rest = found.groups("") if found else (atom.value, "", "")
        return (host.lower(),), port, rest, "?" in rest
    parts = split_url(atom.value)
    host, _, port = parts.netloc.rpartition(":") if not parts.netloc.endswith("]") else (parts.netloc, "", "")
    if not host or not port.isdigit():
        host, port = parts.netloc, ""
    hosts = (host,) if host.startswith("[") or not host[-1:].isalpha() else domain_spellings(host)
    query = f"?{parts.query}" if parts.query else ""
    return hosts, port, parts.path + query, bool(parts.query)


_URL_PREFIX = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?(\[[^\]]*\]|[^/?#:\[]*)(?::(\d+))?(.*)", re.DOTALL)
