"""DESIGN.md's map names every module of the package, under its own folder."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "iocmatch"


def _map_rows() -> dict[str, set[str]]:
    """Folder ('' for the package itself) -> the module names its rows hold."""
    design = (ROOT / "DESIGN.md").read_text(encoding="utf-8")
    table = design[design.index("## The map") : design.index("\n## ", design.index("## The map") + 1)]
    rows: dict[str, set[str]] = {"": set()}
    folder = ""
    for line in table.splitlines():
        heading = re.match(r"\| \*\*`(\w+)/`\*\*", line)
        if heading:
            folder = heading.group(1)
            rows[folder] = set()
        elif line.startswith("| `"):
            first_cell = line.split("|")[1]
            rows[folder].update(re.findall(r"`([\w.]+\.py)`", first_cell))
    return rows


def test_every_module_is_in_the_map_under_its_folder() -> None:
    rows = _map_rows()
    missing = []
    for module in sorted(PACKAGE.rglob("*.py")):
        folder = "" if module.parent == PACKAGE else module.parent.name
        if module.name == "__init__.py" and folder:
            continue  # a folder's own row says what flows through it
        if module.name not in rows.get(folder, set()):
            missing.append(str(module.relative_to(PACKAGE)))
    assert missing == []


def test_the_map_names_no_module_that_is_gone() -> None:
    gone = [
        f"{folder}/{name}" if folder else name
        for folder, names in _map_rows().items()
        for name in names
        if not (PACKAGE / folder / name).is_file()
    ]
    assert gone == []
