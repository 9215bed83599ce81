#!/usr/bin/env python3
"""Long lines: time and peak memory of scanning a line of gigabytes.

    .venv/bin/python benchmarks/long_lines.py [--gib 2] [--engines hyperscan,tokens,aho-corasick]

Writes a gzip file holding a hit line, one line of ``--gib`` GiB without a
newline (with a hit at its very end), and a last hit line; it is a few MB,
as gzip members of one compressed MiB are joined. Each engine scans it as a
file and from stdin; then ``--follow`` and ``--json`` read a 100 MB line
from a plain file. Every run must report exactly the planted hits (ground
truth: line, offset, text); the run fails (exit 1) otherwise. Wall time and
the child's peak resident memory (``VmHWM``) are printed as JSON lines,
beside a scan of a one-line log for the memory every scan starts with.
"""

from __future__ import annotations

import argparse
import gzip
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO

MIB = 1 << 20
FEED = {
    "type": "bundle",
    "id": "bundle--00000000-0000-4000-8000-000000000000",
    "objects": [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-00000000000{number}",
            "created": "2020-01-01T00:00:00.000Z",
            "modified": "2020-01-01T00:00:00.000Z",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2020-01-01T00:00:00.000Z",
        }
        for number, pattern in enumerate(
            ["[domain-name:value = 'evil.example']", "[ipv4-addr:value = '198.51.100.0/24']"], 1
        )
    ],
}
# The peak of this process's own memory (VmHWM, KiB): ru_maxrss would count
# the parent's memory at the fork before exec.
PEAK = """
import runpy, sys
sys.argv = ["iocmatch", *sys.argv[1:]]
try:
    runpy.run_module("iocmatch", run_name="__main__")
finally:
    peak = next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    print("peak", peak, file=sys.stderr)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=2.0, help="size of the long line in GiB (default 2)")
    parser.add_argument("--engines", default="hyperscan,tokens,aho-corasick")
    args = parser.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        feed = folder / "feed.json"
        feed.write_text(json.dumps(FEED))
        long_gz, truth = _long_gzip(folder / "long.log.gz", int(args.gib * 1024))
        plain, plain_truth = _plain_long_line(folder / "long100.log", 100 * MIB)
        small = folder / "small.log"
        small.write_bytes(b"GET evil.example\n")
        for engine in args.engines.split(","):
            base = ["scan", "--format", "jsonl", "--engine", engine, "-i", str(feed)]
            ok &= _report("baseline", engine, *_run([*base, str(small)]), [(1, 4, "evil.example")])
            ok &= _report("gzip file", engine, *_run([*base, str(long_gz)]), truth)
            with long_gz.open("rb") as stdin:
                ok &= _report("gzip stdin", engine, *_run([*base, "-"], stdin=stdin), truth)
        base = ["scan", "--format", "jsonl", "-i", str(feed)]
        ok &= _report("--json", "auto", *_run([*base, "--json", str(plain)]), plain_truth)
        ok &= _report("--follow", "auto", *_follow([*base, "--follow", str(plain)], len(plain_truth)), plain_truth)
    return 0 if ok else 1


def _long_gzip(path: Path, mebibytes: int) -> tuple[Path, list[tuple[int, int, str]]]:
    one = gzip.compress(b"A" * MIB, compresslevel=9)
    with path.open("wb") as out:
        out.write(gzip.compress(b"first GET http://evil.example/ 200\n"))
        for _ in range(mebibytes):
            out.write(one)
        out.write(gzip.compress(b" 198.51.100.1\nlast 198.51.100.7 evil.example\n"))
    line = mebibytes * MIB
    truth = [(1, 17, "evil.example"), (2, line + 1, "198.51.100.1"), (3, 5, "198.51.100.7"), (3, 18, "evil.example")]
    return path, truth


def _plain_long_line(path: Path, size: int) -> tuple[Path, list[tuple[int, int, str]]]:
    with path.open("wb") as out:
        out.write(b"GET evil.example\n")
        for _ in range(size // MIB):
            out.write(b"x" * MIB)
        out.write(b" 198.51.100.7\nlast evil.example\n")
    return path, [(1, 4, "evil.example"), (2, size + 1, "198.51.100.7"), (3, 5, "evil.example")]


def _run(arguments: list[str], stdin: IO[bytes] | None = None) -> tuple[list[tuple[int, int, str]], float, float]:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PEAK, *arguments], stdin=stdin, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    return _hits(result.stdout), seconds, _peak(result.stderr)


def _follow(arguments: list[str], expected: int) -> tuple[list[tuple[int, int, str]], float, float]:
    """Follow until the expected hits are out, then stop it as a user would."""
    started = time.perf_counter()
    command = [sys.executable, "-c", PEAK, *arguments]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout is not None
        lines = [child.stdout.readline() for _ in range(expected)]
        seconds = time.perf_counter() - started
        child.send_signal(signal.SIGINT)
        rest, err = child.communicate(timeout=120)
    return _hits(b"".join(lines) + rest), seconds, _peak(err)


def _hits(out: bytes) -> list[tuple[int, int, str]]:
    return [(r["line"], r["start"], r["text"]) for r in map(json.loads, out.decode().splitlines())]


def _peak(err: bytes) -> float:
    last = err.decode().strip().splitlines()[-1:] or ["peak 0"]
    return int(last[0].split()[1]) / 1024


def _report(path: str, engine: str, found: list[tuple[int, int, str]], seconds: float, peak: float,
            truth: list[tuple[int, int, str]]) -> bool:  # fmt: skip
    exact = found == truth
    print(json.dumps({"path": path, "engine": engine, "seconds": round(seconds, 2), "peak_mib": round(peak, 1),
                      "exact": exact}))  # fmt: skip
    return exact


if __name__ == "__main__":
    sys.exit(main())
