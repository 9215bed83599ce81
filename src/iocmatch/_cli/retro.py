"""``scan --new-since``: a retro-check, past logs scanned again with only
the indicators a feed gained (``_indicators/delta.py``)."""

from __future__ import annotations

import argparse
import sys

from .._common.errors import IocmatchError
from .._common.model import IndicatorSet
from .._indicators.delta import added_since
from .sources import read_and_load


def check_usage(args: argparse.Namespace) -> None:
    if not args.new_since:
        return
    for option, given in (("-m/--matcher", args.matcher), ("--reload", args.reload), ("--events", args.events)):
        if given:
            args.usage_error(f"argument --new-since: not allowed with {option}")


def only_new(args: argparse.Namespace, indicators: IndicatorSet) -> IndicatorSet:
    """``indicators`` less those the --new-since sources already had, loaded
    with the same options (an old feed that gives nothing is no error: all is new)."""
    before = argparse.Namespace(**vars(args))
    before.indicators, before.strict, before.allow_empty, before.added_after = args.new_since, False, True, None
    old, _ = read_and_load(before)
    new = added_since(indicators, old)
    if not new.report.compiled and not args.allow_empty:
        raise IocmatchError(
            f"no indicator is new since {', '.join(args.new_since)}: nothing to look for "
            "(--allow-empty to go on with none)"
        )
    print(
        f"iocmatch: {new.report.compiled} of {indicators.report.compiled} indicators are new since "
        f"{', '.join(args.new_since)}; the logs are scanned with them only",
        file=sys.stderr,
    )
    return new
