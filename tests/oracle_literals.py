"""The naive reference for the literal kinds (DESIGN.md "Matching rules"):
ports, process names, command lines, subjects, accounts, software names,
certificate serials and names, request headers and paths.

Written from the rules, sharing no code with ``iocmatch``: every spelling a
rule names is listed by hand, found with ``str.find``, and its neighbours are
checked one character at a time. A certificate serial is found the other way
round: every run of hex digits and colons in the line is read as a number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

H = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
HEX = frozenset("0123456789abcdefABCDEF")
DIGITS = frozenset("0123456789")

LITERALS = frozenset(
    {
        "port",
        "process-name",
        "command-line",
        "email-subject",
        "user-account",
        "software-name",
        "x509-serial",
        "x509-name",
        "user-agent",
        "http-header",
        "http-request",
        "http-method",
    }
)
# Compared as words, case ignored: "a word boundary wherever the value starts or ends with a word character".
WORDS = frozenset({"command-line", "email-subject", "software-name"})
# Sent byte for byte, compared with case.
HEADERS = frozenset({"user-agent", "http-header"})
LITERAL_PREFIX_KINDS = frozenset({"process-name", "command-line", "email-subject", "software-name", "user-agent"})


def _at(line: str, i: int) -> str:
    return line[i] if 0 <= i < len(line) else ""


def _word(ch: str) -> bool:
    return ch != "" and (ch.isalnum() or ch == "_")


def _lower(text: str) -> str:
    return "".join(c.lower() if len(c.lower()) == 1 and (c.isascii() or not c.lower().isascii()) else c for c in text)


def _find(haystack: str, needle: str) -> Iterator[int]:
    i = haystack.find(needle)
    while i >= 0:
        yield i
        i = haystack.find(needle, i + 1)


# -- canonical values ----------------------------------------------------------


def literal_canonical(kind: str, value: str) -> str:
    if kind == "port":
        v = value.strip()
        if not v.isdigit() or not 0 < int(v) < 65536:
            raise ValueError(f"{value!r} is not a port")
        return str(int(v))
    if kind == "x509-serial":
        return _serial_number(value)
    if kind == "x509-name":
        return ",".join(f"{a}={v}" for a, v in _rdns(value))
    v = value.strip()
    if not v or "\n" in v or "\r" in v:
        raise ValueError(f"bad {kind} value {value!r}")
    if kind == "http-request" and (not v.startswith("/") or v == "/"):
        raise ValueError(f"{value!r} is no request path")
    if kind == "http-method":
        if not v.isascii() or not v.isalpha():
            raise ValueError(f"{value!r} is no method")
        return v.upper()
    return v


def _serial_number(value: str) -> str:
    """Hex digits, upper case, no ':', ' ' or '-', no 0x, padded to whole bytes, no leading 00 byte."""
    v = "".join(c for c in value.strip() if c not in ": -\t").upper()
    if v.startswith("0X"):
        v = v[2:]
    if not v or not set(v) <= HEX:
        raise ValueError(f"{value!r} is no serial")
    if len(v) % 2 == 1:
        v = "0" + v
    while len(v) > 2 and v[:2] == "00":
        v = v[2:]
    if len(v) < 8:
        raise ValueError(f"serial {value!r} shorter than 4 bytes")
    return v


def _rdns(value: str) -> list[tuple[str, str]]:
    """Attribute=value pairs, split at ',' not after '\\' (or at '/' before 'name=' in the slash form)."""
    v = value.strip()
    if v.startswith("/"):
        pieces = re.split(r"/(?=[A-Za-z][A-Za-z0-9.-]*\s*=)", v[1:])
        pieces = [p.replace(",", "\\,") for p in pieces]
    else:
        pieces, current, i = [], "", 0
        while i < len(v):
            if v[i] == "\\" and i + 1 < len(v):
                current += v[i : i + 2]
                i += 2
                continue
            if v[i] == ",":
                pieces.append(current)
                current = ""
            else:
                current += v[i]
            i += 1
        pieces.append(current)
    out = []
    for piece in pieces:
        name, eq, text = piece.partition("=")
        if not eq or not name.strip() or not text.strip():
            raise ValueError(f"{value!r} is not a distinguished name")
        out.append((name.strip(), text.strip()))
    return out


# -- spellings -----------------------------------------------------------------


def _json(value: str) -> str:
    out = []
    for c in value:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[c])
        elif ord(c) < 0x20:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def _xml(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _csv(value: str) -> str:
    return value.replace('"', '""')


# -- rules -----------------------------------------------------------------------


def _port_ok(line: str, s: int, e: int) -> bool:
    """Not beside a letter, digit or '_', not after '.'; ':' before not after
    ':' + up to 4 hex (a time, IPv6), '/' before not after '/' + 1-4 letters or
    digits (a date), '-' before not after a digit; not followed by '.', '-' or
    '/' and a digit, nor ':' and a hex digit; not a syslog pid (``prog[53]``)."""
    b, a = _at(line, s - 1), _at(line, e)
    if _word(b) or _word(a):
        return False
    if a in (".", "-", "/") and _at(line, e + 1) in DIGITS:
        return False
    if a == ":" and _at(line, e + 1) in HEX:
        return False
    head = line[max(0, s - 17) : max(0, s - 1)]
    if b == ".":
        return False
    if b == ":":
        return re.search(r":[0-9A-Fa-f]{0,4}$", head) is None
    if b == "/":
        return re.search(r"/[0-9A-Za-z]{1,4}$", head) is None
    if b == "-":
        return not (head and head[-1] in DIGITS)
    if b == "[" and a == "]":  # a syslog pid, prog[53]
        return not _word(_at(line, s - 2))
    return True


def _port_hits(value: str, line: str) -> Iterator[tuple[int, int]]:
    for m in re.finditer(r"[0-9]+", line):
        if m.group() == value and _port_ok(line, m.start(), m.end()):
            yield m.start(), m.end()


def _word_ok(line: str, s: int, e: int, prefix: bool) -> bool:
    if _word(line[s]) and _word(_at(line, s - 1)):
        return False
    return prefix or not (_word(line[e - 1]) and _word(_at(line, e)))


def _name_ok(line: str, s: int, e: int, prefix: bool) -> bool:
    """File-name rule: before not H nor '.'; after not H, not '.' then H."""
    b = _at(line, s - 1)
    if b in H or b == ".":
        return False
    a = _at(line, e)
    return prefix or (a not in H and not (a == "." and _at(line, e + 1) in H))


def _account_ok(line: str, s: int, e: int) -> bool:
    """Before not H, '.', '@'; after not H, '$', nor '.' then H ('@' and '\\' are fine: UPN, DOMAIN\\user)."""
    b, a = _at(line, s - 1), _at(line, e)
    if b in H or b in (".", "@"):
        return False
    return a not in H and a != "$" and not (a == "." and _at(line, e + 1) in H)


def _dn_ok(line: str, s: int, e: int) -> bool:
    """Nothing joined to it: before (spaces skipped) not ',', '/', '+', ';', '\\', and
    right before not a word character or '.'; after not a word character, not one
    of those, not '.' then a word character; a space after only before the end,
    another space, a tab or a ``key=``."""
    joiners = ",/+;\\"
    i = s - 1
    while _at(line, i) == " ":
        i -= 1
    b = _at(line, i)
    if b != "" and b in joiners:
        return False
    if i == s - 1 and (_word(b) or b == "."):
        return False
    a = _at(line, e)
    if _word(a) or (a != "" and a in joiners) or (a == "." and _word(_at(line, e + 1))):
        return False
    if a == " ":
        nxt = _at(line, e + 1)
        if nxt not in ("", " ", "\t") and re.match(r" +[A-Za-z0-9_.-]+=", line[e:]) is None:
            return False
    return True


def _field_ok(line: str, s: int, e: int, prefix: bool) -> bool:
    """Whole field: opened by the line's start, a quote, tab, '|', '[', '<', ',', '='
    or ': '; closed by the end, a quote, tab, '|', ']', '>', CR, ',' not before a
    space, or a space before ``key=``."""
    b = _at(line, s - 1)
    if not (b == "" or b in "\"'\t|[<,=" or (b == " " and _at(line, s - 2) == ":")):
        return False
    if prefix:
        return True
    a = _at(line, e)
    if a == "" or a in "\"'\t|]>\r":
        return True
    if a == ",":
        return _at(line, e + 1) != " "
    return a == " " and re.match(r" +[A-Za-z0-9_.-]+=", line[e:]) is not None


def _plus_field_ok(line: str, s: int, e: int, prefix: bool) -> bool:
    """IIS: the '+' spelling bounded by white space (or the field characters)."""
    b, a = _at(line, s - 1), _at(line, e)
    if not (b == "" or b.isspace() or b in "\"'\t|[<,="):
        return False
    return prefix or a == "" or a.isspace() or a in "\"'\t|]>\r"


def _request_ok(line: str, s: int, e: int, has_query: bool) -> bool:
    b = _at(line, s - 1)
    field_start = b == "" or b.isspace() or b in "\"'\t|=,[("
    after_host = re.search(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/\"'?#|]+$", line[max(0, s - 300) : s]) is not None
    if not field_start and not after_host:
        return False
    a = _at(line, e)
    return a == "" or a.isspace() or a in "\"'<>|,;)]#" or (not has_query and a in ("?", "&"))


# -- serials: every hex run of the line, read as a number -------------------------


def _serial_hits(serial: str, line: str) -> Iterator[tuple[int, int]]:
    """A run of hex digits and colons (colons between digits only), not touching
    another hex digit or colon-and-hex-digit, read as one number: colon-separated
    groups of two digits, or one group (hex, padded to whole bytes; a leading
    ``00`` before a high bit; or decimal without leading zero up to 8 bytes)."""
    for m in re.finditer(r"[0-9A-Fa-f]+(?::[0-9A-Fa-f]+)*", line):
        s, e = m.start(), m.end()
        run = m.group()
        groups = run.split(":")
        if len(groups) > 1 and any(len(g) != 2 for g in groups):
            continue
        digits = "".join(groups).upper()
        candidates = set()
        padded = digits if len(digits) % 2 == 0 else "0" + digits
        if len(groups) == 1 and len(digits) % 2 == 1:
            candidates.add(padded)
        elif len(digits) % 2 == 0:
            candidates.add(digits)
        if len(digits) % 2 == 0 and digits.startswith("00") and len(digits) > 2 and digits[2] in "89ABCDEF":
            candidates.add(digits[2:])  # the 00 a DER integer needs before a high bit, as written
        if len(groups) == 1 and set(run) <= DIGITS and not run.startswith("0") and len(serial) <= 16:
            candidates.add(format(int(run), "X").rjust(len(serial), "0"))
        if serial in candidates:
            yield s, e


# -- entry point -----------------------------------------------------------------


def literal_hits(kind: str, value: str, line: str, op: str = "=") -> Iterator[tuple[int, int]]:
    """The spans of ``value`` (canonical, or a LIKE prefix's literal) of a literal kind in ``line``."""
    prefix = op == "LIKE"
    if kind == "port":
        yield from _port_hits(value, line)
        return
    if kind == "x509-serial":
        yield from _serial_hits(value, line)
        return
    folded = _lower(line)
    if kind in WORDS:
        for spelling in {value, _json(value), _xml(value), _csv(value)}:
            for s in _find(folded, _lower(spelling)):
                if _word_ok(line, s, s + len(spelling), prefix):
                    yield s, s + len(spelling)
    elif kind in ("process-name", "user-account"):
        for spelling in {value, value.replace("\\", "\\\\")}:
            for s in _find(folded, _lower(spelling)):
                e = s + len(spelling)
                if _name_ok(line, s, e, prefix) if kind == "process-name" else _account_ok(line, s, e):
                    yield s, e
    elif kind in HEADERS:
        for spelling in {value, _json(value)}:
            for s in _find(line, spelling):
                if _field_ok(line, s, s + len(spelling), prefix):
                    yield s, s + len(spelling)
        if " " in value:
            plus = value.replace(" ", "+")
            for s in _find(line, plus):
                if _plus_field_ok(line, s, s + len(plus), prefix):
                    yield s, s + len(plus)
    elif kind == "http-method":
        # A word, with case.
        for s in _find(line, value):
            if _word_ok(line, s, s + len(value), prefix):
                yield s, s + len(value)
    elif kind == "http-request":
        for s in _find(line, value):
            if _request_ok(line, s, s + len(value), "?" in value):
                yield s, s + len(value)
    elif kind == "x509-name":
        rdns = _rdns(value)
        spellings = set()
        for ordered in (rdns, rdns[::-1]):
            spellings.add(",".join(f"{a}={v}" for a, v in ordered))
            spellings.add(", ".join(f"{a}={v}" for a, v in ordered))
            spellings.add(", ".join(f"{a} = {v}" for a, v in ordered))
            spellings.add("".join("/" + a + "=" + v.replace("\\,", ",") for a, v in ordered))
        for spelling in spellings:
            for s in _find(folded, _lower(spelling)):
                if _dn_ok(line, s, s + len(spelling)):
                    yield s, s + len(spelling)
