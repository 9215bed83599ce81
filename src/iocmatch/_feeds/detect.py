"""Which format a file is in, from its first bytes.

Text or not is judged on the first 64 KiB. UTF-16 and UTF-32 are refused by
name (a byte order mark, or ASCII with a NUL in every other byte). XML goes to
its parser: its declaration names its encoding. Other files are binary when
more than a tenth of those bytes are control bytes (NUL, the C0 controls but
tab, line feed, vertical tab, form feed, carriage return and escape, DEL) or
not UTF-8: compressed or random bytes are more than half such bytes. A feed
with a few broken rows stays far below and is read, those rows skipped.
"""

from __future__ import annotations

import codecs
import re

from .._common.errors import SourceError
from .abusech import abusech_product
from .abusech_json import abusech_json_product
from .lists import looks_like_csv
from .misp import looks_like_misp_csv
from .openioc import looks_like_openioc
from .rows import decode, undecodable_bytes

_HEAD = 65_536
_BINARY_SHARE = 0.1
_CONTROL_BYTES = bytes([*range(0x09), *range(0x0E, 0x1B), *range(0x1C, 0x20), 0x7F])
_TEXT_BYTES = bytes(byte for byte in range(256) if byte not in _CONTROL_BYTES)
# UTF-32's marks first: UTF-32LE's starts with UTF-16LE's.
_BYTE_ORDER_MARKS = [
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
]

_XML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<", re.DOTALL)
_STIX1_ROOT = re.compile(rb"<(?:[\w-]+:)?STIX_Package\b")
# An object, or a list of objects: a text list may start with "[2001:db8::1]:443".
_JSON_START = re.compile(r"\s*(?:\{|\[\s*(?:\{|\]))")


def detect_format(data: bytes, label: str) -> str:
    """``stix2-json`` (MISP JSON included), ``stix1-xml``, ``openioc``, ``abusech`` (CSV, and ThreatFox's or
    MalwareBazaar's JSON), ``misp-csv``, ``csv`` or ``text``; SourceError naming ``label`` otherwise."""
    head = data[:_HEAD]
    _refuse_utf16(head, label)
    if _XML_START.match(head):
        if _STIX1_ROOT.search(head):
            return "stix1-xml"
        if looks_like_openioc(head):
            return "openioc"
        raise SourceError(f"{label}: XML, but not a STIX 1.x package (STIX_Package) or an OpenIOC document (ioc)")
    text = decode(head)
    _refuse_binary(head, text, label)
    if abusech_json_product(text) is not None:  # ThreatFox's export, an abuse.ch API answer
        return "abusech"
    if _JSON_START.match(text):
        return "stix2-json"
    # Readers of CSV exports by their headers: before the generic CSV, whose
    # type and value columns ThreatFox's ioc_type and ioc_value would look like.
    if abusech_product(text) is not None:
        return "abusech"
    if looks_like_misp_csv(head):  # its type and value columns would pass as a Type,Value CSV
        return "misp-csv"
    if looks_like_csv(text):
        return "csv"
    return "text"


def _refuse_utf16(head: bytes, label: str) -> None:
    for mark, encoding in _BYTE_ORDER_MARKS:
        if head.startswith(mark):
            raise SourceError(f"{label}: {encoding} text, not UTF-8: convert it to UTF-8 to read it")
    if _nul_in_every_other_byte(head):
        raise SourceError(f"{label}: UTF-16 text without a byte order mark, not UTF-8: convert it to UTF-8 to read it")


def _nul_in_every_other_byte(head: bytes) -> bool:
    """Mostly ASCII written as UTF-16: a NUL in most bytes of one parity, hardly any in the other."""
    even, odd = head[0::2].count(0), head[1::2].count(0)
    return len(head) >= 4 and max(even, odd) > len(head) // 4 and min(even, odd) <= max(even, odd) // 16


def _refuse_binary(head: bytes, text: str, label: str) -> None:
    bad = len(head.translate(None, _TEXT_BYTES)) + undecodable_bytes(text)
    if bad > len(head) * _BINARY_SHARE:
        raise SourceError(
            f"{label}: binary data, not UTF-8 text ({bad:,} of the first {len(head):,} bytes are control bytes "
            "or not UTF-8)"
        )
