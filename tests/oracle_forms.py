"""A naive reference for values a log's form hides, written from the rules
in DESIGN.md "Log forms", sharing no code with ``iocmatch``: each form is
undone character by character into a view of the line, with where each
character of the view came from; ``oracle.oracle_hits`` is asked about the
line and about the view, and the view's hits are mapped back to the line.

Forms, in the order they are undone (each on the result of the one before):
percent-encoding (one level; a byte that is not UTF-8 is U+DC80 to U+DCFF,
as such a byte of a line is; a control character becomes a space), Windows DNS debug names
(``(3)cia(3)toh(4)info(0)``), Zeek's host and uri columns (TSV and JSON),
and, when asked for, defanged marks.
"""

from __future__ import annotations

from collections.abc import Iterable

from tests.oracle import Atom, Hit, as_text, oracle_hits

HEX = "0123456789abcdefABCDEF"
HOST_FIRST = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_[")
HOST_REST = HOST_FIRST | set(".:]-")
LABEL = {chr(c) for c in range(0x21, 0x7F)} - {"(", ")"}

# Each character of a view: (the character, start in the line, end in the line).
Chars = list[tuple[str, int, int]]


def _utf8_length(first: int) -> int:
    if first < 0x80:
        return 1
    if 0xC2 <= first <= 0xDF:
        return 2
    if 0xE0 <= first <= 0xEF:
        return 3
    if 0xF0 <= first <= 0xF4:
        return 4
    return 0


def _percent(chars: Chars) -> Chars:
    out: Chars = []
    i = 0
    while i < len(chars):
        # a run of %XX triplets
        j = i
        run: list[tuple[int, int, int]] = []  # byte, start, end
        while j + 2 < len(chars) and chars[j][0] == "%" and chars[j + 1][0] in HEX and chars[j + 2][0] in HEX:
            run.append((int(chars[j + 1][0] + chars[j + 2][0], 16), chars[j][1], chars[j + 2][2]))
            j += 3
        if not run:
            out.append(chars[i])
            i += 1
            continue
        k = 0
        while k < len(run):
            size = _utf8_length(run[k][0])
            piece = bytes(b for b, _, _ in run[k : k + size])
            try:
                char = piece.decode("utf-8") if size and len(piece) == size else None
            except UnicodeDecodeError:
                char = None
            if char is None:  # a byte that is not UTF-8, as a line's own such bytes are read
                out.append((chr(0xDC00 + run[k][0]), run[k][1], run[k][2]))
                k += 1
                continue
            if ord(char) < 0x20 or ord(char) == 0x7F:
                char = " "
            out.append((char, run[k][1], run[k + size - 1][2]))
            k += size
        i = j
    return out


def _dns(chars: Chars) -> Chars:
    text = "".join(c for c, _, _ in chars)
    out: Chars = []
    i = 0
    while i < len(chars):
        labels = _dns_labels(text, i)
        if labels is None:
            out.append(chars[i])
            i += 1
            continue
        end = labels[-1][2] + 3  # past "(0)"
        if not all(
            label_end - label_at == int(text[length_at + 1 : label_at - 1]) for length_at, label_at, label_end in labels
        ):
            out += chars[i:end]  # a length that does not hold: the name stays as written
        else:
            for number, (length_at, label_at, label_end) in enumerate(labels):
                if number:
                    out.append((".", chars[length_at][1], chars[label_at - 1][2]))
                out += chars[label_at:label_end]
        i = end
    return out


def _dns_labels(text: str, i: int) -> list[tuple[int, int, int]] | None:
    """The labels of a DNS debug name written from ``i`` on, ending with
    ``(0)``: where each one's length, label and end are; None when none is."""
    labels: list[tuple[int, int, int]] = []
    while True:
        close = text.find(")", i)
        digits = text[i + 1 : close] if text[i : i + 1] == "(" and close > i else ""
        if digits == "0" and len(labels) >= 2:  # one label is found as written
            return labels
        if not (1 <= len(digits) <= 2 and digits.isascii() and digits.isdigit() and digits[0] != "0"):
            return None
        label_end = close + 1
        while label_end < len(text) and text[label_end] in LABEL:
            label_end += 1
        if not 1 <= label_end - close - 1 <= 63 or text[label_end : label_end + 1] != "(":
            return None
        labels.append((i, close + 1, label_end))
        i = label_end


def _is_host(field: str) -> bool:
    return bool(field) and field[0] in HOST_FIRST and all(c in HOST_REST for c in field)


def _zeek_tsv(chars: Chars) -> Chars:
    text = "".join(c for c, _, _ in chars)
    fields = text.split("\t")
    drop = set()
    at = 0
    for number, field in enumerate(fields):
        end = at + len(field)
        if number and number + 1 < len(fields) and _is_host(field) and fields[number + 1].startswith("/"):
            drop.add(end)  # the tab after the host
        at = end + 1
    return [c for index, c in enumerate(chars) if index not in drop]


# What may stand between Zeek's host and uri values in JSON.
_BETWEEN = [f'"{a},{b}"uri":{c}"' for a in ("", " ") for b in ("", " ") for c in ("", " ")]


def _zeek_json(chars: Chars) -> Chars:
    text = "".join(c for c, _, _ in chars)
    drop: set[int] = set()
    start = 0 if "{" in text else len(text)  # an object's members
    while (at := text.find('"host":', start)) >= 0:
        start = at + 1
        value = at + 7 + (text[at + 7 : at + 8] == " ")
        if text[value : value + 1] != '"':
            continue
        close = text.find('"', value + 1)
        if close < 0 or not _is_host(text[value + 1 : close]):
            continue
        for between in _BETWEEN:
            if text.startswith(between + "/", close):
                drop.update(range(close, close + len(between)))
                break
    return [c for index, c in enumerate(chars) if index not in drop]


_MARKS = {
    **{f"{o}{m}{c}": "." for o, c in ("[]", "()", "{}") for m in (".", "dot")},
    **{f"{o}{m}{c}": "@" for o, c in ("[]", "()", "{}") for m in ("@", "at")},
    "[://]": "://",
    "[:]": ":",
}


def _defanged(chars: Chars) -> Chars:
    text = "".join(c for c, _, _ in chars)
    lower = text.lower()
    out: Chars = []
    i = 0
    while i < len(chars):
        for mark in sorted(_MARKS, key=len, reverse=True):
            if lower.startswith(mark, i):
                out += [(c, chars[i][1], chars[i + len(mark) - 1][2]) for c in _MARKS[mark]]
                i += len(mark)
                break
        else:
            after = lower[i + 4 : i + 4 + 6]
            if lower.startswith("hxxp", i) and any(
                after.startswith(s) for s in (":", "s:", "[:]", "s[:]", "[://]", "s[://]")
            ):
                out += [(c, *chars[i + n][1:]) for n, c in enumerate("http")]
                i += 4
            else:
                out.append(chars[i])
                i += 1
    return out


def view(line: str | bytes, defanged: bool = False) -> Chars:
    """The line's view: each character with where it came from."""
    text = as_text(line)
    chars: Chars = [(c, i, i + 1) for i, c in enumerate(text)]
    for form in (_percent, _dns, _zeek_tsv, _zeek_json, *((_defanged,) if defanged else ())):
        chars = form(chars)
    return chars


_NAMES = frozenset({"domain-name", "email-addr", "file-name", "process-name"})
_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _escaped(text: str, at: int) -> str | None:
    """The character ``%XX`` at ``at`` stands for, or None when none is there."""
    if text[at : at + 1] == "%" and len(text) >= at + 3 and all(c in HEX for c in text[at + 1 : at + 3]):
        return chr(int(text[at + 1 : at + 3], 16))
    return None


def _goes_on(text: str, end: int) -> bool:
    after = _escaped(text, end)
    if after is None:
        return False
    if after in _NAME_CHARS:
        return True
    following = _escaped(text, end + 3) or text[end + 3 : end + 4]
    return after == "." and following in _NAME_CHARS


def oracle_form_hits(
    atoms: Iterable[Atom], line: str | bytes, subdomains: bool = True, defanged: bool = False
) -> set[Hit]:
    """Every hit of ``atoms`` in ``line`` as written and in its view, at spans of the line."""
    atoms = list(atoms)
    written = as_text(line)
    # A name followed by an escape that goes on with it once decoded is another name.
    hits = {
        hit for hit in oracle_hits(atoms, line, subdomains) if hit.kind not in _NAMES or not _goes_on(written, hit.end)
    }
    chars = view(line, defanged)
    text = "".join(c for c, _, _ in chars)
    for hit in oracle_hits(atoms, text, subdomains):
        hits.add(Hit(chars[hit.start][1], chars[hit.end - 1][2], hit.kind, hit.value))
    return hits
