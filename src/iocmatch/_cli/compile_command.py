"""``iocmatch compile``: the sources compiled once into a matcher file for ``scan -m``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .._common.errors import IocmatchError
from .._feeds.reading import FOLDER_SUFFIXES
from .._feeds.taxii import is_taxii_url
from .._matcher.file import save_matcher
from .sources import compiled, empty_source_reason, load_indicators
from .status import EXIT_MATCH


def run(args: argparse.Namespace) -> int:
    target = _matcher_target(args)
    indicators = load_indicators(args)
    reason = empty_source_reason(args, indicators.report)
    if reason:
        raise IocmatchError(reason)
    matcher = compiled(args, indicators)
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
