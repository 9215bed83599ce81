"""Canonical forms of the literal properties a log line shows as text: command
lines, process and software names, accounts, subjects, request headers and
paths, certificate serials and distinguished names.

Each function returns the canonical form or raises PatternError quoting the
bad value; the loader turns that into a reported problem.
"""

from __future__ import annotations

import re

from .._common.errors import PatternError

# A certificate serial shorter than this many bytes names no one certificate:
# CAs have used at least 8 random bytes since 2016, and self-signed malware
# certificates at least 4 (Cobalt Strike's default is 08:BB:00:EE).
SERIAL_MIN_BYTES = 4
_SERIAL_SEPARATORS = re.compile(r"[\s:-]")
_HEX = re.compile(r"[0-9A-F]+")


def canonical_text(kind: str, value: str) -> str:
    """A literal as written, without the white space around it: a log field
    never starts or ends with the spaces a feed left in. A line break cannot
    be in a line."""
    text = value.strip()
    if not text:
        raise PatternError(f"empty {kind} value")
    if "\n" in text or "\r" in text:
        raise PatternError(f"{kind} value {value!r} holds a line break, which no log line can")
    return text


def canonical_serial(value: str) -> str:
    """Upper-case hex without separators, whole bytes, no leading zero bytes:
    ``0a:1b:2c:3d`` and ``A1B2C3D`` are ``0A1B2C3D`` (ECS and Zeek write it so)."""
    digits = _SERIAL_SEPARATORS.sub("", value.strip()).upper()
    digits = digits.removeprefix("0X")
    if not digits or not _HEX.fullmatch(digits):
        raise PatternError(f"{value!r} is not a certificate serial number (hex digits)")
    if len(digits) % 2:
        digits = "0" + digits
    while digits.startswith("00") and len(digits) > 2:
        digits = digits[2:]
    if len(digits) < 2 * SERIAL_MIN_BYTES:
        raise PatternError(
            f"certificate serial {value!r} is shorter than {SERIAL_MIN_BYTES} bytes: too short to name one certificate"
        )
    return digits


# A distinguished name is attribute=value pairs (RDNs), written as RFC 4514 does
# (``CN=a,O=b``, ``,`` in a value escaped ``\,``) or as old OpenSSL did (``/O=b/CN=a``).
_RDN_COMMA = re.compile(r"(?<!\\),")
_RDN_SLASH = re.compile(r"/(?=[A-Za-z][A-Za-z0-9.-]*\s*=)")
_ATTRIBUTE = re.compile(r"\s*([A-Za-z][A-Za-z0-9.-]*)\s*=\s*(.*?)\s*", re.DOTALL)


def canonical_dn(value: str) -> str:
    """RFC 4514 form, RDNs in the order written: ``CN=a,O=b`` for ``CN = a, O = b``
    or ``/CN=a/O=b``. Attribute names keep their case (compared without it)."""
    return ",".join(f"{name}={text}" for name, text in dn_parts(value))


def dn_parts(value: str) -> list[tuple[str, str]]:
    """(attribute, value) pairs of a distinguished name, a ``,`` in a value escaped ``\\,``."""
    text = value.strip()
    if text.startswith("/"):
        pieces = [piece.replace(",", "\\,") for piece in _RDN_SLASH.split(text[1:])]
    else:
        pieces = _RDN_COMMA.split(text)
    parts: list[tuple[str, str]] = []
    for piece in pieces:
        found = _ATTRIBUTE.fullmatch(piece)
        if found is None or not found.group(2):
            raise PatternError(f"{value!r} is not a distinguished name (attribute=value, ...)")
        parts.append((found.group(1), found.group(2)))
    return parts


def canonical_request(value: str) -> str:
    """An HTTP request's resource: a path (and query) as written, case kept."""
    path = canonical_text("request value", value)
    if not path.startswith("/"):
        raise PatternError(f"request value {value!r} is neither a path (/...) nor a URL")
    if path == "/":
        raise PatternError("request value '/' is no indicator (every site has it)")
    return path


_METHOD = re.compile(r"[A-Za-z]+")


def canonical_method(value: str) -> str:
    """An HTTP request method in upper case, as every client sends it (``post`` is ``POST``)."""
    method = value.strip()
    if not _METHOD.fullmatch(method):
        raise PatternError(f"{value!r} is not an HTTP request method")
    return method.upper()


__all__ = ["canonical_dn", "canonical_method", "canonical_request", "canonical_serial", "canonical_text", "dn_parts"]
