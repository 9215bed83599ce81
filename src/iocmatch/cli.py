"""The ``iocmatch`` command: ``scan`` logs, ``check`` feeds, ``compile`` a matcher file.

Exit codes follow grep: 0 something matched, 1 nothing did, 2 an error (one
line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from . import output, progress
from ._bundled import campaign_data_path
from .catalog import Catalog, build_catalog
from .errors import IocmatchError
from .follow import POLL_SECONDS
from .loader import load
from .matcher import ENGINES, Matcher
from .model import IndicatorSet
from .scanning import Scan
from .sources import SourceObjects, read_source
from .sources.taxii import PASSWORD_VARIABLE, USER_VARIABLE, TaxiiSource, is_taxii_url
from .store import load_matcher, save_matcher
from .timestamps import parse_timestamp

EXIT_MATCH, EXIT_NO_MATCH, EXIT_ERROR = 0, 1, 2


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except IocmatchError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    except (EOFError, zlib.error) as exc:
        _fail(f"compressed input is damaged: {exc}")
    except KeyboardInterrupt:
        return 130
    return EXIT_ERROR


def _fail(message: str) -> None:
    print(f"iocmatch: error: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iocmatch", description="Find threat-intelligence indicators in logs.")
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
        "--stats", action="store_true", help="end with a summary on stderr: lines read and scanned, hits, seconds"
    )
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
    scan.set_defaults(run=_scan, usage_error=scan.error)

    compiler = commands.add_parser("compile", help="compile indicator sources once into a matcher file for scan -m")
    _source_options(compiler)
    _matching_options(compiler)
    compiler.add_argument("-o", "--output", required=True, metavar="FILE", help="the matcher file to write")
    compiler.set_defaults(run=_compile)

    check = commands.add_parser("check", help="load indicator sources and print the load report")
    _source_options(check)
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(run=_check)
    return parser


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
        "suffixes, empty-file hashes, public DNS resolvers); excluded and reported by default",
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
        _refuse_problems(loaded)
    return loaded, read


def _refuse_problems(loaded: IndicatorSet) -> None:
    """--strict: what would be skipped, too broad or caveated stops the run."""
    report = loaded.report
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
    return TaxiiSource(name, user=args.user, password=args.password, added_after=added_after)


def _timestamp_option(value: str | None, option: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_timestamp(value)
    except ValueError:
        raise IocmatchError(f"{option} {value!r} is not an ISO 8601 timestamp") from None


def _check(args: argparse.Namespace) -> int:
    report = _load(args).report
    print(json.dumps(report.to_dict(), indent=2) if args.json else output.report_text(report))
    return EXIT_MATCH


def _compiled(args: argparse.Namespace, indicators: IndicatorSet) -> Matcher:
    """Compile, after telling stderr what could not be compiled."""
    summary = output.problem_summary(indicators.report)
    if summary:
        print(summary, file=sys.stderr)
    try:
        return Matcher(
            indicators,
            subdomains=not args.no_subdomains,
            registry_aliases=args.registry_aliases,
            engine=args.engine or "auto",
        )
    except ValueError as exc:  # an engine this platform does not have
        raise IocmatchError(str(exc)) from None


def _compile(args: argparse.Namespace) -> int:
    _refuse_overwriting_a_source(args)
    indicators = _load(args)
    matcher = _compiled(args, indicators)
    save_matcher(matcher, args.output)
    report = indicators.report
    print(
        f"{args.output}: {_size(os.path.getsize(args.output))}, {report.compiled} of {report.read} indicators "
        f"compiled ({report.skipped} skipped, {report.excluded} excluded), {matcher.atom_count} distinct values"
    )
    return EXIT_MATCH


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


def _refuse_overwriting_a_source(args: argparse.Namespace) -> None:
    if not os.path.exists(args.output):
        return
    for source in args.indicators or []:
        if os.path.exists(source) and os.path.samefile(source, args.output):
            raise IocmatchError(f"{args.output}: is one of the sources (-i); write the matcher elsewhere")


def _check_matcher_usage(args: argparse.Namespace) -> None:
    """-m with an option a compiled matcher already holds is a usage error (exit 2)."""
    given = [option for name, option in _COMPILE_CHOICES.items() if getattr(args, name)]
    if args.matcher and given:
        args.usage_error(
            f"argument -m/--matcher: not allowed with {', '.join(given)} (chosen when the matcher was compiled)"
        )


def _scan(args: argparse.Namespace) -> int:
    _check_matcher_usage(args)
    if args.follow and args.files:
        args.usage_error("argument --follow: not allowed with other FILE arguments")
    files = [] if args.follow else args.files or ["-"]
    # Check every log can be opened before loading feeds or printing anything.
    for name in [*files, *([args.follow] if args.follow else [])]:
        if name != "-" and not os.path.exists(name):
            raise IocmatchError(f"{name}: no such file")
        if os.path.isdir(name):
            raise IocmatchError(f"{name}: is a directory")
    catalog: Catalog = {}
    if args.matcher:
        matcher = load_matcher(args.matcher)
    else:
        indicators, read = _read_and_load(args)
        if args.format == "ecs":
            catalog = build_catalog(indicators, read)
        # The objects as read and the indicators are gigabytes for a large
        # feed; the matcher keeps what scanning needs.
        del read
        matcher = _compiled(args, indicators)
        del indicators
    colour = args.format == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    json_fields = args.json_field or ([] if args.json else None)
    scan = Scan(
        matcher,
        output.output_format(args.format, colour=colour, catalog=catalog, observer=args.observer),
        sys.stdout,
        json_fields=json_fields,
        jobs=max(1, args.jobs),
        progress=progress.wanted(sys.stderr),
    )
    started = time.monotonic()
    try:
        if args.follow:
            with _stop_on_signals() as stopped:
                scan.follow(args.follow, stopped, POLL_SECONDS)
        for name in files:
            if name == "-":
                scan.scan_stdin(sys.stdin.buffer)
            else:
                scan.scan_file(name)
        scan.finish()
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as grep does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    if args.stats:
        print(scan.stats.summary(time.monotonic() - started), file=sys.stderr)
    return EXIT_MATCH if scan.stats.hits else EXIT_NO_MATCH


@contextmanager
def _stop_on_signals() -> Iterator[Callable[[], bool]]:
    """Ctrl-C or SIGTERM ends following between two lines, so the line being
    scanned is finished and what is held is scanned too."""
    received: list[int] = []
    previous = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    for number in previous:
        signal.signal(number, lambda number, _frame: received.append(number))
    try:
        yield lambda: bool(received)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


if __name__ == "__main__":
    sys.exit(main())
