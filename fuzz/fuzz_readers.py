"""Fuzz the indicator readers (STIX 2 JSON, STIX 1 XML, CSV, text lists) and the loader.

    .venv/bin/python fuzz/fuzz_readers.py -max_total_time=600 fuzz/seeds/readers

Any input must either load, with every object accounted for in the report,
or raise SourceError (a source that cannot be read at all). Anything else is
a crash: libFuzzer stops and writes the input to crash-*.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    import iocmatch
    from iocmatch._common.errors import SourceError
    from iocmatch._feeds.reading import read_bytes


def test_one_input(data: bytes) -> None:
    try:
        objects = read_bytes(data, "<fuzz>")
    except SourceError:
        return
    report = iocmatch.load(objects, ignore_validity=True).report
    if report.read != report.compiled + report.skipped + report.excluded:
        raise AssertionError(f"the report does not add up: {report}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
