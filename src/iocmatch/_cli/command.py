"""The ``iocmatch`` command: ``scan`` logs, ``check`` feeds, ``compile`` a
matcher file. The exit status is promised in ``status``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .._scanning.stopping import interrupted_on_signals
from . import check_command, compile_command, scan_command
from .arguments import parser
from .status import EXIT_ERROR, fail, status_of

_RUNS = {"scan": scan_command.run, "check": check_command.run, "compile": compile_command.run}


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if sys.stdout is None:  # closed (>&-): no report, no hit could be written
        fail("stdout is closed")
        return EXIT_ERROR
    with interrupted_on_signals():
        return status_of(lambda: _RUNS[args.command](args), args.debug)
