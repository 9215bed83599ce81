"""A matcher file given with ``-m``: loaded, refused when too old or empty,
and described (when and from what it was compiled)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta, timezone

from .._common.errors import IocmatchError
from .._common.model import Origin
from .._matcher.file import load_matcher
from .._matcher.matcher import Matcher
from . import values

# Options that shape a compiled matcher, so a matcher file has them already.
_COMPILE_CHOICES = {
    "as_of": "--as-of",
    "ignore_validity": "--ignore-validity",
    "at_event_time": "--at-event-time",
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
    "ignore_ports": "--ignore-ports",
}


def check_matcher_usage(args: argparse.Namespace) -> None:
    """-m with an option a compiled matcher already holds is a usage error (exit 2)."""
    given = [option for name, option in _COMPILE_CHOICES.items() if getattr(args, name, None)]
    if args.matcher and given:
        args.usage_error(
            f"argument -m/--matcher: not allowed with {', '.join(given)} (chosen when the matcher was compiled)"
        )
    if args.max_age and not args.matcher:
        args.usage_error("argument --max-age: applies to a matcher file (-m) only")


def matcher_file(args: argparse.Namespace) -> Matcher:
    """The matcher file, every table checked (a damaged one is refused before
    anything is written), refused when older than --max-age."""
    matcher = load_matcher(args.matcher, check_all=True)
    if args.max_age:
        limit = values.duration(args.max_age)
        age = matcher.origin.age(datetime.now(timezone.utc))
        if age > limit:
            raise IocmatchError(
                f"{args.matcher}: compiled {_ago(age)} ({matcher.origin.compiled_at:%Y-%m-%d %H:%M} UTC), "
                f"longer ago than --max-age {args.max_age}: compile it again"
            )
    return matcher


def refuse_empty_matcher(args: argparse.Namespace, matcher: Matcher) -> None:
    if matcher.indicator_count or args.allow_empty:
        return
    raise IocmatchError(f"{args.matcher}: holds no live indicator; --allow-empty to go on with none")


def note_expired(name: str, origin: Origin, now: datetime) -> None:
    """Validity was judged when compiling: say when indicators have expired since."""
    if origin.ignore_validity or origin.as_of_given or origin.at_event_time:
        return  # the user chose the time validity is judged at
    expired = origin.expired(now)
    if expired:
        print(
            f"iocmatch: {name}: {expired} of its {origin.indicators} indicators have expired since it was "
            "compiled (valid_until passed) and still hit: compile it again to drop them",
            file=sys.stderr,
        )


def origin_text(name: str, matcher: Matcher, now: datetime) -> str:
    origin = matcher.origin
    validity = "validity ignored" if origin.ignore_validity else f"validity as of {origin.as_of:%Y-%m-%d %H:%M} UTC"
    if origin.at_event_time:
        undated = f"{origin.as_of:%Y-%m-%d %H:%M} UTC" if origin.as_of_given else "the time of the scan"
        validity = f"validity at each line's time (lines without one: {undated})"
    lines = [
        (
            f"{name}: compiled {origin.compiled_at:%Y-%m-%d %H:%M:%S} UTC ({_ago(origin.age(now))}), "
            f"{origin.indicators} indicators, {matcher.atom_count} distinct values, engine {matcher.engine}, {validity}"
        ),
        f"  from {len(origin.sources)} sources, digest {origin.digest}",
    ]
    lines += [f"  {label}: sha256 {digest or 'unknown'}" for label, digest in origin.sources]
    expired = 0 if origin.at_event_time else origin.expired(now)
    if expired:
        lines.append(f"  {expired} indicators have expired since (valid_until passed)")
    return "\n".join(lines)


def _ago(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds} seconds ago"
