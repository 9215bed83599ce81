"""``iocmatch scan``: logs (or stdin, or a followed log) searched for the
indicators, and the exit status the scan earned."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import time
import zlib
from datetime import datetime, timezone

from .._common.errors import IocmatchError
from .._common.model import LoadReport, Origin
from .._matcher.records import PatternIndicator
from .._matcher.watching import WatchedMatcher
from .._outputs import formats as output
from .._outputs.catalog import Catalog, build_catalog
from .._scanning.follow import POLL_SECONDS
from .._scanning.logfiles import is_gzip_file
from .._scanning.long_lines import MAX_WAITING
from .._scanning.stopping import Interrupted, stop_on_signals
from . import progress, reloading, retro, values
from .matcher_files import check_matcher_usage, matcher_file, note_expired, origin_text, refuse_empty_matcher
from .records import (
    check_events_usage,
    distinct_logs,
    dropped_note,
    pattern_indicators,
    record_only_sources,
    record_scanner,
    unevaluated,
)
from .scan_run import STDIN, OutputError, Scan
from .sources import compiled, empty_source_reason, empty_sources, read_and_load, refuse_empty, refuse_problems
from .status import EXIT_ERROR, EXIT_MATCH, EXIT_NO_MATCH, fail, quiet_stdout

MIN_LINE_WINDOW = 4 << 10


def run(args: argparse.Namespace) -> int:
    check_matcher_usage(args)
    check_events_usage(args)
    reloading.check_usage(args)
    retro.check_usage(args)
    if args.follow and args.files:
        args.usage_error("argument --follow: not allowed with other FILE arguments")
    window = values.size(args.line_window, "--line-window", MIN_LINE_WINDOW)
    log_zone = values.zone(args.log_timezone, "--log-timezone")
    if args.log_year is not None and not 1 <= args.log_year <= 9999:
        args.usage_error(f"argument --log-year: {args.log_year} is not a year")
    inputs = [] if args.follow else args.files or [STDIN]
    _refuse_unreadable(inputs, args.follow)
    if args.events is not None:
        inputs, repeated = distinct_logs(inputs)
        for note in repeated:
            print(f"iocmatch: {note}", file=sys.stderr)
    catalog: Catalog = {}
    empty_source: str | None = None
    for_records: list[PatternIndicator] = []
    on_records: set[str] = set()
    report: LoadReport | None = None
    watched: WatchedMatcher | None = None
    reloads = reloading.Reloads()
    if args.matcher:
        matcher = matcher_file(args)
        refuse_empty_matcher(args, matcher)
        note_expired(args.matcher, matcher.origin, datetime.now(timezone.utc))
        if args.reload:
            matcher = (watched := reloading.watched_file(args, reloads)).current()
    elif args.reload:
        watched, catalog, report = reloading.watched_sources(args, reloads)
        empty_source = empty_source_reason(args, report)
        matcher = watched.current()
    else:
        indicators, read = read_and_load(args)
        if args.new_since:
            indicators = retro.only_new(args, indicators)
        if args.events is not None:
            for_records = pattern_indicators(indicators, read)
        on_records = record_only_sources(indicators, for_records)
        empty_source = empty_source_reason(args, indicators.report, on_records)
        if args.format == "ecs":
            catalog = build_catalog(indicators, read)
        # The objects as read and the indicators are gigabytes for a large
        # feed; the matcher keeps what scanning needs.
        del read
        report = indicators.report
        matcher = compiled(args, indicators, on_records=bool(for_records))
        del indicators
    if args.defanged and watched is None:  # a watched matcher is built reading defanged text already
        matcher = matcher.with_defanged()
    records = record_scanner(args, matcher, for_records, inputs)
    if records is not None and report is not None:
        if not records.pattern_count:
            refuse_empty(args, report)
        if args.strict:  # what records judge is no problem; what they cannot compile is
            empty = [label for label in empty_sources(report) if label not in on_records]
            refuse_problems(report, empty, records.compiled_ids, records.problems)
    colour = args.format == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    json_fields = args.json_field or ([] if args.json else None)
    started = time.monotonic()
    failed: list[str] = []
    not_searched: list[str] = []
    closed = False
    # The stop handlers stay until the status is decided: a stop while the
    # statistics are written must not turn a finished scan into an error.
    with stop_on_signals() as stopped:
        scan = Scan(
            matcher,
            output.output_format(args.format, colour=colour, catalog=catalog, observer=args.observer),
            sys.stdout,
            json_fields=json_fields,
            records=records,
            jobs=max(1, args.jobs),
            progress=progress.wanted(sys.stderr),
            line_window=window,
            stopped=stopped,
            log_year=args.log_year,
            log_zone=log_zone,
            watched=watched,
        )
        try:
            if args.follow and _follow_one(scan, args.follow) == _FAILED:
                failed.append(args.follow)
            for name in inputs:
                outcome = _scan_one(scan, name) if not stopped() else _NOT_SEARCHED
                if outcome == _FAILED:
                    failed.append(name)
                elif outcome == _NOT_SEARCHED:
                    not_searched.append(name)
            scan.finish()
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader went away (| head): stop reading, as grep does.
            quiet_stdout()
            closed = True
        finally:
            if watched is not None:
                watched.close()
        if watched is not None:
            matcher = watched.in_use  # the one in use at the end, for --stats
        if args.stats:
            print(scan.stats.summary(time.monotonic() - started), file=sys.stderr)
            if matcher.at_event_time:
                print(f"iocmatch: {_undated_text(scan.undated, matcher.origin)}", file=sys.stderr)
            if args.matcher:
                print("iocmatch: " + origin_text(args.matcher, matcher, datetime.now(timezone.utc)), file=sys.stderr)
        for note in scan.notes + ([dropped] if records is not None and (dropped := dropped_note(records)) else []):
            print(f"iocmatch: {note}", file=sys.stderr)
        incomplete = ([empty_source] if empty_source else []) + _incomplete(scan, stopped.name, not_searched)
        if (emptied := reloads.incomplete(args)) is not None:
            incomplete.append(emptied)
        if records is not None and (missed := unevaluated(records)) is not None:
            incomplete.append(missed)
        for reason in incomplete:
            fail(reason)
    if failed or incomplete:
        return EXIT_ERROR
    if scan.stats.hits:
        return EXIT_MATCH
    return EXIT_ERROR if closed else EXIT_NO_MATCH


def _undated_text(undated: int, origin: Origin) -> str:
    """At event time: how many hit lines carried no time, and when they were judged."""
    when = f"--as-of {origin.as_of:%Y-%m-%d %H:%M:%S} UTC" if origin.as_of_given else "the time of the scan"
    return f"validity judged at each line's own time; {undated} hit lines without a time, judged at {when}"


def _incomplete(scan: Scan, signal_name: str | None, not_searched: list[str]) -> list[str]:
    """Why the logs were not searched whole as asked, one line each (exit 2)."""
    reasons = []
    cut = scan.cut_short + ([f"not searched: {', '.join(not_searched)}"] if not_searched else [])
    if cut:
        reasons.append(f"stopped by {signal_name or 'a signal'}: {'; '.join(cut)}")
    stats = scan.stats
    if scan.events is not None and scan.events.fields and stats.lines_read and not stats.lines_scanned:
        reasons.append(
            f"none of the {stats.lines_read} lines read held a JSON field selected ({', '.join(scan.events.fields)}): "
            "nothing was searched"
        )
    if stats.json_as_text:
        reasons.append(
            f"{stats.json_as_text} JSON events were longer than the line window and were scanned as plain text: "
            "field selection and JSON escapes did not apply to them (a --line-window above the longest event "
            "reads them as JSON)"
        )
    if stats.unresolved:
        reasons.append(
            f"{stats.unresolved} occurrences of AND-clause values on lines longer than the line window could not "
            f"wait for the rest of their line (at most {MAX_WAITING:,} a line wait): they were reported with the "
            "indicators known when they were found, or not at all when there were none yet"
        )
    return reasons


def _refuse_unreadable(inputs: list[str], follow: str | None) -> None:
    """Every input missing or a folder: nothing to scan, so say so before
    loading the feeds. With some readable, each bad one is named at its turn."""
    if follow:
        _must_be_a_file(follow)
        if not stat.S_ISREG(os.stat(follow).st_mode):
            raise IocmatchError(f"{follow}: --follow takes a regular file (a pipe is read as it comes with 'scan -')")
        if is_gzip_file(follow):
            raise IocmatchError(f"{follow}: gzip; --follow reads a log as it is written, in plain text")
        return
    files = [name for name in inputs if name != STDIN]
    if files and len(files) == len(inputs):
        problems = [problem for name in files if (problem := _file_problem(name))]
        if len(problems) == len(files):
            for problem in problems[:-1]:
                fail(problem)
            raise IocmatchError(problems[-1])


def _must_be_a_file(name: str) -> None:
    problem = _file_problem(name)
    if problem:
        raise IocmatchError(problem)


def _file_problem(name: str) -> str | None:
    if not os.path.exists(name):
        return f"{name}: no such file"
    if os.path.isdir(name):
        return f"{name}: is a directory"
    return None


_SCANNED, _FAILED, _NOT_SEARCHED = "scanned", "failed", "not searched"


def _follow_one(scan: Scan, path: str) -> str:
    """Follow a log until stopped; a fault (the log rotated to a file that
    cannot be read) is named, and what the format owes is still written."""
    try:
        scan.follow(path, POLL_SECONDS)
    except (BrokenPipeError, OutputError):
        raise
    except OSError as exc:
        fail(f"{exc.filename or path}: {exc.strerror or exc}")
        return _FAILED
    return _SCANNED


def _scan_one(scan: Scan, name: str) -> str:
    """Scan one input: whether it was scanned, failed (the fault named on
    stderr; what was read before it is scanned and written), or was not
    searched (a stop came while waiting to open a FIFO)."""
    try:
        if name == STDIN:
            if sys.stdin is None:
                raise IocmatchError("stdin is closed")
            scan.scan_stdin(sys.stdin.fileno())
        else:
            scan.scan_file(name)
    except (BrokenPipeError, OutputError):
        raise  # the output failed: nothing more can be reported
    except Interrupted as exc:
        if exc.again:
            raise
        return _NOT_SEARCHED
    except IocmatchError as exc:
        fail(str(exc))
        return _FAILED
    except OSError as exc:
        fail(f"{name}: {exc.strerror or exc}")
        return _FAILED
    except (EOFError, zlib.error) as exc:
        fail(f"{name}: compressed input is damaged: {exc}")
        return _FAILED
    return _SCANNED
