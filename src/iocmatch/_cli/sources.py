"""The indicator sources of a command (``-i``): read, loaded and compiled, and
refused when they give nothing to look for."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any

from .._common.errors import IocmatchError
from .._common.model import IndicatorSet, LoadReport, Problem
from .._feeds import SourceObjects, read_source
from .._feeds.bundled import CAMPAIGNS, DEFAULT_CAMPAIGN, campaign_data_path
from .._feeds.taxii import TaxiiSource, is_taxii_url
from .._indicators.loader import load
from .._matcher.matcher import Matcher
from .._outputs import formats as output
from . import values

# ``-i bundled:NAME``: campaign data shipped with iocmatch, in any case. A feed file whose
# name starts so is given as ``./bundled:...``.
BUNDLED = "bundled:"
BUNDLED_NAMES = tuple(BUNDLED + name for name in sorted(CAMPAIGNS))
DEFAULT_SOURCE = BUNDLED + DEFAULT_CAMPAIGN


def source_argument(text: str) -> str:
    """An ``-i`` value as given, with ``bundled:NAME`` turned into its file (argparse ``type``)."""
    if text[: len(BUNDLED)].lower() != BUNDLED:
        return text
    try:
        return str(campaign_data_path(text[len(BUNDLED) :].lower()))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown bundled campaign data {text!r} (choose from: {', '.join(BUNDLED_NAMES)})"
        ) from None


def load_indicators(args: argparse.Namespace) -> IndicatorSet:
    return read_and_load(args)[0]


def read_and_load(
    args: argparse.Namespace, reader: Callable[[Any], list[SourceObjects]] = read_source
) -> tuple[IndicatorSet, list[SourceObjects]]:
    """The loaded indicators, and the objects read (the ECS output describes
    indicators from them); ``reader`` reads each source."""
    as_of = values.timestamp(args.as_of, "--as-of")
    if args.at_event_time and args.ignore_validity:
        raise IocmatchError("--at-event-time judges validity at each line's time: not with --ignore-validity")
    sources = [_source(name, args) for name in args.indicators or [str(campaign_data_path())]]
    if args.added_after and not any(isinstance(source, TaxiiSource) for source in sources):
        raise IocmatchError("--added-after applies to TAXII sources (-i http(s)://...) only")
    read = [objects for source in sources for objects in reader(source)]
    loaded = load(
        *read,
        as_of=as_of,
        ignore_validity=args.ignore_validity,
        allow_broad=args.allow_broad,
        allowlists=args.allowlist or (),
        ignore_ports=args.ignore_ports,
        at_event_time=args.at_event_time,
    )
    if args.strict and getattr(args, "events", None) is None:  # with --events, once records compiled (scan)
        refuse_problems(loaded.report, empty_sources(loaded.report))
    if args.allow_empty:
        for label in empty_sources(loaded.report):
            print(f"iocmatch: {_nothing_from(loaded.report, label)}", file=sys.stderr)
    return loaded, read


def _nothing_from(report: LoadReport, label: str) -> str:
    counts = report.by_source[label]
    return (
        f"{label}: no live indicator from this source ({counts['read']} read, {counts['skipped']} skipped, "
        f"{counts['excluded']} excluded)"
    )


def empty_source_reason(args: argparse.Namespace, report: LoadReport, on_records: Collection[str] = ()) -> str | None:
    """A source that gives nothing while others do (an empty download among
    feeds): the scan asked for was not the scan made, unless --allow-empty.
    ``on_records``: sources whose indicators records judge (``--events``) are not empty."""
    empty = [] if args.allow_empty else [label for label in empty_sources(report) if label not in on_records]
    if not empty:
        return None
    return "; ".join(_nothing_from(report, label) for label in empty) + " (--allow-empty to go on without it)"


def empty_sources(report: LoadReport) -> list[str]:
    """Sources that add nothing while others do (an empty download among
    feeds): each is named, as the whole load would be if all were empty. A
    source whose indicators all came in another source too is not empty."""
    if not report.compiled:
        return []  # the whole load is empty: that is an error of its own
    covered = {p.source for p in report.problems if p.reason.startswith(_ELSEWHERE)}
    return [label for label, counts in report.by_source.items() if not counts["compiled"] and label not in covered]


# Reasons that say an indicator was kept from another version or source.
_ELSEWHERE = ("duplicate of", "superseded by", "another version")


def refuse_problems(
    report: LoadReport, empty: Collection[str], judged: Collection[str] = (), more: Sequence[Problem] = ()
) -> None:
    """--strict: what would be skipped, too broad or caveated stops the run,
    and so does a source that gives nothing. ``judged``: indicators skipped
    for text that records judge (``--events``), not a problem; ``more``:
    problems of their own (patterns not compiled for records)."""
    if empty:
        raise IocmatchError(f"--strict: no live indicator from {', '.join(empty)}")
    named = {p.id for p in more}  # records say why they could not judge it either: that reason names it
    problems = [
        p
        for p in report.problems
        if (p.status == "skipped" and p.id not in judged and p.id not in named) or p.reason.startswith("too broad")
    ]
    problems += [*report.warnings, *more]
    if problems:
        shown = "; ".join(f"{p.id}: {p.reason}" for p in problems[:5])
        rest = f" (and {len(problems) - 5} more; see 'iocmatch check')" if len(problems) > 5 else ""
        raise IocmatchError(f"--strict: {len(problems)} problems in the indicators: {shown}{rest}")


def _source(name: str, args: argparse.Namespace) -> Any:
    if not is_taxii_url(name):
        return name
    added_after = values.timestamp(args.added_after, "--added-after")
    limits: dict[str, Any] = {"allow_plain_http": args.allow_plain_http}
    if args.taxii_timeout is not None:
        limits["timeout"] = args.taxii_timeout
    if args.taxii_max_response:
        limits["max_response_bytes"] = values.size(args.taxii_max_response, "--taxii-max-response", 1)
    return TaxiiSource(name, user=args.user, password=args.password, added_after=added_after, **limits)


def compiled(
    args: argparse.Namespace, indicators: IndicatorSet, on_records: bool = False, empty_ok: bool = False
) -> Matcher:
    """Compile, after telling stderr what could not be compiled; ``on_records``:
    records may judge indicators text could not compile (``--events`` checks them after);
    ``empty_ok``: no live indicator is no error here (a reload, which says so itself)."""
    summary = output.problem_summary(indicators.report)
    if summary:
        # With --events these are text's problems: records may still judge what text skipped.
        print(summary.replace("iocmatch: ", "iocmatch: as text: ", 1) if on_records else summary, file=sys.stderr)
    if not on_records and not empty_ok:
        refuse_empty(args, indicators.report)
    try:
        return Matcher(
            indicators,
            subdomains=not args.no_subdomains,
            registry_aliases=args.registry_aliases,
            engine=args.engine or "auto",
        )
    except ValueError as exc:  # an engine this platform does not have
        raise IocmatchError(str(exc)) from None


def refuse_empty(args: argparse.Namespace, report: LoadReport) -> None:
    """No live indicator, no verdict: scanning with nothing to look for
    would call every log clean."""
    if report.compiled or args.allow_empty:
        return
    named = ", ".join(report.sources) or "the sources"
    raise IocmatchError(
        f"no live indicator in {named}: {report.read} read, {report.skipped} skipped, {report.excluded} excluded "
        "(see 'iocmatch check'); --allow-empty to go on with none"
    )
