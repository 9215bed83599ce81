#!/usr/bin/env python3
"""iocmatch against grep, ripgrep and naive Python, side by side on one corpus.

    .venv/bin/python benchmarks/compare.py --indicators 1000,10000 --lines 200000 --repeat 3 \\
        [--iocmatch installed --iocmatch 6814274] [--write benchmarks/RESULTS.md]

For each indicator count, the corpus (benchmarks/corpus.py) is generated, or
reused from the cache (``--cache``, default ``$TMPDIR/iocmatch-bench``), and
every tool runs ``--repeat`` times, the tools taking turns so that drift in
machine speed is spread over all of them:

* ``iocmatch scan --format jsonl -i FEED LOG`` as a whole process, and on an
  empty log (load and compile only); ``iocmatch check --json -i FEED`` (load).
  ``--iocmatch`` picks the code: ``installed`` (what the venv imports) or any
  git revision, which is exported from the repository into the cache and put
  first on PYTHONPATH. Repeat it to compare revisions in one run.
* ``grep -F -f LITERALS LOG``, ``grep -iF``, and ``rg -F -f`` when installed,
  each also on an empty log (pattern compilation); under ``LC_ALL=C``.
* On the first lines of the log (a sample, scaled up to the whole log and
  marked "est."): a naive ``in`` loop, a ``re`` alternation, and stix2-matcher
  when it imports (see baselines.py).

Every run is checked against the ground truth: iocmatch must report exactly the
planted matches; grep and rg must print exactly the lines that hold a literal,
which is more than the lines with a true hit (grep knows no boundaries) and
misses hits it cannot see (upper-case hashes, addresses inside a range): both
are reported as numbers. The script exits 1 if any check fails.

Peak memory is each child's own ``ru_maxrss`` (``os.wait4``); CPU is its user
plus system time; ``× grep -F`` is the ratio of median wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import corpus as corpora

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BASELINES = HERE / "baselines.py"
DEFAULT_CACHE = Path(os.environ.get("IOCMATCH_BENCH_CACHE", Path(tempfile.gettempdir()) / "iocmatch-bench"))
GREP_ENV = {"LC_ALL": "C"}
# Work per sampled run: literal tests for naive/regex, pattern matches for stix2-matcher.
SAMPLE_WORK = 20_000_000
STIX2_MATCHER_WORK = 20_000
MIN_SAMPLE = 50
MIN_STIX2_MATCHER_SAMPLE = 10
VERDICT_LINES_PER_LABEL = 2
MIB = 1024 * 1024
LARGE_FEED = 1_000_000


# --- running and measuring ----------------------------------------------------------


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rss_mib: float
    code: int
    stdout: Path
    timed_out: bool = False


def run_process(
    argv: Sequence[str], stdout: Path, env: dict[str, str] | None = None, timeout: float | None = None
) -> Run:
    """Run to completion (or kill it after ``timeout`` seconds), stdout to a
    file: grep stops at the first match when stdout is /dev/null."""
    full_env = {**os.environ, **(env or {})}
    with stdout.open("wb") as out, stdout.with_suffix(".err").open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=out, stderr=err, env=full_env)
        # A timer kills it, so that the wait below stays a plain blocking wait4.
        killer = threading.Timer(timeout, process.kill) if timeout else None
        if killer:
            killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if killer:
            killer.cancel()
    process.returncode = code = os.waitstatus_to_exitcode(status)
    timed_out = bool(timeout) and wall >= (timeout or 0) and code < 0
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, code, stdout, timed_out)


def count_lines(path: Path) -> int:
    with path.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def warm(path: Path) -> None:
    """Read a file once so that every tool finds it in the page cache."""
    with path.open("rb") as stream:
        while stream.read(1 << 24):
            pass


# --- checks ----------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    reported: str
    expected: str
    false_positive_lines: int | None
    missed_lines: int | None
    ok: bool
    detail: str = ""


class Truth:
    """The corpus's ground truth, in the shapes the checks need."""

    def __init__(self, corpus: corpora.Corpus) -> None:
        self.summary = corpus.summary
        self.matches = Counter(corpus.truth())
        self.flags = corpus.line_flags()
        self.hit_lines = {line for line, (hit, *_) in self.flags.items() if hit}

    def literal_lines(self, ignore_case: bool, up_to: int | None = None) -> set[int]:
        column = 2 if ignore_case else 1
        return {n for n, flags in self.flags.items() if flags[column] and (up_to is None or n <= up_to)}

    def verdict_lines(self) -> list[int]:
        """A few planted lines of every label, so even a small sample sees each case."""
        taken: Counter[str] = Counter()
        chosen = []
        for number, (*_, label) in sorted(self.flags.items()):
            if taken[label] < VERDICT_LINES_PER_LABEL:
                taken[label] += 1
                chosen.append(number)
        return chosen


