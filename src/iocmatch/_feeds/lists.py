"""Read indicator lists: ``Type,Value`` CSV files and one-value-per-line text.

Every row or line that holds an indicator becomes one STIX 2.1 indicator dict,
with the clause its value compiles to built beside it (the dict's pattern is
for people and for bundles, and is not parsed back); every other data row or
line becomes a skipped ``Problem`` with the reason, so
nothing read is lost silently. Blank lines, ``#`` comments and header lines are
not data (a maltrail trail file's comments give its values their family,
aliases, references and publisher). A row broken beyond reading (a quote left
open, a NUL, a field of megabytes, a value that is not UTF-8: see ``rows.py``)
is one such problem, and the rows around it load.

Lists are undated: their indicators are ``created`` and ``valid_from`` the Unix
epoch, so they are live whatever the reference time, and ids derive from the
file's base name, the kind and the canonical value, so they are the same on
every machine and in every folder.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .._common.errors import PatternError, SourceError
from .._common.model import (
    DIRECTORY,
    DOMAIN,
    EMAIL,
    FILE_NAME,
    IPV4,
    IPV6,
    KINDS,
    MD5,
    PORT,
    REGISTRY_KEY,
    SHA1,
    SHA256,
    SHA512,
    URL,
    Clause,
)
from .._patterns.canonical import HASH_DIGITS, expand_hive, refang, typed_value
from .._patterns.clauses import ALONE
from .._patterns.values import atom, refanged_note
from .maltrail import REFERENCE, Trail, cited, external_reference, trail_context, trail_header
from .objects import Collector, SourceObjects
from .paths import name_in_folder, name_in_folder_clause, refuse_variables, split_path
from .rows import damage, decode, not_utf8, physical_lines, records, repaired
from .stix2_build import ENDPOINT, EPOCH, OBJECT_PATHS, address_and_port, indicator, pattern_for, stable_id

# Lists carry no dates (see the module docstring).

# ---------------------------------------------------------------- CSV layout

# Header names, compared after _column_key.
_TYPE_COLUMNS = {"type", "indicator type", "ioc type", "kind"}
_VALUE_COLUMNS = {"value", "indicator", "ioc", "ioc value", "indicator value", "observable"}
_COMMENT_COLUMNS = {"comment", "comments", "description", "note", "notes"}
_DELIMITERS = ",;\t"
_SNIFF_SAMPLE = 8192  # characters of the first 50 lines that csv.Sniffer is shown

# Published type names (after _type_key) and the kind each holds.
_CSV_KINDS = {
    # A kind with one object path; a port, a method or a header alone is no row's indicator.
    **{kind: kind for kind in KINDS if kind in OBJECT_PATHS},
    "url": URL,
    "uri": URL,
    "domain": DOMAIN,
    "hostname": DOMAIN,
    "fqdn": DOMAIN,
    "ipv4": IPV4,
    "ipv6": IPV6,
    "filehash-md5": MD5,
    "filehash-sha1": SHA1,
    "filehash-sha256": SHA256,
    "filehash-sha512": SHA512,
    "email": EMAIL,
    "email-src": EMAIL,
    "email-dst": EMAIL,
    "filename": FILE_NAME,
    "registrykey": REGISTRY_KEY,
    "regkey": REGISTRY_KEY,
    "registry-key": REGISTRY_KEY,
}
# Generic address types: MISP puts IPv6 addresses under them too.
_ANY_IP_TYPES = {"ip", "ip-dst", "ip-src"}
_PATH_TYPES = {"filepath", "file-path"}
_PIPE_TYPES = {"namepipe", "namedpipe", "named-pipe", "pipe"}

# `[digits].plg`: a bracketed word stands for something the publisher did not write.
_PLACEHOLDER = re.compile(r"\[[A-Za-z][A-Za-z _-]*\]")
# %USERPROFILE%, $env:TEMP, ${HOME}, ~/: expanded in logs, so never seen as written.
# A bare `$` is left alone: `C:\$Recycle.Bin` and `\\host\C$` are literal.

# ------------------------------------------------------- values in text lists

_HOST = r"(?:[\w-]+\.)+(?:[^\W\d_]+|xn--[A-Za-z0-9-]+)\.?"
_IPV4 = r"\d{1,3}(?:\.\d{1,3}){3}"
_PORT = r"(?::(?P<port>\d{1,5}))?"
_HEX_RUN = re.compile(r"[0-9A-Fa-f]+")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_EMAIL_SHAPE = re.compile(r"[^@\s]+@" + _HOST)
_IPV4_VALUE = re.compile(rf"(?P<value>{_IPV4}(?:/\d{{1,2}})?){_PORT}")
_IPV6_BRACKETED = re.compile(rf"\[(?P<value>[0-9A-Fa-f:.]+(?:%\w+)?)\]{_PORT}")
_HOST_VALUE = re.compile(rf"(?P<value>{_HOST}){_PORT}")
# A URL written without its scheme: `evil.com/a.htm`.
_SCHEMELESS_URL = re.compile(rf"(?:{_HOST}|{_IPV4})(?::\d{{1,5}})?/\S*")
_HASH_BY_DIGITS = {digits: kind for kind, digits in HASH_DIGITS.items()}
# LOKI/THOR `regex;score` lines: an escape or a metacharacter gives them away.
_REGEX_HINT = re.compile(r"\\.|[\[\](){}*+?|^$]")
# From the start of a run of spaces only: `\s+#` alone is tried at every space of a run.
_INLINE_COMMENT = re.compile(r"(?<!\s)\s+#")
# IPsum: `address<TAB>on how many lists`, told by its header (elsewhere `1.2.3.0<TAB>24` may be a network).
_COUNTED = re.compile(r"(?P<value>\S+)\t+(?P<count>\d+)")
_IPSUM_HEADER = re.compile(r"#\s*IPsum\b", re.IGNORECASE)
# Lines that name the kind of the values below them (`SHA256`, `Domains:`).
_HEADER_WORDS = {
    "md5",
    "sha1",
    "sha256",
    "sha512",
    "hash",
    "domain",
    "domainname",
    "hostname",
    "host",
    "fqdn",
    "ip",
    "ipv4",
    "ipv6",
    "ipaddress",
    "address",
    "url",
    "uri",
    "email",
    "emailaddress",
    "filename",
    "indicator",
    "ioc",
    "value",
}


@dataclass(frozen=True, slots=True)
class _Entry:
    """What one row or line becomes: the kind part of its id, its value, its
    pattern (shown), and the clause the loader takes instead of parsing the pattern."""

    key: str
    value: str
    pattern: str
    clause: Clause


@dataclass(frozen=True, slots=True)
class _Layout:
    delimiter: str
    header_line: int  # 1-based
    width: int  # the header's cells
    type_column: int
    value_column: int
    comment_column: int | None


class _Collector(Collector):
    """Gathers one file's indicators and problems."""

    def __init__(self, label: str) -> None:
        super().__init__(label)
        # Either separator, so a Windows path gives the same ids on Linux.
        parts = re.split(r"[\\/]", label.rstrip("\\/"))
        self.base = parts[-1] or label
        self.folder = parts[-2] if len(parts) > 1 else ""  # the name of the folder the file is in
        self.trail: Trail | None = None  # a maltrail trail file's header, once read
        self.counted = False  # an IPsum file: a count follows each value
        self.group: tuple[dict[str, str], ...] = ()  # the maltrail references above the next value
        # Each indicator's maltrail references: of every line its value is on, in order.
        self.references: dict[str, dict[str, dict[str, str]]] = {}

    def entry(self, line: int, name: str, description: str | None, build: Callable[[], _Entry]) -> None:
        """The indicator a line or row gives, or the problem saying why there is none."""
        try:
            entry = build()
        except PatternError as exc:
            self.skip_line(line, str(exc))
            return
        ident = stable_id("indicator", self.base, entry.key, entry.value)
        if (note := refanged_note((entry.clause,), name)) is not None:
            self.warn(ident, note)
        self.add(
            indicator(
                ident=ident,
                pattern=entry.pattern,
                name=name,
                created=EPOCH,
                valid_from=EPOCH,
                source_name=self.base,
                description=description,
            ),
            (entry.clause,),
        )
        if self.trail is not None:
            found = self.references.setdefault(ident, {})
            found.update((cited(reference), reference) for reference in self.group if cited(reference) not in found)

    def skip_line(self, line: int, reason: str) -> None:
        self.skip(f"{self.label}:{line}", reason)

    def result(self) -> SourceObjects:
        if self.trail is not None:
            self.objects.extend(trail_context(self.trail, self.objects, self.references))
        return super().result()


