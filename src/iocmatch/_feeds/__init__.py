"""Feed readers: a file, a folder, a TAXII collection or objects in memory -> STIX 2.x object dicts."""

from .objects import SourceObjects
from .reading import read_source

__all__ = ["SourceObjects", "read_source"]
