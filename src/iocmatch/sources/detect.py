"""Which format a file is in, from its first bytes."""

from __future__ import annotations

import re

from ..errors import SourceError
from .lists import looks_like_csv

_XML_START = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<", re.DOTALL)
_STIX1_ROOT = re.compile(rb"<(?:[\w-]+:)?STIX_Package\b")
# An object, or a list of objects: a text list may start with "[2001:db8::1]:443".
_JSON_START = re.compile(r"\s*(?:\{|\[\s*(?:\{|\]))")


def detect_format(data: bytes, label: str) -> str:
    """``stix2-json``, ``stix1-xml``, ``csv`` or ``text``; SourceError naming ``label`` otherwise."""
    head = data[:65536]
    if b"\x00" in head:
        raise SourceError(f"{label}: binary data, not an indicator file")
    if _XML_START.match(head):
        if _STIX1_ROOT.search(head):
            return "stix1-xml"
        raise SourceError(f"{label}: XML, but not a STIX 1.x package (no STIX_Package element)")
    try:
        text = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 64 KiB mark
            raise SourceError(f"{label}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        text = head[: exc.start].decode("utf-8-sig")
    if _JSON_START.match(text):
        return "stix2-json"
    if looks_like_csv(text):
        return "csv"
    return "text"
