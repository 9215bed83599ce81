"""The ``iocmatch`` command: ``scan`` logs, ``check`` feeds, ``compile`` a matcher file.

Exit status is a promise: 0 something matched; 1 everything asked for was
searched, with at least one live indicator, and nothing matched; 2 anything
else (an input that could not be read, a feed with no live indicator, a file
cut short by a stop, a bug). A failure is one line on stderr; ``--debug``
adds the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import stat
import sys
import time
import traceback
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .._common.errors import IocmatchError
from .._common.model import IndicatorSet, LoadReport, Origin
from .._common.timestamps import parse_timestamp
from .._feeds import SourceObjects, read_source
from .._feeds.bundled import campaign_data_path
from .._feeds.reading import FOLDER_SUFFIXES
from .._feeds.taxii import DEADLINE_FACTOR, DEFAULT_TIMEOUT, PASSWORD_VARIABLE, USER_VARIABLE, TaxiiSource, is_taxii_url
from .._indicators.loader import load
from .._matcher.file import load_matcher, save_matcher
from .._matcher.matcher import ENGINES, Matcher
from .._outputs import formats as output
from .._outputs.catalog import Catalog, build_catalog
from .._scanning.blocks import LINE_WINDOW
from .._scanning.follow import POLL_SECONDS
from .._scanning.logfiles import is_gzip
from .._scanning.long_lines import MAX_WAITING
from .._scanning.stopping import Interrupted, interrupted_on_signals, stop_on_signals
from . import progress
from .scan_run import STDIN, OutputError, Scan

EXIT_MATCH, EXIT_NO_MATCH, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if sys.stdout is None:  # closed (>&-): no report, no hit could be written
        _fail("stdout is closed")
        return EXIT_ERROR
    with interrupted_on_signals():
        try:
            return int(args.run(args))
        except OutputError as exc:
            _fail(str(exc))
            _quiet_stdout()  # what is still buffered cannot be written either
        except IocmatchError as exc:
            _fail(str(exc))
        except BrokenPipeError:
            _quiet_stdout()  # the reader went away (| head): nothing more to say
        except OSError as exc:
            _fail(_os_error(exc))
        except (EOFError, zlib.error) as exc:
            _fail(f"compressed input is damaged: {exc}")
        except (KeyboardInterrupt, Interrupted) as exc:
            if isinstance(exc, Interrupted) and exc.again:
                _fail(f"stopped at once by a second {exc.name}: the output may be incomplete")
            else:
                name = exc.name if isinstance(exc, Interrupted) else "SIGINT"
                _fail(f"stopped by {name} before scanning finished")
        except Exception as exc:  # noqa: BLE001 - the exit status promise: every failure is one line and exit 2
            _fail(f"internal error: {type(exc).__name__}: {_one_line(str(exc))} (run with --debug for the traceback)")
            if args.debug:
                traceback.print_exc()
        return EXIT_ERROR


def _fail(message: str) -> None:
    if sys.stderr is None:  # closed (2>&-): the exit status says it
        return
    try:
        print(f"iocmatch: error: {_one_line(message)}", file=sys.stderr)
    except OSError:  # stderr is a closed pipe: the exit status still says it
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "no message"


def _os_error(exc: OSError) -> str:
    return f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": ")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iocmatch", description="Find threat-intelligence indicators in logs.")
    parser.add_argument("--debug", action="store_true", help="on an unexpected error, print the traceback too")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="scan log files (or stdin) for indicators")
    given = scan.add_mutually_exclusive_group()
    _indicators_option(given.add_argument)
    given.add_argument(
        "-m",
        "--matcher",
        metavar="FILE",
        help="a matcher file written by 'iocmatch compile' (instead of -i; its choices were made when compiling)",
    )
    _validity_options(scan)
    scan.add_argument(
        "--format",
        choices=output.FORMATS,
        default="text",
        help="text (coloured on a terminal unless NO_COLOR is set), jsonl (one match a line), "
        "ecs (one Elastic Common Schema record a hit line), sightings (a STIX 2.1 bundle at the end)",
    )
    scan.add_argument(
        "--observer",
        metavar="NAME",
        help="who scanned: the identity of sightings (default this host's name) and ECS observer.name",
    )
    scan.add_argument(
        "--json",
        action="store_true",
        help="lines are JSON events: match every string field and report the field's path "
        "(lines that are not JSON objects are scanned as text)",
    )
    scan.add_argument(
        "--json-field",
        action="append",
        metavar="PATH",
        help="match only this field of JSON events (dotted path: process.command_line; repeatable; implies --json)",
    )
    scan.add_argument(
        "--follow",
        metavar="FILE",
        help="scan FILE, then each line appended to it, across rotation and truncation, until interrupted",
    )
    scan.add_argument(
        "--stats",
        action="store_true",
        help="end with a summary on stderr: lines read and scanned, hits, seconds (and the matcher file's origin)",
    )
    scan.add_argument(
        "--line-window",
        metavar="SIZE",
        default=str(LINE_WINDOW),
        help="a line longer than this is scanned in overlapping windows, never held whole "
        "(bytes, or with K, M, G; default 4M)",
    )
    _max_age_option(scan)
    _matching_options(scan)
    scan.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="scan each large plain file with N processes (results in input order; default 1)",
    )
    scan.add_argument("files", nargs="*", metavar="FILE", help="log files, plain or .gz; '-' or none: stdin")
    _taxii_options(scan)
    _common_options(scan)
    scan.set_defaults(run=_scan, usage_error=scan.error)

    compiler = commands.add_parser("compile", help="compile indicator sources once into a matcher file for scan -m")
    _source_options(compiler)
    _matching_options(compiler)
    compiler.add_argument("-o", "--output", required=True, metavar="FILE", help="the matcher file to write")
    _common_options(compiler)
    compiler.set_defaults(run=_compile)

    check = commands.add_parser(
        "check", help="load indicator sources and print the load report, or describe a matcher file"
    )
    given = check.add_mutually_exclusive_group()
    _indicators_option(given.add_argument)
    given.add_argument(
        "-m", "--matcher", metavar="FILE", help="describe a matcher file: when and from what it was compiled"
    )
    _validity_options(check)
    _taxii_options(check)
    _max_age_option(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    _common_options(check)
    check.set_defaults(run=_check, usage_error=check.error)
    return parser


def _common_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--allow-empty",
        action="store_true",
        help="go on when the sources give no live indicator (without it, that is an error: a scan with "
        "nothing to look for would report every log clean)",
    )
    # SUPPRESS: `iocmatch --debug scan` is not undone by the command's own default.
    command.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="on an unexpected error, print the traceback"
    )


def _max_age_option(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--max-age",
        metavar="DURATION",
        help="refuse a matcher file compiled longer ago than this (e.g. 36h, 7d, 90m, 3600s)",
    )


def _source_options(command: argparse.ArgumentParser) -> None:
    _indicators_option(command.add_argument)
    _validity_options(command)
    _taxii_options(command)


def _taxii_options(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--user", metavar="NAME", help=f"user name for TAXII sources (default ${USER_VARIABLE})"
    )
    command.add_argument(
        "--password",
        metavar="SECRET",
        help=f"password for TAXII sources (default ${PASSWORD_VARIABLE}, which keeps it out of the process list)",
    )
    command.add_argument(
        "--added-after", metavar="ISO8601", help="from TAXII sources, only objects the server added after this time"
    )
    command.add_argument(
        "--taxii-timeout",
        type=float,
        metavar="SECONDS",
        help=f"TAXII: give up connecting, or waiting for data, after this long (default {DEFAULT_TIMEOUT:g}; "
        f"a whole response gets {DEADLINE_FACTOR} times as long)",
    )
    command.add_argument(
        "--taxii-max-response",
        metavar="SIZE",
        help="TAXII: refuse a response larger than this (default 100M, or the server's max_content_length "
        "when smaller)",
    )
    command.add_argument(
        "--allow-plain-http",
        action="store_true",
        help="TAXII: send credentials over plain http:// to a host other than loopback (anyone on the way can "
        "read them)",
    )


def _indicators_option(add_argument: Callable[..., argparse.Action]) -> None:
    add_argument(
        "-i",
        "--indicators",
        action="append",
        metavar="SOURCE",
        help="a feed file or folder, or a TAXII 2.1 collection or API root URL "
        "(repeatable; default: the bundled campaign data)",
    )


def _validity_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--as-of", metavar="ISO8601", help="reference time for indicator validity (default now)")
    command.add_argument("--ignore-validity", action="store_true", help="keep expired and not-yet-valid indicators")
    command.add_argument(
        "--allow-broad",
        action="store_true",
        help="keep values that hit ordinary traffic everywhere (prefixes shorter than /8 or /32, public "
        "suffixes, empty-file hashes, public DNS resolvers, system folders, one- and two-character or "
        "ubiquitous Windows file names, LIKE prefixes that fix fewer than 4 letters or digits); excluded and "
        "reported by default",
    )
    command.add_argument(
        "--allowlist",
        action="append",
        metavar="FILE",
        help="a MISP warninglist (JSON; types string, substring, hostname, cidr, regex): indicator values "
        "it holds are excluded, and the report names the entry; repeat for several",
    )
    command.add_argument(
        "--strict",
        action="store_true",
        help="any indicator skipped, excluded as too broad, or compiled with a warning is an error (exit 2)",
    )


def _matching_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-subdomains", action="store_true", help="a domain indicator does not hit its subdomains")
    command.add_argument(
        "--engine",
        choices=ENGINES,
        help="block engine for files (default auto: tokens for feeds of 50,000 values or more, else "
        "hyperscan where installed, else aho-corasick); results never depend on it",
    )
    command.add_argument(
        "--registry-aliases",
        action="store_true",
        help="a registry key also hits under other spellings of its hive (HKEY_CURRENT_USER, HKU\\<SID>)",
    )


# Options that shape a compiled matcher, so a matcher file has them already.
_COMPILE_CHOICES = {
    "as_of": "--as-of",
    "ignore_validity": "--ignore-validity",
    "no_subdomains": "--no-subdomains",
    "registry_aliases": "--registry-aliases",
    "engine": "--engine",
    "added_after": "--added-after",
    "allow_broad": "--allow-broad",
    "allowlist": "--allowlist",
    "strict": "--strict",
    "taxii_timeout": "--taxii-timeout",
    "taxii_max_response": "--taxii-max-response",
    "allow_plain_http": "--allow-plain-http",
}


def _load(args: argparse.Namespace) -> IndicatorSet:
    return _read_and_load(args)[0]


def _read_and_load(args: argparse.Namespace) -> tuple[IndicatorSet, list[SourceObjects]]:
    """The loaded indicators, and the objects read (the ECS output describes indicators from them)."""
    as_of = _timestamp_option(args.as_of, "--as-of")
    sources = [_source(name, args) for name in args.indicators or [str(campaign_data_path())]]
    if args.added_after and not any(isinstance(source, TaxiiSource) for source in sources):
        raise IocmatchError("--added-after applies to TAXII sources (-i http(s)://...) only")
    read = [objects for source in sources for objects in read_source(source)]
    loaded = load(
        *read,
        as_of=as_of,
        ignore_validity=args.ignore_validity,
        allow_broad=args.allow_broad,
        allowlists=args.allowlist or (),
    )
    if args.strict:
        _refuse_problems(loaded, _empty_sources(loaded.report))
    if args.allow_empty:
        for label in _empty_sources(loaded.report):
            print(f"iocmatch: {_nothing_from(loaded.report, label)}", file=sys.stderr)
    return loaded, read


def _nothing_from(report: LoadReport, label: str) -> str:
    counts = report.by_source[label]
    return (
        f"{label}: no live indicator from this source ({counts['read']} read, {counts['skipped']} skipped, "
        f"{counts['excluded']} excluded)"
    )


def _empty_source_reason(args: argparse.Namespace, report: LoadReport) -> str | None:
    """A source that gives nothing while others do (an empty download among
    feeds): the scan asked for was not the scan made, unless --allow-empty."""
    empty = [] if args.allow_empty else _empty_sources(report)
    if not empty:
        return None
    return "; ".join(_nothing_from(report, label) for label in empty) + " (--allow-empty to go on without it)"


def _empty_sources(report: LoadReport) -> list[str]:
    """Sources that add nothing while others do (an empty download among
    feeds): each is named, as the whole load would be if all were empty. A
    source whose indicators all came in another source too is not empty."""
    if not report.compiled:
        return []  # the whole load is empty: that is an error of its own
    covered = {p.source for p in report.problems if p.reason.startswith(_ELSEWHERE)}
    return [label for label, counts in report.by_source.items() if not counts["compiled"] and label not in covered]


# Reasons that say an indicator was kept from another version or source.
_ELSEWHERE = ("duplicate of", "superseded by", "another version")


def _refuse_problems(loaded: IndicatorSet, empty: list[str]) -> None:
    """--strict: what would be skipped, too broad or caveated stops the run,
    and so does a source that gives nothing."""
    report = loaded.report
    if empty:
        raise IocmatchError(f"--strict: no live indicator from {', '.join(empty)}")
    problems = [p for p in report.problems if p.status == "skipped" or p.reason.startswith("too broad")]
    problems += report.warnings
    if problems:
        shown = "; ".join(f"{p.id}: {p.reason}" for p in problems[:5])
        more = f" (and {len(problems) - 5} more; see 'iocmatch check')" if len(problems) > 5 else ""
        raise IocmatchError(f"--strict: {len(problems)} problems in the indicators: {shown}{more}")


def _source(name: str, args: argparse.Namespace) -> Any:
    if not is_taxii_url(name):
        return name
    added_after = _timestamp_option(args.added_after, "--added-after")
    limits: dict[str, Any] = {"allow_plain_http": args.allow_plain_http}
    if args.taxii_timeout is not None:
        limits["timeout"] = args.taxii_timeout
    if args.taxii_max_response:
        limits["max_response_bytes"] = _size_option(args.taxii_max_response, "--taxii-max-response", 1)
    return TaxiiSource(name, user=args.user, password=args.password, added_after=added_after, **limits)


def _timestamp_option(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise IocmatchError(f"{option} {value!r} is not an ISO 8601 timestamp") from None


def _check(args: argparse.Namespace) -> int:
    if args.matcher:
        _check_matcher_usage(args)
        matcher = _matcher_file(args)
        origin = matcher.origin
        now = datetime.now(timezone.utc)
        if args.json:
            described = {"file": args.matcher, **origin.to_dict(now), "engine": matcher.engine,
                         "values": matcher.atom_count}  # fmt: skip
            print(json.dumps(described, indent=2))
        else:
            print(_origin_text(args.matcher, matcher, now))
        _refuse_empty_matcher(args, matcher)
        _note_expired(args.matcher, origin, now)
        return EXIT_MATCH
    report = _load(args).report
    print(json.dumps(report.to_dict(), indent=2) if args.json else output.report_text(report))
    _refuse_empty(args, report)
    reason = _empty_source_reason(args, report)
    if reason:
        raise IocmatchError(reason)
    return EXIT_MATCH


def _compiled(args: argparse.Namespace, indicators: IndicatorSet) -> Matcher:
    """Compile, after telling stderr what could not be compiled."""
    summary = output.problem_summary(indicators.report)
    if summary:
        print(summary, file=sys.stderr)
    _refuse_empty(args, indicators.report)
    try:
        return Matcher(
            indicators,
            subdomains=not args.no_subdomains,
            registry_aliases=args.registry_aliases,
            engine=args.engine or "auto",
        )
    except ValueError as exc:  # an engine this platform does not have
        raise IocmatchError(str(exc)) from None


def _refuse_empty(args: argparse.Namespace, report: LoadReport) -> None:
    """No live indicator, no verdict: scanning with nothing to look for
    would call every log clean."""
    if report.compiled or args.allow_empty:
        return
    named = ", ".join(report.sources) or "the sources"
    raise IocmatchError(
        f"no live indicator in {named}: {report.read} read, {report.skipped} skipped, {report.excluded} excluded "
        "(see 'iocmatch check'); --allow-empty to go on with none"
    )


def _refuse_empty_matcher(args: argparse.Namespace, matcher: Matcher) -> None:
    if matcher.indicator_count or args.allow_empty:
        return
    raise IocmatchError(f"{args.matcher}: holds no live indicator; --allow-empty to go on with none")


def _compile(args: argparse.Namespace) -> int:
    target = _matcher_target(args)
    indicators = _load(args)
    reason = _empty_source_reason(args, indicators.report)
    if reason:
        raise IocmatchError(reason)
    matcher = _compiled(args, indicators)
    save_matcher(matcher, target)
    report = indicators.report
    print(
        f"{args.output}: {_size(os.path.getsize(args.output))}, {report.compiled} of {report.read} indicators "
        f"compiled ({report.skipped} skipped, {report.excluded} excluded), {matcher.atom_count} distinct values"
    )
    return EXIT_MATCH


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def _matcher_target(args: argparse.Namespace) -> Path:
    """Where ``compile`` writes: through a symlink to the file it names, and
    never over something that is not a regular file (the matcher is written
    beside it and renamed over it: ``-o /dev/null`` would replace the
    device), nor over a feed or allowlist this run reads, nor into a feed
    folder as a file that folder's next read would take for a feed."""
    target = Path(args.output).resolve()
    if target.exists() and not target.is_file():
        raise IocmatchError(f"{args.output}: not a regular file; write the matcher to a file")
    for source in args.indicators or []:
        if is_taxii_url(source) or not os.path.exists(source):
            continue
        folder = Path(source).resolve()
        if folder.is_dir() and target.is_relative_to(folder) and target.suffix.lower() in FOLDER_SUFFIXES:
            raise IocmatchError(f"{args.output}: inside the source folder {source}, where it would be read as a feed")
        if target.exists() and os.path.samefile(source, target):
            raise IocmatchError(f"{args.output}: is one of the sources (-i); write the matcher elsewhere")
    for allowlist in args.allowlist or []:
        if target.exists() and os.path.exists(allowlist) and os.path.samefile(allowlist, target):
            raise IocmatchError(f"{args.output}: is one of the allowlists; write the matcher elsewhere")
    return target


