"""Readers that turn a source of indicators into STIX 2.x object dicts."""

from .objects import SourceObjects
from .reading import read_source

__all__ = ["SourceObjects", "read_source"]
