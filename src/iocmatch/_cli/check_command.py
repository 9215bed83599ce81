"""``iocmatch check``: the load report of the sources, or what a matcher file holds."""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from .._common.errors import IocmatchError
from .._outputs import formats as output
from .matcher_files import check_matcher_usage, matcher_file, note_expired, origin_text, refuse_empty_matcher
from .sources import empty_source_reason, load_indicators, refuse_empty
from .status import EXIT_MATCH


def run(args: argparse.Namespace) -> int:
    if args.matcher:
        check_matcher_usage(args)
        matcher = matcher_file(args)
        origin = matcher.origin
        now = datetime.now(timezone.utc)
        if args.json:
            described = {"file": args.matcher, **origin.to_dict(now), "engine": matcher.engine,
                         "values": matcher.atom_count}  # fmt: skip
            print(json.dumps(described, indent=2))
        else:
            print(origin_text(args.matcher, matcher, now))
        refuse_empty_matcher(args, matcher)
        note_expired(args.matcher, origin, now)
        return EXIT_MATCH
    report = load_indicators(args).report
    print(json.dumps(report.to_dict(), indent=2) if args.json else output.report_text(report))
    refuse_empty(args, report)
    reason = empty_source_reason(args, report)
    if reason:
        raise IocmatchError(reason)
    return EXIT_MATCH
