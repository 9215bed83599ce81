"""What a scan went through: counts a caller can pass to the scanning
methods and read afterwards."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class ScanStats:
    """Counts of one scan; every scanning method that takes ``stats`` adds to it.

    ``lines_scanned`` counts lines the matcher looked at: all lines read,
    except JSON objects holding none of the selected fields. ``not_text``
    counts items of ``Matcher.scan`` that were no text (None, a number) and
    were skipped. ``long_lines`` counts lines longer than the line window,
    scanned in windows; ``unresolved`` the occurrences of AND-clause values on
    such lines that were reported before their line ended (past the cap on
    what a line may hold back), so an indicator whose clause completed later
    in the line may be missing from them. ``json_as_text`` counts JSON events
    longer than the line window, scanned as plain text (field selection and
    JSON escapes did not apply to them).
    """

    lines_read: int = 0
    lines_scanned: int = 0
    hits: int = 0
    hit_lines: int = 0
    not_text: int = 0
    long_lines: int = 0
    unresolved: int = 0
    json_as_text: int = 0

    def summary(self, seconds: float) -> str:
        extra = ""
        if self.long_lines:
            extra += f", {self.long_lines} lines longer than the line window scanned in windows"
        if self.not_text:
            extra += f", {self.not_text} items that were not text skipped"
        if self.json_as_text:
            extra += f", {self.json_as_text} JSON events longer than the line window scanned as text"
        if self.unresolved:
            extra += f", {self.unresolved} AND-clause values on long lines left unreported"
        return (
            f"iocmatch: {self.lines_read} lines read, {self.lines_scanned} scanned, "
            f"{self.hits} hits on {self.hit_lines} lines{extra}, {seconds:.2f} s"
        )