def _check_matcher_usage(args: argparse.Namespace) -> None:
    """-m with an option a compiled matcher already holds is a usage error (exit 2)."""
    given = [option for name, option in _COMPILE_CHOICES.items() if getattr(args, name, None)]
    if args.matcher and given:
        args.usage_error(
            f"argument -m/--matcher: not allowed with {', '.join(given)} (chosen when the matcher was compiled)"
        )
    if args.max_age and not args.matcher:
        args.usage_error("argument --max-age: applies to a matcher file (-m) only")


def _matcher_file(args: argparse.Namespace) -> Matcher:
    """The matcher file, refused when older than --max-age."""
    matcher = load_matcher(args.matcher)
    if args.max_age:
        limit = _duration(args.max_age)
        age = matcher.origin.age(datetime.now(timezone.utc))
        if age > limit:
            raise IocmatchError(
                f"{args.matcher}: compiled {_ago(age)} ({matcher.origin.compiled_at:%Y-%m-%d %H:%M} UTC), "
                f"longer ago than --max-age {args.max_age}: compile it again"
            )
    return matcher


def _note_expired(name: str, origin: Origin, now: datetime) -> None:
    """Validity was judged when compiling: say when indicators have expired since."""
    if origin.ignore_validity or origin.as_of_given:
        return  # the user chose the time validity is judged at
    expired = origin.expired(now)
    if expired:
        print(
            f"iocmatch: {name}: {expired} of its {origin.indicators} indicators have expired since it was "
            "compiled (valid_until passed) and still hit: compile it again to drop them",
            file=sys.stderr,
        )