def check_iocmatch(truth: Truth, run: Run) -> Check:
    found: Counter[tuple[int, int, int, str]] = Counter()
    with run.stdout.open(encoding="utf-8") as stream:
        for row in stream:
            match = json.loads(row)
            found[(match["line"], match["start"], match["end"], match["value"])] += 1
    found_lines = {key[0] for key in found}
    extra, missing = found - truth.matches, truth.matches - found
    detail = ""
    if extra or missing:
        detail = f"unexpected {sorted(extra)[:5]}; missing {sorted(missing)[:5]}"
    return Check(
        reported=f"{sum(found.values())} m / {len(found_lines)} l",
        expected=f"{sum(truth.matches.values())} m / {len(truth.hit_lines)} l",
        false_positive_lines=len(found_lines - truth.hit_lines),
        missed_lines=len(truth.hit_lines - found_lines),
        ok=not extra and not missing and run.code in (0, 1),
        detail=detail,
    )


def check_grep(truth: Truth, run: Run, ignore_case: bool) -> Check:
    printed = count_lines(run.stdout)
    expected = truth.literal_lines(ignore_case)
    return Check(
        reported=f"{printed} l",
        expected=f"{len(expected)} l",
        # The printed count equals the literal lines (checked), so these come from the truth.
        false_positive_lines=len(expected - truth.hit_lines),
        missed_lines=len(truth.hit_lines - expected),
        ok=printed == len(expected) and run.code in (0, 1),
        detail="" if printed == len(expected) else f"printed {printed}, expected {len(expected)} literal lines",
    )


def check_load(truth: Truth, run: Run) -> Check:
    report = json.loads(run.stdout.read_text()) if run.code == 0 else {}
    compiled, total = report.get("compiled"), truth.summary["indicators"]
    return Check(f"{compiled} compiled", f"{total}", None, None, compiled == total and not report.get("skipped"))


def check_sample(truth: Truth, result: dict[str, Any], exact: bool) -> Check:
    """naive/regex (``exact``): the literal lines of the sample, no more, no fewer;
    stix2-matcher: no line without a true hit."""
    sample = result["lines"]
    reported = set(result["hit_lines"]) | set(result["verdict_hits"])
    looked_at = set(range(1, sample + 1)) | set(result["verdict_lines"])
    hits = truth.hit_lines & looked_at
    literal = truth.literal_lines(ignore_case=False) & looked_at
    false_positive = reported - hits
    ok = reported == literal if exact else not false_positive
    return Check(
        reported=f"{len(reported)} l",
        expected=f"{len(literal)} l" if exact else f"⊆ {len(hits)} l",
        false_positive_lines=len(false_positive),
        missed_lines=len(hits - reported),
        ok=ok,
        detail="" if ok else f"reported {sorted(reported)[:10]}",
    )


# --- tools -------------------------------------------------------------------------


@dataclass
class Measured:
    """What one tool gave over the repetitions."""

    name: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    builds: list[float] = field(default_factory=list)
    scan_rates: list[float] = field(default_factory=list)  # bytes/s of a sampled tool's own scan
    checks: list[Check] = field(default_factory=list)
    estimated: bool = False
    sample_lines: int = 0
    scans: bool = True


@dataclass
class Tool:
    name: str
    measure: Callable[[int], None]
    result: Measured