def _show(value: str) -> str:
    """A value quoted as published: repr() would double every backslash of a path."""
    return f"'{value}'"


# ------------------------------------------------------------------------ CSV


def looks_like_csv(text: str) -> bool:
    """True when the first row that is not blank or a ``#`` comment names a type and a value column."""
    return _layout(physical_lines(text.removeprefix("\ufeff"))) is not None


def read_csv(data: bytes, label: str) -> SourceObjects:
    """One indicator per ``Type,Value`` row; rows that cannot be one become problems."""
    lines = physical_lines(decode(data))
    layout = _layout(lines)
    if layout is None:
        raise SourceError(f"{label}: CSV without a header naming a type column and a value column")
    collector = _Collector(label)
    for record in records(lines, layout.delimiter, lambda cells: _broken_record(cells, layout)):
        if record.line <= layout.header_line:
            continue
        if record.problem is not None:
            collector.skip_line(record.line, record.problem)
        elif not _is_header(record.cells, layout):
            _read_row(collector, record.line, record.cells, layout)
    return collector.result()


def _layout(lines: list[str]) -> _Layout | None:
    for delimiter in _delimiters(lines):
        for record in records(lines, delimiter):
            columns = _columns(record.cells)
            if columns is not None:
                return _Layout(delimiter, record.line, len(record.cells), *columns)
            break
    return None


