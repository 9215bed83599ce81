"""The exceptions iocmatch raises. Scanning raises none of them."""

from __future__ import annotations


class IocmatchError(ValueError):
    """Base of every error iocmatch raises on purpose."""


class SourceError(IocmatchError):
    """A source of indicators could not be read at all (names the source)."""


class PatternError(IocmatchError):
    """A STIX pattern, or a value in it, that iocmatch does not compile.

    The message is the reason reported in the load report.
    """


class ObjectError(IocmatchError):
    """An indicator object whose fields say nothing iocmatch can compile: no
    pattern, a pattern_type other than STIX.

    The message is the reason reported in the load report.
    """


class MatcherFileError(IocmatchError):
    """A compiled matcher file that cannot be written, or is refused on loading (names the file)."""
