"""The ``iocmatch`` command: ``scan`` logs, ``check`` feeds, ``compile`` a matcher file.

Exit codes follow grep: 0 something matched, 1 nothing did, 2 an error (one
line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import IO

from . import output
from ._bundled import campaign_data_path
from .errors import IocmatchError
from .loader import load
from .matcher import ENGINES, Matcher
from .model import IndicatorSet, Match
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
    scan.add_argument("--format", choices=sorted(output.FORMATS), default="text", help="output format (default text)")
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


def _indicators_option(add_argument: Callable[..., argparse.Action]) -> None:
    add_argument(
        "-i",
        "--indicators",
        action="append",
        metavar="SOURCE",
        help="STIX 2.x bundle file or directory (repeatable; default: the bundled campaign data)",
    )


def _validity_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--as-of", metavar="ISO8601", help="reference time for indicator validity (default now)")
    command.add_argument("--ignore-validity", action="store_true", help="keep expired and not-yet-valid indicators")


def _matching_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--no-subdomains", action="store_true", help="a domain indicator does not hit its subdomains")
    command.add_argument(
        "--engine",
        choices=ENGINES,
        help="block engine for files (default auto: hyperscan where installed, else aho-corasick); "
        "results never depend on it",
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
}


def _load(args: argparse.Namespace) -> IndicatorSet:
    as_of = None
    if args.as_of:
        try:
            as_of = parse_timestamp(args.as_of)
        except ValueError:
            raise IocmatchError(f"--as-of {args.as_of!r} is not an ISO 8601 timestamp") from None
    sources = args.indicators or [str(campaign_data_path())]
    return load(*sources, as_of=as_of, ignore_validity=args.ignore_validity)


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
    files = args.files or ["-"]
    # Check every log can be opened before loading feeds or printing anything.
    for name in files:
        if name != "-" and not os.path.exists(name):
            raise IocmatchError(f"{name}: no such file")
        if os.path.isdir(name):
            raise IocmatchError(f"{name}: is a directory")
    matcher = load_matcher(args.matcher) if args.matcher else _compiled(args, _load(args))
    write = output.FORMATS[args.format]
    matched = False
    try:
        for name, matches in _scan_inputs(matcher, files, max(1, args.jobs)):
            for match in matches:
                matched = True
                sys.stdout.write(write(match, name) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (| head): stop quietly, as grep does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_MATCH if matched else EXIT_NO_MATCH
    return EXIT_MATCH if matched else EXIT_NO_MATCH


def _scan_inputs(matcher: Matcher, files: list[str], jobs: int) -> Iterator[tuple[str, Iterator[Match]]]:
    for name in files:
        if name == "-":
            stdin: IO[bytes] = sys.stdin.buffer
            yield "-", matcher.scan(stdin)
        else:
            yield name, matcher.scan_file(name, workers=jobs)


if __name__ == "__main__":
    sys.exit(main())
