"""The exit status, a promise: 0 something matched; 1 everything asked for
was searched, with at least one live indicator, and nothing matched; 2
anything else (an input that could not be read, a feed with no live
indicator, a file cut short by a stop, a bug). A failure is one line on
stderr; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
import zlib
from collections.abc import Callable

from .._common.errors import IocmatchError
from .._scanning.stopping import Interrupted
from .scan_run import OutputError

EXIT_MATCH, EXIT_NO_MATCH, EXIT_ERROR = 0, 1, 2

# What each status means, for --help.
MAIN_STATUS = (
    "exit status: 0 scan found a hit, or check or compile succeeded; 1 scan searched every input whole, with at "
    "least one live indicator, and nothing matched; 2 anything else (an error, no live indicator, a source that "
    "gave nothing, an input a stop cut short). See 'iocmatch COMMAND --help'."
)
SCAN_STATUS = (
    "exit status: 0 something matched; 1 every input was searched whole, as asked, with at least one live "
    "indicator, and nothing matched; 2 anything else: an input or feed that could not be read, no live indicator, "
    "a source that gave nothing, an input a stop cut short, a usage error, a bug."
)
CHECK_STATUS = (
    "exit status: 0 the sources give live indicators, or the matcher file holds some (with --allow-empty, even "
    "none); 2 anything else: a source that could not be read or gave nothing, a refused matcher file, a usage "
    "error, a bug. Never 1."
)
COMPILE_STATUS = (
    "exit status: 0 the matcher file was written; 2 anything else: a source that could not be read or gave "
    "nothing, no live indicator, a target refused, a usage error, a bug. Never 1."
)


def status_of(run: Callable[[], int], debug: bool) -> int:
    """Run a command: its own status, or 2 with one line on stderr for any failure."""
    try:
        return int(run())
    except OutputError as exc:
        fail(str(exc))
        quiet_stdout()  # what is still buffered cannot be written either
    except IocmatchError as exc:
        fail(str(exc))
    except BrokenPipeError:
        quiet_stdout()  # the reader went away (| head): nothing more to say
    except OSError as exc:
        fail(_os_error(exc))
    except (EOFError, zlib.error) as exc:
        fail(f"compressed input is damaged: {exc}")
    except (KeyboardInterrupt, Interrupted) as exc:
        if isinstance(exc, Interrupted) and exc.again:
            fail(f"stopped at once by a second {exc.name}: the output may be incomplete")
        else:
            name = exc.name if isinstance(exc, Interrupted) else "SIGINT"
            fail(f"stopped by {name} before scanning finished")
    except Exception as exc:  # noqa: BLE001 - the exit status promise: every failure is one line and exit 2
        fail(f"internal error: {type(exc).__name__}: {_one_line(str(exc))} (run with --debug for the traceback)")
        if debug:
            traceback.print_exc()
    return EXIT_ERROR


def fail(message: str) -> None:
    """One line on stderr: ``iocmatch: error: ...``."""
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


def quiet_stdout() -> None:
    """Point stdout at /dev/null, so that flushing it at exit raises nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
