"""iocmatch: find a campaign's published indicators in logs, exactly and fast.

>>> import iocmatch
>>> matcher = iocmatch.compile(iocmatch.load("campaign.stix.json"))
>>> for match in matcher.scan_file("proxy.log"): ...

Everything a caller uses is here (``__all__``); the ``_``-named packages
behind it are free to change. ``iocmatch.spark`` is the one other public module.
"""

from ._common.errors import IocmatchError, MatcherFileError, PatternError, SourceError
from ._common.model import Indicator, IndicatorSet, LoadReport, Match, Origin, Problem
from ._common.stats import ScanStats
from ._feeds.bundled import campaign_data_path
from ._feeds.taxii import TaxiiSource
from ._indicators.allowlists import Allowlist, parse_allowlist, read_allowlist
from ._indicators.delta import added_since
from ._indicators.loader import load
from ._matcher.file import load_matcher, matcher_digest, save_matcher
from ._matcher.matcher import Matcher, compile  # noqa: A004 - iocmatch.compile is the public name
from ._matcher.watching import Swap, WatchedMatcher


def __getattr__(name: str) -> str:
    # importlib.metadata is slow to import: only when the version is asked for.
    if name != "__version__":
        raise AttributeError(f"module 'iocmatch' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("iocmatch")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


__all__ = [
    "Allowlist",
    "Indicator",
    "IndicatorSet",
    "IocmatchError",
    "LoadReport",
    "Match",
    "Matcher",
    "MatcherFileError",
    "Origin",
    "PatternError",
    "Problem",
    "ScanStats",
    "SourceError",
    "Swap",
    "TaxiiSource",
    "WatchedMatcher",
    "__version__",
    "added_since",
    "campaign_data_path",
    "compile",
    "load",
    "load_matcher",
    "matcher_digest",
    "parse_allowlist",
    "read_allowlist",
    "save_matcher",
]
