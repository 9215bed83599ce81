"""The command line: the commands, their options and their help."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from .._feeds.taxii import DEADLINE_FACTOR, DEFAULT_TIMEOUT, PASSWORD_VARIABLE, USER_VARIABLE
from .._matcher.matcher import ENGINES
from .._matcher.records import LIVE_LATENESS
from .._outputs import formats as output
from .._scanning.blocks import LINE_WINDOW
from .sources import BUNDLED_NAMES, DEFAULT_SOURCE, source_argument
from .status import CHECK_STATUS, COMPILE_STATUS, MAIN_STATUS, SCAN_STATUS


def parser() -> argparse.ArgumentParser:
    """``args.command`` names the command to run."""
    parser = argparse.ArgumentParser(
        prog="iocmatch", description="Find threat-intelligence indicators in logs.", epilog=MAIN_STATUS
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    parser.add_argument("--debug", action="store_true", help="on an unexpected error, print the traceback too")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    scan = commands.add_parser("scan", help="scan log files (or stdin) for indicators", epilog=SCAN_STATUS)
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
        "--events",
        metavar="SCHEMA",
        help="read lines as structured records: 'auto' (each line's schema from its fields: ECS, Sysmon, Zeek, "
        "Suricata EVE, CEF), a schema's name (zeek-conn, ecs, ...) or a mapping FILE.json; an indicator the "
        "record's schema maps is judged on its fields with STIX semantics, any other indicator and line as text; "
        "a pattern joining observations (FOLLOWEDBY, AND, REPEATS, WITHIN) over the records of every log "
        "merged in time order",
    )
    scan.add_argument(
        "--lateness",
        type=float,
        metavar="SECONDS",
        help="with --events, evaluate patterns joining observations as records are read, each waiting SECONDS for "
        "records written out of order behind it (later ones are counted, not evaluated); default for files: "
        "none, every log is read first and their records evaluated in exact time order; for stdin and --follow "
        f"{LIVE_LATENESS:g}",
    )
    scan.add_argument(
        "--follow",
        metavar="FILE",
        help="scan FILE, then each line appended to it, across rotation and truncation, until interrupted",
    )
    scan.add_argument(
        "--new-since",
        action="append",
        type=source_argument,
        metavar="SOURCE",
        help="a retro-check: scan only with the indicators of -i that SOURCE (the feed as it was; repeatable) "
        "did not have, or had matching something else; the logs given are the past to look at again",
    )
    scan.add_argument(
        "--reload",
        type=float,
        metavar="SECONDS",
        help="with --follow or stdin: check the indicators every SECONDS (-i files and folders, TAXII "
        "collections read again, or the -m file) and, when one changed or an indicator's validity began or "
        "ended, build the matcher again beside the one in use and scan on with it from the next block; each "
        "change is reported on stderr",
    )
    scan.add_argument(
        "--stats",
        action="store_true",
        help="end with a summary on stderr: lines read and scanned, hits, seconds (and the matcher file's origin)",
    )
    scan.add_argument(
        "--log-year",
        type=int,
        metavar="YEAR",
        help="the year of syslog dates, which carry none (default: the log's modification year, a date "
        "after the modification taken as of the year before)",
    )
    scan.add_argument(
        "--log-timezone",
        metavar="ZONE",
        help="the zone of log times written without one: an IANA name (Europe/Berlin) or an offset "
        "(+01:00); default UTC",
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
        "--defanged",
        action="store_true",
        help="also find values written defanged, as mail and tickets write them (hxxp://evil[.]com/a, "
        "evil[.]com, x[@]evil.com), at their place as written; with -m too",
    )
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
    scan.set_defaults(usage_error=scan.error)

    compiler = commands.add_parser(
        "compile", help="compile indicator sources once into a matcher file for scan -m", epilog=COMPILE_STATUS
    )
    _source_options(compiler)
    _matching_options(compiler)
    compiler.add_argument("-o", "--output", required=True, metavar="FILE", help="the matcher file to write")
    _common_options(compiler)

    check = commands.add_parser(
        "check",
        help="load indicator sources and print the load report, or describe a matcher file",
        epilog=CHECK_STATUS,
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
    check.set_defaults(usage_error=check.error)
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
    command.add_argument("--user", metavar="NAME", help=f"user name for TAXII sources (default ${USER_VARIABLE})")
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
        type=source_argument,
        metavar="SOURCE",
        help=f"a feed file or folder, a TAXII 2.1 collection or API root URL, or {' or '.join(BUNDLED_NAMES)} "
        f"(the bundled campaign data; repeatable; default {DEFAULT_SOURCE})",
    )


def _validity_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--as-of", metavar="ISO8601", help="reference time for indicator validity (default now)")
    command.add_argument("--ignore-validity", action="store_true", help="keep expired and not-yet-valid indicators")
    command.add_argument(
        "--at-event-time",
        action="store_true",
        help="retro-hunt: judge each log line at the time it carries, so an indicator hits only events of "
        "its valid_from..valid_until (expired and not-yet-valid ones are kept for that; revoked ones never "
        "hit); a line without a time is judged at --as-of, else now",
    )
    command.add_argument(
        "--allow-broad",
        action="store_true",
        help="keep values that hit ordinary traffic everywhere (prefixes shorter than /8 or /32, public "
        "suffixes, empty-file hashes, public DNS resolvers, system folders, one- and two-character or "
        "ubiquitous Windows file names, LIKE prefixes that fix fewer than 4 letters or digits); excluded and "
        "reported by default",
    )
    command.add_argument(
        "--ignore-ports",
        action="store_true",
        help="an address published with its port (ThreatFox ip:port, MISP ip-dst|port, maltrail ip:port) hits "
        "on any port; by default it hits only with that port on the same line",
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


class _Version(argparse.Action):
    """--version: the installed version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        import iocmatch

        print(f"iocmatch {iocmatch.__version__}")
        parser.exit()