def _delimiters(lines: list[str]) -> list[str]:
    """Every delimiter we accept, the one csv.Sniffer picks first."""
    # The Sniffer's time grows with the square of a sample full of stray quotes.
    sample = "".join(lines[:50])[:_SNIFF_SAMPLE]
    try:
        first = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = ","
    return [first, *(d for d in _DELIMITERS if d != first)]


def _columns(header: list[str]) -> tuple[int, int, int | None] | None:
    keys = [_column_key(cell) for cell in header]
    type_column = next((i for i, key in enumerate(keys) if key in _TYPE_COLUMNS), None)
    value_column = next((i for i, key in enumerate(keys) if key in _VALUE_COLUMNS), None)
    if type_column is None or value_column is None:
        return None
    comment_column = next((i for i, key in enumerate(keys) if key in _COMMENT_COLUMNS), None)
    return type_column, value_column, comment_column


def _column_key(name: str) -> str:
    return " ".join(re.split(r"[\s_-]+", name.strip().lower())).strip()


def _is_header(row: list[str], layout: _Layout) -> bool:
    """A header repeated further down (files joined together) is not data."""
    return _columns(row) == (layout.type_column, layout.value_column, layout.comment_column)


def _cell(row: list[str], column: int | None) -> str:
    return row[column] if column is not None and column < len(row) else ""


def _read_row(collector: _Collector, line: int, row: list[str], layout: _Layout) -> None:
    type_name, value = _cell(row, layout.type_column), _cell(row, layout.value_column)
    problem = _damaged_row(row, layout) or not_utf8(type_name, "type") or not_utf8(value, "value")
    if problem:
        collector.skip_line(line, problem)
    elif not value:
        collector.skip_line(line, "row has no value")
    elif not type_name:
        collector.skip_line(line, f"row has no type for {_show(value)}")
    else:
        comment = repaired(_cell(row, layout.comment_column)) or None
        collector.entry(line, value, comment, lambda: _csv_entry(type_name, value))


def _damaged_row(row: list[str], layout: _Layout) -> str | None:
    """Why a row cannot be read at all: a NUL, a field too long, or more cells than the header."""
    problem = damage(row, "row")
    if problem:
        return problem
    width = len(row)
    while width > layout.width and not row[width - 1]:  # empty cells at the end say nothing
        width -= 1
    if width > layout.width:
        # A delimiter inside a cell that is not quoted: no telling which cell it split.
        return f"row has {width} cells, the header {layout.width}: an unquoted {layout.delimiter!r} in some cell"
    return None


def _broken_record(cells: list[str], layout: _Layout) -> str | None:
    """Why a record over several lines is no row: its quote was a stray one,
    or the lines it takes in make it unreadable."""
    if _takes_in_lines(cells, layout):
        return "unterminated quote: its field would take in the lines after it"
    problem = _damaged_row(cells, layout)
    return f"unterminated quote: the lines its field takes in make {problem}" if problem else None


def _takes_in_lines(row: list[str], layout: _Layout) -> bool:
    """A type, or a value of a type we read, never holds a line break: a quoted
    one that does was opened by a stray quote and closed by a later row's."""
    type_name, value = _cell(row, layout.type_column), _cell(row, layout.value_column)
    if _has_line_break(type_name):
        return True
    # MISP exports quote YARA rules over many lines: a type we skip, whatever its value.
    return _has_line_break(value) and _is_known_type(type_name)


def _has_line_break(text: str) -> bool:
    return "\n" in text or "\r" in text


def _is_known_type(type_name: str) -> bool:
    key = _type_key(type_name)
    return key in _CSV_KINDS or key in _ANY_IP_TYPES or key in _PATH_TYPES or key in _PIPE_TYPES


