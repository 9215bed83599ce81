"""File paths in feeds: split into the name and folder STIX 2 compares."""

from __future__ import annotations

import re

from .._common.errors import PatternError
from .._common.model import DIRECTORY, FILE_NAME, Clause
from .._patterns.canonical import canonical_value
from .._patterns.values import atom
from . import stix2_build as build

# Logs show these expanded (C:\\Users\\bob\\...), so they cannot be matched as written.
_VARIABLE = re.compile(r"%[^%\\/\s]+%|\$env:\w+|\$\{\w+\}|\A~[\\/]", re.IGNORECASE)


def refuse_variables(path: str) -> None:
    if _VARIABLE.search(path):
        raise PatternError(
            f"'{path}' holds an environment variable: logs show it expanded, so it cannot be matched as written"
        )


def split_path(path: str) -> tuple[str, str, str]:
    """(folder, separator, name); the root keeps its separator (``C:\\``, ``/``)."""
    cut = max(path.rfind("\\"), path.rfind("/"))
    if cut < 0:
        return "", "", path
    folder = path[:cut]
    if folder.endswith(":") or not folder:
        folder = path[: cut + 1]
    return folder, path[cut], path[cut + 1 :]


def name_in_folder(name: str, folder: str) -> str:
    """``[file:name = name AND file:parent_directory_ref.path = folder]``: both on one line."""
    return build.all_of(
        [
            build.comparison(FILE_NAME, canonical_value(FILE_NAME, name)),
            build.comparison(DIRECTORY, canonical_value(DIRECTORY, folder), "file:parent_directory_ref.path"),
        ]
    )


def name_in_folder_clause(name: str, folder: str) -> Clause:
    """The clause ``name_in_folder(name, folder)`` compiles to, built without writing it."""
    return frozenset(
        (
            atom(FILE_NAME, canonical_value(FILE_NAME, name)),
            atom(DIRECTORY, canonical_value(DIRECTORY, folder)),
        )
    )


def folder_only(folder: str) -> str:
    return build.pattern_for(DIRECTORY, canonical_value(DIRECTORY, folder.rstrip("\\/") or folder))