def _origin_text(name: str, matcher: Matcher, now: datetime) -> str:
    origin = matcher.origin
    validity = "validity ignored" if origin.ignore_validity else f"validity as of {origin.as_of:%Y-%m-%d %H:%M} UTC"
    lines = [
        f"{name}: compiled {origin.compiled_at:%Y-%m-%d %H:%M:%S} UTC ({_ago(origin.age(now))}), "
        f"{origin.indicators} indicators, {matcher.atom_count} distinct values, engine {matcher.engine}, {validity}",
        f"  from {len(origin.sources)} sources, digest {origin.digest}",
    ]
    lines += [f"  {label}: sha256 {digest or 'unknown'}" for label, digest in origin.sources]
    expired = origin.expired(now)
    if expired:
        lines.append(f"  {expired} indicators have expired since (valid_until passed)")
    return "\n".join(lines)


def _ago(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds} seconds ago"


_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", re.IGNORECASE)
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(text: str) -> timedelta:
    found = _DURATION.fullmatch(text)
    try:
        if found is None:
            raise ValueError(text)
        return timedelta(seconds=float(found.group(1)) * _SECONDS[found.group(2).lower()])
    except (ValueError, OverflowError):
        raise IocmatchError(f"--max-age {text!r} is not a duration (a number with s, m, h, d or w: 36h, 7d)") from None


