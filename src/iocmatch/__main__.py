"""``python -m iocmatch``: the command, where no script is on the PATH."""

from ._cli import main

raise SystemExit(main())
