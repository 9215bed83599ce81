"""XML feeds (STIX 1, OpenIOC): parsed with entities, DTDs and external
references refused, and walked by local names (namespaces vary by publisher)."""

from __future__ import annotations

from collections.abc import Iterator
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from .._common.errors import SourceError


def parse_xml(data: bytes, label: str) -> Element:
    """The document's root; SourceError naming ``label`` for XML that is unsafe, broken or undecodable."""
    try:
        root: Element = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise SourceError(f"{label}: refused unsafe XML ({type(exc).__name__}: {exc})") from None
    except ParseError as exc:
        raise SourceError(f"{label}: not well-formed XML: {exc}") from None
    except (LookupError, ValueError) as exc:  # found by fuzzing: encoding="UTF-0"
        raise SourceError(f"{label}: XML this reader cannot decode: {exc}") from None
    return root


def local(tag: object) -> str:
    """A tag without its namespace; "" for what is no element (a comment, a processing instruction)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(element: Element, name: str) -> Iterator[Element]:
    return (child for child in element if local(child.tag) == name)


def child(element: Element | None, name: str) -> Element | None:
    return next(children(element, name), None) if element is not None else None


def text(element: Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""