_SIZE = re.compile(r"\s*(\d+)\s*([kmg]?)i?b?\s*", re.IGNORECASE)
_BYTES = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
MIN_LINE_WINDOW = 4 << 10


def _size_option(text: str, option: str, least: int) -> int:
    found = _SIZE.fullmatch(text)
    size = int(found.group(1)) * _BYTES[found.group(2).lower()] if found else 0
    if size < least:
        raise IocmatchError(f"{option} {text!r} is not a size of at least {least} bytes (bytes, or with K, M, G)")
    return size


def _scan(args: argparse.Namespace) -> int:
    _check_matcher_usage(args)
    if args.follow and args.files:
        args.usage_error("argument --follow: not allowed with other FILE arguments")
    window = _size_option(args.line_window, "--line-window", MIN_LINE_WINDOW)
    inputs = [] if args.follow else args.files or [STDIN]
    _refuse_unreadable(inputs, args.follow)
    catalog: Catalog = {}
    empty_source: str | None = None
    if args.matcher:
        matcher = _matcher_file(args)
        _refuse_empty_matcher(args, matcher)
        _note_expired(args.matcher, matcher.origin, datetime.now(timezone.utc))
    else:
        indicators, read = _read_and_load(args)
        empty_source = _empty_source_reason(args, indicators.report)
        if args.format == "ecs":
            catalog = build_catalog(indicators, read)
        # The objects as read and the indicators are gigabytes for a large
        # feed; the matcher keeps what scanning needs.
        del read
        matcher = _compiled(args, indicators)
        del indicators
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
            jobs=max(1, args.jobs),
            progress=progress.wanted(sys.stderr),
            line_window=window,
            stopped=stopped,
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
            _quiet_stdout()
            closed = True
        if args.stats:
            print(scan.stats.summary(time.monotonic() - started), file=sys.stderr)
            if args.matcher:
                print("iocmatch: " + _origin_text(args.matcher, matcher, datetime.now(timezone.utc)), file=sys.stderr)
        for note in scan.notes:
            print(f"iocmatch: {note}", file=sys.stderr)
        incomplete = ([empty_source] if empty_source else []) + _incomplete(scan, stopped.name, not_searched)
        for reason in incomplete:
            _fail(reason)
    if failed or incomplete:
        return EXIT_ERROR
    if scan.stats.hits:
        return EXIT_MATCH
    return EXIT_ERROR if closed else EXIT_NO_MATCH


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
        with open(follow, "rb") as head:
            if is_gzip(head.read(2)):
                raise IocmatchError(f"{follow}: gzip; --follow reads a log as it is written, in plain text")
        return
    files = [name for name in inputs if name != STDIN]
    if files and len(files) == len(inputs):
        problems = [problem for name in files if (problem := _file_problem(name))]
        if len(problems) == len(files):
            for problem in problems[:-1]:
                _fail(problem)
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
        _fail(f"{exc.filename or path}: {exc.strerror or exc}")
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
        _fail(str(exc))
        return _FAILED
    except OSError as exc:
        _fail(f"{name}: {exc.strerror or exc}")
        return _FAILED
    except (EOFError, zlib.error) as exc:
        _fail(f"{name}: compressed input is damaged: {exc}")
        return _FAILED
    return _SCANNED

