"""The ``iocmatch`` command: its arguments, its runs, and its exit status."""

from .command import main

__all__ = ["main"]