def _type_key(type_name: str) -> str:
    return re.sub(r"[\s_]+", "-", type_name.strip().lower())


def _csv_entry(type_name: str, value: str) -> _Entry:
    if _PLACEHOLDER.search(value):
        raise PatternError(f"{_show(value)} is a placeholder, not a literal value")
    key = _type_key(type_name)
    if key in _PIPE_TYPES:
        raise PatternError(f"no STIX 2.1 object for named pipes ({_show(value)})")
    if key in _PATH_TYPES:
        return _file_path_entry(value)
    if key == "url":
        return _url_entry(value)
    if key in _ANY_IP_TYPES:
        return _value_entry(IPV6 if value.count(":") >= 2 else IPV4, value)
    if key in ALONE:
        raise PatternError(ALONE[key])
    kind = _CSV_KINDS.get(key)
    if kind is None:
        raise PatternError(f"unknown indicator type {_show(type_name)}")
    if kind == REGISTRY_KEY:
        value = expand_hive(value)
    elif kind == DIRECTORY:
        refuse_variables(value)
    return _value_entry(kind, value)


def _url_entry(value: str) -> _Entry:
    """A ``url`` with no scheme, path or port is a bare host (every PwC one is)."""
    kind = infer_kind(value)
    if kind in (DOMAIN, IPV4, IPV6):
        host, port = _without_port(kind, value)
        if not port:
            return _value_entry(kind, host)
    return _value_entry(URL, value)


def _file_path_entry(value: str) -> _Entry:
    """``[file:name = ... AND file:parent_directory_ref.path = ...]``, or a directory."""
    # A CSV has no escapes, and PwC writes single backslashes except in two rows
    # (`%USERPROFILE%\\AppData`): a slip, and Windows reads a run of separators
    # as one, so runs collapse (a leading `\\` stays: it starts a UNC path).
    refuse_variables(value)
    path = value[:2] + re.sub(r"\\{2,}", r"\\", value[2:])
    directory, sep, name = split_path(path)
    if not sep:
        return _value_entry(FILE_NAME, path)
    if not name or "." not in name:  # `C:\ProgramData\SxS`: a folder, not a file
        return _value_entry(DIRECTORY, path.rstrip("\\/"))
    return _Entry(
        "file-path",
        f"{directory}{sep}{name}",
        name_in_folder(name, directory),
        name_in_folder_clause(name, directory),
    )


def _value_entry(kind: str, value: str) -> _Entry:
    """Canonical value and ``[path = value]``; an IPv4-mapped IPv6 address is IPv4."""
    kind, canonical = typed_value(kind, value)
    # atom() as compiling the pattern calls it, so the clause is exactly what the pattern means.
    return _Entry(kind, canonical, pattern_for(kind, canonical), frozenset((atom(kind, canonical),)))


def _endpoint_entry(address: str, port: str) -> _Entry:
    text, clause = address_and_port(address, port)
    host = next(found.value for found in clause if found.kind != PORT)
    number = next(found.value for found in clause if found.kind == PORT)
    return _Entry(ENDPOINT, f"[{host}]:{number}" if ":" in host else f"{host}:{number}", f"[{text}]", clause)


# ----------------------------------------------------------------- text lists


def read_text_list(data: bytes, label: str) -> SourceObjects:
    """One indicator per line, its kind inferred from the value (``infer_kind``).

    ``value;comment`` (signature-base), ``address:port`` (maltrail: the address
    and the port, both on one line) and ``value  # comment`` are read;
    LOKI ``regex;score`` lines are problems, not literals. A maltrail trail
    file (its ``# Copyright ... Maltrail developers`` header) also gives every
    value its family, aliases, references and publisher (``maltrail.py``).
    """
    collector = _Collector(label)
    lines = physical_lines(decode(data))
    collector.trail = trail_header(lines, collector.base, collector.folder)
    collector.counted = any(_IPSUM_HEADER.match(line.strip()) for line in _header_comments(lines))
    after_value = True  # a `# Reference:` after a value starts the next group
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("#"):
            reference = REFERENCE.match(line) if collector.trail is not None else None
            if reference is not None:
                found = external_reference(reference["text"])
                collector.group = (() if after_value else collector.group) + ((found,) if found else ())
                # A bare `# Reference:` ends a group: the values below it have none (as in maltrail).
                after_value = not found
        elif line and not _is_kind_header(line):
            after_value = True
            _read_line(collector, number, line)
    return collector.result()


def _is_kind_header(line: str) -> bool:
    key = re.sub(r"[\s_-]+", "", line.lower().rstrip(":"))
    return key in _HEADER_WORDS or key.removesuffix("es") in _HEADER_WORDS or key.removesuffix("s") in _HEADER_WORDS


