#!/usr/bin/env python3
"""Soak: scan a multi-GB stream from a pipe and check that memory stays flat.

    .venv/bin/python benchmarks/soak.py --gib 4 [--engine tokens]

A 1 MiB block of log lines (the generator of benchmarks/corpus.py, with a
known number of planted hits) is written again and again into
``iocmatch scan -`` through a pipe. The child's resident memory is sampled
every 0.2 s from /proc. The run fails (exit 1) unless every planted hit is
reported and the peak after the first tenth of the stream is within
``--slack`` MiB of the peak during it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import corpus as corpora

MIB = 1 << 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gib", type=float, default=4.0, help="stream size in GiB (default 4)")
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--slack", type=float, default=32.0, help="allowed growth in MiB after the first tenth")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        made = corpora.build(Path(work), 10_000, 6_000, seed=3, hit_rate=0.02, miss_rate=0.02)
        block = _one_mib_of_lines(made.log.read_bytes())
        per_block = _planted_in(made, block)
        blocks = int(args.gib * 1024)
        command = [sys.executable, "-m", "iocmatch", "scan", "--format", "jsonl", "--engine", args.engine]
        child = subprocess.Popen([*command, "-i", str(made.feed), "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        samples: list[tuple[float, int]] = []
        written = [0.0]
        threading.Thread(target=_feed, args=(child, block, blocks, written), daemon=True).start()
        threading.Thread(target=_sample, args=(child, samples, written), daemon=True).start()
        started = time.perf_counter()
        assert child.stdout is not None
        reported = sum(1 for _ in child.stdout)
        child.wait()
        seconds = time.perf_counter() - started
    tenth = [rss for done, rss in samples if done <= 0.1]
    rest = [rss for done, rss in samples if done > 0.1]
    expected = per_block * blocks
    early, late = max(tenth, default=0) / MIB, max(rest, default=0) / MIB
    print(
        json.dumps(
            {
                "gib": args.gib,
                "engine": args.engine,
                "seconds": round(seconds, 1),
                "mb_per_s": round(blocks * MIB / seconds / 1e6, 1),
                "matches": reported,
                "expected": expected,
                "peak_first_tenth_mib": round(early, 1),
                "peak_after_mib": round(late, 1),
                "samples": len(samples),
            }
        )
    )
    return 0 if reported == expected and late - early <= args.slack else 1


def _one_mib_of_lines(log: bytes) -> bytes:
    """Whole lines of the generated log, repeated up to about 1 MiB."""
    block = b""
    while len(block) < MIB:
        block += log
    return block[: block.rfind(b"\n", 0, MIB) + 1]


def _planted_in(made: corpora.Corpus, block: bytes) -> int:
    """Planted matches in ``block``: the truth of the lines it holds."""
    lines = made.log.read_bytes().count(b"\n")
    whole, rest = divmod(block.count(b"\n"), lines)
    truth = made.truth()
    return whole * len(truth) + sum(1 for entry in truth if entry[0] <= rest)


def _feed(child: subprocess.Popen[bytes], block: bytes, blocks: int, written: list[float]) -> None:
    assert child.stdin is not None
    for number in range(blocks):
        child.stdin.write(block)
        written[0] = (number + 1) / blocks
    child.stdin.close()


def _sample(child: subprocess.Popen[bytes], samples: list[tuple[float, int]], written: list[float]) -> None:
    status = Path(f"/proc/{child.pid}/status")
    while child.poll() is None:
        try:
            rss = next(int(row.split()[1]) * 1024 for row in status.read_text().splitlines() if row.startswith("VmRSS"))
        except (OSError, StopIteration):
            return
        samples.append((written[0], rss))
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
