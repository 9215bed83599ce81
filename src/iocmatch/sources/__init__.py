"""Readers that turn a source of indicators into plain STIX object dicts."""

from .stix2_json import SourceObjects, read_source

__all__ = ["SourceObjects", "read_source"]