def _read_line(collector: _Collector, number: int, line: str) -> None:
    # `;` ends a value: it ends a URL for the matcher too.
    head, _, comment = line.partition(";")
    value, *inline = _INLINE_COMMENT.split(head, maxsplit=1)
    value = value.strip()
    comment = repaired("; ".join(part.strip() for part in (comment, *inline) if part.strip()))
    problem = damage([line], "line") or not_utf8(value, "value")
    if problem:
        collector.skip_line(number, problem)
        return
    if _is_score(comment) and _REGEX_HINT.search(value):
        collector.skip_line(number, f"{_show(value)} is a regular expression, not a literal value")
        return
    kind = infer_kind(value)
    counted = _COUNTED.fullmatch(value) if kind is None and collector.counted else None
    if counted and (kind := infer_kind(counted["value"])) is not None:
        # `value<TAB>count` (IPsum: on how many blocklists): the count is context.
        value = counted["value"]
        comment = "; ".join(part for part in (comment, f"count {counted['count']}") if part)
    if kind is None:
        kind = _defanged_kind(value)  # the value stays as written: loading refangs it, with a warning
    if kind is None:
        collector.skip_line(number, _unrecognised(value))
        return
    address, port = _without_port(kind, value)
    if port:  # the address and its port, both on one line
        collector.entry(number, value, comment or None, lambda: _endpoint_entry(address, port))
    else:
        collector.entry(number, address, comment or None, lambda: _value_entry(kind, address))


def _is_score(comment: str) -> bool:
    return comment.split(";", 1)[0].strip().isdigit()


def _header_comments(lines: list[str]) -> Iterator[str]:
    """The comment lines before a list's first value."""
    for raw in lines:
        line = raw.strip()
        if line and not line.startswith("#"):
            return
        yield line


def _defanged_kind(value: str) -> str | None:
    """The kind a defanged value has once refanged the way its kind is (``refang``)."""
    for kind in (URL, EMAIL, IPV4, DOMAIN):
        refanged = refang(kind, value)
        if refanged != value and infer_kind(refanged) == kind:
            return kind
    return None


def _unrecognised(value: str) -> str:
    if _HEX_RUN.fullmatch(value) and len(value) >= 16:
        return f"unrecognised value {_show(value)}: {len(value)} hex digits is no MD5, SHA-1, SHA-256 or SHA-512 hash"
    if "[.]" in value or value.lower().startswith("hxxp"):
        return f"unrecognised value {_show(value)}: defanged, refang it to use it"
    return f"unrecognised value {_show(value)}"


def _without_port(kind: str, value: str) -> tuple[str, str]:
    """The value without a ``:port`` suffix, and the port."""
    if kind == IPV4:
        shape = _IPV4_VALUE.fullmatch(value)
    elif kind == IPV6:
        shape = _IPV6_BRACKETED.fullmatch(value)
    elif kind == DOMAIN:
        shape = _HOST_VALUE.fullmatch(value)
    else:
        shape = None
    if shape is None:
        return value, ""
    return shape["value"], shape["port"] or ""


def infer_kind(value: str) -> str | None:
    """The kind of a value from its shape alone; None when it has none we know.

    32/40/64/128 hex digits are hashes; an IPv4 address or CIDR (a ``:port``
    allowed), an IPv6 address (``[addr]:port`` allowed); ``scheme://...`` or
    ``host/path`` is a URL; ``x@host`` an e-mail address; a host name with a dot
    and a last label of letters (or ``xn--``) a domain, ``:port`` allowed. File
    names look like domains (``gothic.dat``): a list gives no way to tell.
    """
    text = value.strip()
    if _HEX_RUN.fullmatch(text):
        return _HASH_BY_DIGITS.get(len(text))
    if _SCHEME.fullmatch(text):
        return URL
    if _EMAIL_SHAPE.fullmatch(text):
        return EMAIL
    if _IPV4_VALUE.fullmatch(text):
        return IPV4
    if _is_ipv6(text):
        return IPV6
    if _HOST_VALUE.fullmatch(text):
        return DOMAIN
    if _SCHEMELESS_URL.fullmatch(text):
        return URL
    return None


def _is_ipv6(text: str) -> bool:
    bracketed = _IPV6_BRACKETED.fullmatch(text)
    address = bracketed["value"] if bracketed else text
    if address.count(":") < 2:
        return False
    try:
        ipaddress.IPv6Network(address.split("%")[0], strict=False)
    except ValueError:
        return False
    return True
