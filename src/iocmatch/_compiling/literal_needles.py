"""How the literal kinds are looked for: each value in the spellings the logs
that show it use (escaped by JSON, XML or CSV; a certificate's serial and
name in each tool's form), case-folded, with the boundary rule that decides."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TypeVar

from .._common.model import (
    COMMAND_LINE,
    EMAIL_SUBJECT,
    HTTP_HEADER,
    HTTP_METHOD,
    HTTP_REQUEST,
    PROCESS_NAME,
    SOFTWARE_NAME,
    USER_ACCOUNT,
    USER_AGENT,
    X509_NAME,
    X509_SERIAL,
    Atom,
)
from .._patterns.canonical import fold_case
from .._patterns.literals import dn_parts
from . import literal_rules as rules

# The needle type of ``boundaries``, which this module cannot import (it is imported from there).
NeedleT = TypeVar("NeedleT")
# Compared as text, case ignored, a word boundary where the value has a word end:
# a command line, a subject, a software name.
_TEXT_KINDS = (COMMAND_LINE, EMAIL_SUBJECT, SOFTWARE_NAME)


def literal_needles(
    atom: Atom, make_needle: Callable[..., NeedleT], text_rule: str, name_rule: str
) -> Iterator[tuple[str, NeedleT]]:
    """The keys of a literal kind's atom. ``text_rule`` and ``name_rule`` are
    the word-boundary and file-name rules of ``boundaries``."""
    kind, value, mode = atom.kind, atom.value, atom.mode
    if kind in _TEXT_KINDS:
        for spelling in escaped_spellings(value):
            yield fold_case(spelling), make_needle(text_rule, mode)
    elif kind in (PROCESS_NAME, USER_ACCOUNT):
        rule = name_rule if kind == PROCESS_NAME else rules.ACCOUNT_RULE
        for spelling in dict.fromkeys((value, value.replace("\\", "\\\\"))):
            yield fold_case(spelling), make_needle(rule, mode)
    elif kind in (USER_AGENT, HTTP_HEADER):
        # Sent and logged byte for byte: compared with case.
        for spelling in field_spellings(value):
            yield fold_case(spelling), make_needle(rules.FIELD_RULE, mode, exact=spelling)
        plus = plus_spelling(value)
        if plus is not None:
            yield fold_case(plus), make_needle(rules.SPACELESS_FIELD_RULE, mode, exact=plus)
    elif kind == HTTP_METHOD:
        # Methods are case-sensitive (RFC 9110); every client sends them in upper case.
        yield fold_case(value), make_needle(text_rule, mode, exact=value)
    elif kind == HTTP_REQUEST:
        # A path keeps its case, as a URL's does.
        yield fold_case(value), make_needle(rules.REQUEST_RULE, mode, exact=value, has_query="?" in value)
    elif kind == X509_SERIAL:
        for spelling in serial_spellings(value):
            yield spelling, make_needle(rules.SERIAL_RULE)
    elif kind == X509_NAME:
        for spelling in dn_spellings(value):
            yield fold_case(spelling), make_needle(rules.DN_RULE)


# How each log format escapes the characters it reserves. JSON (EDR, Zeek,
# Suricata, Sysmon forwarded as JSON) escapes ``\`` and ``"``, and control
# characters; Apache escapes ``\`` and ``"`` in its quoted fields the same way;
# the XML of Windows events escapes ``&``, ``<`` and ``>``, and rendered
# event XML (XmlWinEventLog) quotes too; CSV (Exchange message tracking)
# doubles ``"``.
_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_XML_QUOTED = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;"})


def escaped_spellings(value: str) -> tuple[str, ...]:
    """The value, and as JSON, XML and CSV write it, each spelling once."""
    as_json = json.dumps(value, ensure_ascii=False)[1:-1]
    as_xml = (value.translate(_XML), value.translate(_XML_QUOTED))
    return tuple(dict.fromkeys((value, as_json, *as_xml, value.replace('"', '""'))))


def field_spellings(value: str) -> tuple[str, ...]:
    """A header's value as written, JSON/Apache-escaped; IIS's W3C logs are
    handled apart (``plus_spelling``)."""
    return tuple(dict.fromkeys((value, json.dumps(value, ensure_ascii=False)[1:-1])))


def plus_spelling(value: str) -> str | None:
    """A value with spaces as IIS writes it in a W3C log (``Mozilla/5.0+(Windows+NT...)``),
    or None when it has no space to replace."""
    return value.replace(" ", "+") if " " in value else None


def serial_spellings(serial: str) -> tuple[str, ...]:
    """A canonical serial (``0A1B2C3D``, whole bytes) as tools print it, lower
    case (keys are case-folded): bare (Zeek, ``openssl -serial``), one byte
    per ``:`` (``openssl -text``), without a leading zero (``0x8bb00ee``),
    with the ``00`` a DER integer needs before a high bit (certutil, .NET),
    and in decimal up to 8 bytes (``openssl -text``: ``146473198 (0x8bb00ee)``)."""
    digits = serial.lower()
    pairs = [digits[at : at + 2] for at in range(0, len(digits), 2)]
    spellings = [digits, ":".join(pairs)]
    if digits.startswith("0"):
        spellings.append(digits[1:])
    if int(digits[0], 16) >= 8:
        spellings += ["00" + digits, "00:" + ":".join(pairs)]
    if len(pairs) <= 8:
        spellings.append(str(int(digits, 16)))
    return tuple(dict.fromkeys(spellings))


def dn_spellings(dn: str) -> tuple[str, ...]:
    """A distinguished name in the four forms logs use, in both orders:
    ``CN=a,O=b`` (Zeek, RFC 4514), ``CN=a, O=b`` (Java, Suricata),
    ``CN = a, O = b`` (OpenSSL 1.1 and later), ``/CN=a/O=b`` (OpenSSL 1.0).
    Zeek writes the most specific part first, OpenSSL and Suricata the least."""
    parts = dn_parts(dn)
    spellings: list[str] = []
    for ordered in (parts, parts[::-1]):
        spellings += [
            ",".join(f"{name}={text}" for name, text in ordered),
            ", ".join(f"{name}={text}" for name, text in ordered),
            ", ".join(f"{name} = {text}" for name, text in ordered),
            "".join(f"/{name}={text.replace(chr(92) + ',', ',')}" for name, text in ordered),
        ]
    return tuple(dict.fromkeys(spellings))


__all__ = ["literal_needles"]