class Bench:
    """The tools for one corpus, and the runs of each."""

    def __init__(self, corpus: corpora.Corpus, truth: Truth, work: Path, timeout: float | None) -> None:
        self.corpus = corpus
        self.truth = truth
        self.work = work
        self.timeout = timeout
        self.empty = work / "empty.log"
        self.empty.write_bytes(b"")
        self.lines = truth.summary["lines"]
        self.size = truth.summary["log_bytes"]
        self.notes: list[str] = []
        self.tools: list[Tool] = []

    def out(self, name: str, repetition: int) -> Path:
        slug = "".join(c if c.isalnum() else "-" for c in name)
        return self.work / f"{slug}.{repetition}.out"

    def add(self, name: str, measure: Callable[[Measured, int], None], **fields: Any) -> None:
        result = Measured(name, **fields)
        self.tools.append(Tool(name, lambda repetition: measure(result, repetition), result))

    def add_process(
        self,
        name: str,
        argv: Callable[[Path], list[str]],
        check: Callable[[Run], Check],
        env: dict[str, str] | None = None,
    ) -> None:
        def measure(result: Measured, repetition: int) -> None:
            built = run_process(argv(self.empty), self.out(name + "-empty", repetition), env, self.timeout)
            run = run_process(argv(self.corpus.log), self.out(name, repetition), env, self.timeout)
            result.walls.append(run.wall)
            result.cpus.append(run.cpu)
            result.rss.append(run.rss_mib)
            result.builds.append(built.wall)
            result.checks.append(self.timed_out(run, built) or check(run))

        self.add(name, measure)

    def add_load(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        def measure(result: Measured, repetition: int) -> None:
            run = run_process(argv, self.out(name, repetition), env, self.timeout)
            result.walls.append(run.wall)
            result.cpus.append(run.cpu)
            result.rss.append(run.rss_mib)
            result.builds.append(run.wall)
            result.checks.append(self.timed_out(run) or check_load(self.truth, run))

        self.add(name, measure, scans=False)

    def timed_out(self, *runs: Run) -> Check | None:
        if not any(run.timed_out for run in runs):
            return None
        return Check("timed out", "–", None, None, False, f"killed after {self.timeout:g} s (--timeout)")

    def add_sample(
        self, name: str, tool: str, indicators: Path, sample: int, exact: bool, env: dict[str, str] | None = None
    ) -> None:
        verdicts = [n for n in self.truth.verdict_lines() if n > sample]
        argv = [sys.executable, str(BASELINES), tool, str(indicators), str(self.corpus.log), "--sample", str(sample)]
        if verdicts:
            argv += ["--verdicts", ",".join(map(str, verdicts))]

        def measure(result: Measured, repetition: int) -> None:
            run = run_process(argv, self.out(name, repetition), env)
            if run.code != 0:
                raise RuntimeError(f"{name} failed: {run.stdout.with_suffix('.err').read_text()[-2000:]}")
            data = json.loads(run.stdout.read_text())
            scan = max(data["scan_s"], 1e-9)
            scale = self.lines / data["lines"]
            # The sample's scan time scaled to the whole log; the rest (start-up, build) as measured.
            result.walls.append(run.wall - data["scan_s"] - data["verdict_s"] + scan * scale)
            result.cpus.append(run.cpu - data["scan_s"] - data["verdict_s"] + scan * scale)
            result.rss.append(run.rss_mib)
            result.builds.append(data["build_s"])
            result.scan_rates.append(data["bytes"] / scan)
            result.checks.append(check_sample(self.truth, data, exact))

        self.add(name, measure, estimated=True, sample_lines=sample)

    def run(self, repeat: int) -> list[Measured]:
        warm(self.corpus.log)
        for repetition in range(repeat):
            # Take turns, starting from a different tool each time.
            shift = repetition % len(self.tools)
            for tool in self.tools[shift:] + self.tools[:shift]:
                print(f"  [{repetition + 1}/{repeat}] {tool.name}", file=sys.stderr, flush=True)
                tool.measure(repetition)
        return [tool.result for tool in self.tools]


def iocmatch_env(revision: str, cache: Path) -> tuple[str, dict[str, str]]:
    """(label, environment) to run one revision of the library, its source byte-compiled."""
    if revision == "installed":
        head = _git("rev-parse", "--short", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--", "src"))
        _byte_compile(REPO / "src")
        return f"installed {head}{'+changes' if dirty else ''}", {}
    sha = _git("rev-parse", "--short", f"{revision}^{{commit}}")
    target = cache / "iocmatch-src" / sha
    if not (target / "src" / "iocmatch").is_dir():
        partial = target.with_name(sha + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", sha, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive.stdout, check=True)
        partial.rename(target)
    _byte_compile(target / "src")
    path = os.pathsep.join(filter(None, [str(target / "src"), os.environ.get("PYTHONPATH", "")]))
    env = {"PYTHONPATH": path}
    # The venv's editable install must not win over the exported revision.
    probe = [sys.executable, "-c", "import iocmatch; print(iocmatch.__file__)"]
    imported = subprocess.run(probe, capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    if not Path(imported.strip()).is_relative_to(target):
        raise RuntimeError(f"revision {sha}: iocmatch imports from {imported.strip()}, not {target}")
    return sha, env


def _byte_compile(source: Path) -> None:
    """Byte-compile ``source`` as installing a wheel does. Where
    PYTHONDONTWRITEBYTECODE is set, each run would otherwise compile every
    module of the library from its source again (about 0.12 s here)."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(source)], check=True)


def _command_module(env: dict[str, str]) -> str:
    """The module ``-m`` runs the command from: ``iocmatch``, or ``iocmatch.cli``
    in revisions from before the package ran as a program."""
    probe = [sys.executable, "-c", "import importlib.util; print(bool(importlib.util.find_spec('iocmatch.__main__')))"]
    found = subprocess.run(probe, capture_output=True, text=True, env={**os.environ, **env}, check=True).stdout
    return "iocmatch" if found.strip() == "True" else "iocmatch.cli"


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], check=True, capture_output=True, text=True).stdout.strip()


def stix2_matcher_env(extra: Path | None) -> dict[str, str] | None:
    """The environment stix2-matcher imports in, or None when it does not."""
    env = {}
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra), os.environ.get("PYTHONPATH", "")]))
    probe = subprocess.run(
        [sys.executable, "-c", "import stix2matcher.matcher"],
        capture_output=True,
        env={**os.environ, **env},
        check=False,
    )
    return env if probe.returncode == 0 else None


def plan(bench: Bench, args: argparse.Namespace) -> None:
    for revision in args.iocmatch:
        _plan_iocmatch(bench, revision, args)
    _plan_greps(bench)
    if args.python:
        _plan_python(bench, args)


def _plan_iocmatch(bench: Bench, revision: str, args: argparse.Namespace) -> None:
    label, env = iocmatch_env(revision, args.cache)
    cli = [sys.executable, "-m", _command_module(env)]
    feed, truth = str(bench.corpus.feed), bench.truth
    for engine in args.engines:
        for jobs in args.jobs:
            options = [*(["--engine", engine] if engine != "auto" else []), *(["-j", str(jobs)] if jobs > 1 else [])]
            shown = ", ".join([label, *(f"{name}" for name in (engine,) if engine != "auto"), f"-j {jobs}"])

            def argv(log: Path, options: list[str] = options) -> list[str]:
                return [*cli, "scan", "--format", "jsonl", *options, "-i", feed, str(log)]

            bench.add_process(f"iocmatch scan ({shown})", argv, lambda run: check_iocmatch(truth, run), env)
    bench.add_load(f"iocmatch check ({label})", [*cli, "check", "--json", "-i", feed], env)


def _plan_greps(bench: Bench) -> None:
    literals, truth = str(bench.corpus.literals), bench.truth
    commands = {"grep -F": ["grep", "-F"], "grep -iF": ["grep", "-iF"]}
    if shutil.which("rg"):
        commands["rg -F"] = ["rg", "--no-filename", "--no-line-number", "--no-config", "-F"]
    else:
        bench.notes.append("rg: not installed, skipped (`apt-get install -y ripgrep`).")
    for name, command in commands.items():
        ignore_case = "-iF" in command

        def argv(log: Path, command: list[str] = command) -> list[str]:
            return [*command, "-f", literals, str(log)]

        def check(run: Run, ignore_case: bool = ignore_case) -> Check:
            return check_grep(truth, run, ignore_case)

        bench.add_process(name, argv, check, GREP_ENV)


def _plan_python(bench: Bench, args: argparse.Namespace) -> None:
    corpus, n = bench.corpus, bench.truth.summary["indicators"]
    sample = min(bench.lines, max(MIN_SAMPLE, SAMPLE_WORK // n))
    bench.add_sample("python `in` loop", "naive", corpus.literals, sample, exact=True)
    if n <= args.regex_max:
        bench.add_sample("python `re` alternation", "regex", corpus.literals, sample, exact=True)
    else:
        bench.notes.append(f"python `re` alternation: skipped above {args.regex_max} indicators (`--regex-max`).")
    if not args.stix2_matcher:
        return
    if n > args.stix2_matcher_max:
        bench.notes.append(f"stix2-matcher: skipped above {args.stix2_matcher_max} indicators (`--stix2-matcher-max`).")
    elif (env := stix2_matcher_env(args.stix2_matcher_path)) is None:
        bench.notes.append("stix2-matcher: does not import, skipped (`pip install stix2-matcher`).")
    else:
        few = min(bench.lines, max(MIN_STIX2_MATCHER_SAMPLE, STIX2_MATCHER_WORK // n))
        bench.add_sample("stix2-matcher", "stix2-matcher", corpus.feed, few, exact=False, env=env)


# --- the report ----------------------------------------------------------------------


HEADER = (
    "| tool | reported | expected | FP lines | missed lines | ok | wall s | CPU s | build s "
    "| MB/s | scan MB/s | lines/s | peak MiB | × grep -F |"
)
SEPARATOR = "|---|---:|---:|---:|---:|:-:|---:|---:|---:|---:|---:|---:|---:|---:|"
LEGEND = """\
* reported / expected: iocmatch, matches (m) and lines (l) against the planted truth, exactly; grep and rg,
  lines printed against the lines that hold a literal (as written; for `-iF` ignoring case); naive Python,
  the same on its sample; stix2-matcher, the lines it flags must be among the true-hit lines (⊆).
* FP lines: lines reported without a true hit (the near misses `<domain>.au`, `x<domain>`, a hash inside
  a longer hex run, `1.2.3.4.5`). missed lines: true-hit lines not reported (for grep -F: hashes in upper
  case as Sysmon writes them, mixed-case DNS query names, addresses inside a CIDR other than its network
  address; grep -iF still misses the addresses).
* wall s: median whole-process wall time (min–max over the repetitions); CPU s: user + system time of the
  process; build s: the same command on an empty log (start-up, loading and compiling), or for the Python
  baselines the time they take to build their matcher; MB/s and lines/s: log size over the median wall time;
  scan MB/s: over the median wall minus the median build (for sampled tools, the sample's own rate).
* peak MiB: the child's maximum resident set (`ru_maxrss` from `os.wait4`). × grep -F: median wall time
  over grep -F's. est.: measured on the first lines shown and scaled to the whole log.
"""


def table(results: list[Measured], size: int, lines: int) -> list[str]:
    grep = next((r for r in results if r.name == "grep -F"), None)
    grep_wall = statistics.median(grep.walls) if grep else None
    return [HEADER, SEPARATOR, *(_row(result, size, lines, grep_wall) for result in results)]


def _row(result: Measured, size: int, lines: int, grep_wall: float | None) -> str:
    wall = statistics.median(result.walls)
    check = result.checks[0]
    ok = all(c.ok for c in result.checks) and len({c.reported for c in result.checks}) == 1
    est = " est." if result.estimated else ""
    name = result.name + (f" (first {result.sample_lines:,} lines)" if result.estimated else "")
    spread = f" ({min(result.walls):.2f}–{max(result.walls):.2f})" if len(result.walls) > 1 else ""
    rates = ["–", "–", "–"]
    ratio = "–"
    if any(c.reported == "timed out" for c in result.checks):
        spread = " (timed out)"
    elif result.scans:
        rates = [f"{size / wall / 1e6:.2f}{est}", _scan_rate(result, size), f"{lines / wall:,.0f}{est}"]
        ratio = f"{wall / grep_wall:,.1f}{est}" if grep_wall else "–"
    cells = [
        name,
        check.reported,
        check.expected,
        _num(check.false_positive_lines),
        _num(check.missed_lines),
        "✓" if ok else "✗",
        f"{wall:.2f}{est}{spread}",
        f"{statistics.median(result.cpus):.2f}{est}",
        f"{statistics.median(result.builds):.2f}",
        *rates,
        f"{max(result.rss):,.0f}",
        ratio,
    ]
    return "| " + " | ".join(cells) + " |"


def throughput_table(throughput: Throughput, sizes: list[int]) -> list[str]:
    """Whole-process MB/s and lines/s of every tool (exact or checked, not sampled) by feed size."""
    tools = list(dict.fromkeys(tool for tool, _ in throughput))
    head = "| tool | " + " | ".join(f"{size:,} indicators" for size in sizes) + " |"
    rows = [head, "|---|" + "---:|" * len(sizes)]
    for tool in tools:
        cells = []
        for size in sizes:
            rate = throughput.get((tool, size))
            cells.append(f"{rate[0]:.1f} MB/s, {rate[1] / 1e3:,.0f}k lines/s" if rate else "–")
        rows.append(f"| {tool} | " + " | ".join(cells) + " |")
    return ["### Throughput by feed size (whole process, median wall time)", "", *rows, ""]


def throughput_chart(throughput: Throughput, sizes: list[int]) -> list[str]:
    """The same as a line chart (Mermaid, drawn where Markdown renders it): MB/s against feed size."""
    tools = list(dict.fromkeys(tool for tool, _ in throughput))
    top = max((rate[0] for rate in throughput.values()), default=1.0)
    lines = [
        "```mermaid",
        "xychart-beta",
        '    title "Whole-process MB/s by indicator count"',
        "    x-axis [" + ", ".join(f'"{size:,}"' for size in sizes) + "]",
        f'    y-axis "MB/s" 0 --> {top * 1.1:.0f}',
    ]
    for tool in tools:
        values = [throughput.get((tool, size), (0.0, 0.0))[0] for size in sizes]
        lines.append("    line [" + ", ".join(f"{value:.1f}" for value in values) + "]")
    legend = [f"{number}. {tool}" for number, tool in enumerate(tools, 1)]
    return [*lines, "```", "", "Lines, in the order drawn: " + "; ".join(legend) + ".", ""]


def _scan_rate(result: Measured, size: int) -> str:
    """MB/s of the scan alone: a sample's own rate, else the log over wall minus build."""
    if result.scan_rates:
        return f"{statistics.median(result.scan_rates) / 1e6:.2f}"
    scan = statistics.median(result.walls) - statistics.median(result.builds)
    # Below 10 ms the difference is noise.
    return f"{size / scan / 1e6:.2f}" if scan > 0.01 else "–"


def _num(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def describe(summary: dict[str, Any]) -> list[str]:
    kinds = summary["kinds"]
    planted = summary["planted"]
    misses = sum(count for label, count in planted.items() if label in MISS_LABELS)
    return [
        f"### {summary['indicators']:,} indicators, {summary['lines']:,} lines ({summary['log_bytes'] / 1e6:.1f} MB)",
        "",
        (
            f"Feed: {kinds['domain']:,} domains, {kinds['sha256']:,} SHA-256, {kinds['md5']:,} MD5, "
            f"{kinds['ipv4']:,} IPv4 addresses, {kinds['cidr']:,} IPv4 CIDRs. Planted: {summary['matches']:,} true "
            f"matches on {summary['hit_lines']:,} lines, {misses:,} near-miss lines; lines holding a literal: "
            f"{summary['literal_lines_cs']:,} as written, {summary['literal_lines_ci']:,} ignoring case. "
            f"Seed {summary['seed']}."
        ),
        "",
    ]


MISS_LABELS = frozenset(
    ("domain_au", "domain_prefixed", "hash_in_longer_run", "address_with_fifth_part", "address_outside_range")
)


def host() -> str:
    """The report's line naming the machine: cores, CPU, memory, system."""
    cpu = next(
        (
            row.split(":", 1)[1].strip()
            for row in Path("/proc/cpuinfo").read_text().splitlines()
            if row.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    system = platform.platform(terse=True)
    return f"* machine: `nproc` = {os.cpu_count()}, CPU `{cpu}`, {_memory_gib():.0f} GiB, {system}"


def machine(args: argparse.Namespace, argv: Sequence[str]) -> list[str]:
    versions = [_first_line(["grep", "--version"]), _first_line(["rg", "--version"]) if shutil.which("rg") else ""]
    command = " ".join(shlex.quote(part) for part in [".venv/bin/python", "benchmarks/compare.py", *argv])
    return [
        f"* date: {args.started.strftime('%Y-%m-%d %H:%M UTC')}",
        host(),
        f"* Python {platform.python_version()}; {'; '.join(filter(None, versions))}; grep and rg under `LC_ALL=C`",
        f"* iocmatch revisions: {', '.join(args.iocmatch)} (repository HEAD at the start: {args.head})",
        f"* command: `{command}`",
        "",
    ]


def _first_line(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.splitlines()[0]


def _memory_gib() -> float:
    for row in Path("/proc/meminfo").read_text().splitlines():
        if row.startswith("MemTotal:"):
            return int(row.split()[1]) / 1024 / 1024
    return 0.0


# --- main ----------------------------------------------------------------------------


def counts(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--indicators", type=counts, default=[1000, 10000], help="indicator counts (default 1000,10000)"
    )
    parser.add_argument("--lines", type=lambda s: int(float(s)), default=100_000, help="log lines (default 100000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of every tool (default 3)")
    parser.add_argument(
        "--repeat-large",
        type=int,
        help=f"runs of every tool for feeds of {LARGE_FEED:,} indicators or more, where one run of all "
        "the tools takes many minutes (default: --repeat)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hit-rate", type=float, default=0.005, help="share of lines with a planted true hit")
    parser.add_argument("--miss-rate", type=float, default=0.005, help="share of lines with a planted near miss")
    parser.add_argument(
        "--iocmatch",
        action="append",
        metavar="REVISION",
        help="'installed' (default) or a git revision; repeat to compare several",
    )
    parser.add_argument(
        "--engines",
        type=lambda text: text.split(","),
        default=["auto"],
        help="iocmatch --engine values to run, comma-separated (default auto)",
    )
    parser.add_argument(
        "--jobs", type=counts, default=[1], help="iocmatch -j values to run, comma-separated (default 1)"
    )
    parser.add_argument("--no-python", dest="python", action="store_false", help="leave out the Python baselines")
    parser.add_argument("--regex-max", type=int, default=100_000, help="largest feed for the re alternation")
    parser.add_argument("--stix2-matcher-max", type=int, default=10_000, help="largest feed for stix2-matcher")
    parser.add_argument("--no-stix2-matcher", dest="stix2_matcher", action="store_false")
    parser.add_argument(
        "--stix2-matcher-path",
        type=Path,
        metavar="DIR",
        help="where stix2-matcher is installed, if not in the venv (pip install --target DIR stix2-matcher)",
    )
    parser.add_argument("--timeout", type=float, help="kill any one process after this many seconds")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"corpus cache (default {DEFAULT_CACHE})")
    parser.add_argument("--write", type=Path, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    args.started = datetime.now(timezone.utc)
    args.head = _git("rev-parse", "--short", "HEAD")
    # Resolved once: HEAD may move while the benchmark runs.
    revisions = args.iocmatch or ["installed"]
    args.iocmatch = [r if r == "installed" else _git("rev-parse", "--short", f"{r}^{{commit}}") for r in revisions]
    return args


Throughput = dict[tuple[str, int], tuple[float, float]]  # (tool, indicators) -> (MB/s, lines/s)


def bench_one(args: argparse.Namespace, indicators: int, throughput: Throughput) -> tuple[list[str], list[str]]:
    """(Markdown, failures) for one feed size; whole-process rates go to ``throughput``."""
    started = time.perf_counter()
    corpus = corpora.ensure(args.cache, indicators, args.lines, args.seed, args.hit_rate, args.miss_rate)
    print(f"corpus {corpus.directory} ({time.perf_counter() - started:.1f} s)", file=sys.stderr)
    truth = Truth(corpus)
    with tempfile.TemporaryDirectory(prefix="run-", dir=args.cache) as work:
        bench = Bench(corpus, truth, Path(work), args.timeout)
        plan(bench, args)
        repeat = args.repeat_large if args.repeat_large and indicators >= LARGE_FEED else args.repeat
        results = bench.run(repeat)
    summary = truth.summary
    for result in results:
        if result.scans and not result.estimated and all(c.ok for c in result.checks):
            wall = statistics.median(result.walls)
            throughput[result.name, indicators] = (summary["log_bytes"] / wall / 1e6, summary["lines"] / wall)
    runs = f"Each tool ran {repeat} times; times are medians." if repeat > 1 else "Each tool ran once."
    text = [*describe(summary), runs, "", *table(results, summary["log_bytes"], summary["lines"]), ""]
    text += [f"* {note}" for note in bench.notes] + ([""] if bench.notes else [])
    failures = [
        f"{summary['indicators']} indicators, {result.name}: {check.detail or check.reported}"
        for result in results
        for check in result.checks
        if not check.ok
    ]
    return text, failures


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    sections: list[str] = []
    failures: list[str] = []
    throughput: Throughput = {}
    for indicators in args.indicators:
        text, failed = bench_one(args, indicators, throughput)
        sections += text
        failures += failed
        print("\n".join(text), flush=True)
    overview = throughput_table(throughput, args.indicators) + throughput_chart(throughput, args.indicators)
    print("\n".join(overview), flush=True)
    report = ["## Measured", "", *machine(args, argv), *overview, LEGEND, *sections]
    if args.write:
        args.write.write_text("\n".join(report) + "\n", encoding="utf-8")
    for failure in failures:
        print(f"CHECK FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
