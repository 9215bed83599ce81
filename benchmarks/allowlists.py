#!/usr/bin/env python3
"""Loading a real feed with six real MISP warninglists, and without them, side by side.

    .venv/bin/python benchmarks/allowlists.py [--repeat 3] [--previous /tmp/old/allowlists.py]

The feed is every maltrail "suspicious" trail list and the URLs of the URLhaus
export (about 71,000 indicators read) from ``../shared/corpus/feeds``; the
lists are six real warninglists of every type (``LISTS``). The runs take turns
in this process, ``--repeat`` times each:

* ``iocmatch.load(*feed)``: no allowlist;
* ``iocmatch.load(*feed, allowlists=[...])``: the six lists (read, indexed
  and applied: all of it is in the time);
* with ``--previous PATH``, the same load with another implementation of
  ``iocmatch/allowlists.py`` (a copy of an earlier revision's), imported as a
  module of iocmatch and put in the loader's place for that run. An earlier
  revision walked every list for every value and took minutes, so it runs
  ``--previous-repeat`` times (default once), after the others.

Ground truth: every value the feed loads as is checked against every list by
a plain walk of its entries in list order, written here and sharing no code
with the library: ``list.index`` for ``string``, ``str.endswith`` over a tuple
for ``hostname``, ``str.find`` of each entry over all the values for
``substring``, a numpy comparison with every range for ``cidr``, Python's
``re`` for ``regex``. The indicators each run excludes as allowlisted, and the
list and entry each reason names, must be exactly those; the script exits 1
otherwise.

Also printed: each list's build and lookup time over all the values, and the
regex lists as one RE2 set against a loop of RE2 searches (same verdicts).
"""

from __future__ import annotations

import argparse
import bisect
import csv
import gc
import importlib.util
import ipaddress
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import re2

import iocmatch
import iocmatch._indicators.loader
from iocmatch import parse_allowlist, read_allowlist
from iocmatch._common.model import DOMAIN, EMAIL, HASH_KINDS, IPV4, IPV6, URL, Atom
from iocmatch._indicators.allowlists import host_of

REPO = Path(__file__).resolve().parent.parent
FEEDS = REPO.parent / "shared" / "corpus" / "feeds"
LISTS = [  # folders under misp-warninglists/lists, applied in this order
    "vpn-ipv4",  # cidr, 42,426
    "dynamic-dns",  # hostname, 35,467
    "cisco_top10k",  # string, 10,000
    "disposable-email",  # substring, 8,201
    "phone_numbers",  # regex, 33
    "common-contact-emails",  # regex, 1
]
CASELESS = {DOMAIN, EMAIL, IPV4, IPV6, URL, *HASH_KINDS}
Verdicts = dict[Atom, tuple[str, str, str]]  # atom -> the list holding it: name, type, entry named


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each load without and with the lists")
    parser.add_argument("--previous", type=Path, help="an earlier allowlists.py to time in the loader's place")
    parser.add_argument("--previous-repeat", type=int, default=1)
    args = parser.parse_args()
    if args.repeat < 1 or args.previous_repeat < 1:
        parser.error("--repeat and --previous-repeat take 1 or more")
    if not FEEDS.is_dir():
        print(f"the real feeds are not beside the project ({FEEDS} is missing)", file=sys.stderr)
        return 2
    lists = [FEEDS / "misp-warninglists" / "lists" / name / "list.json" for name in LISTS]
    with tempfile.TemporaryDirectory() as work:
        feed = _feed(Path(work))
        return _compare(feed, lists, args)


def _feed(work: Path) -> list[Path]:
    """The maltrail trail lists, and URLhaus's URL column as a text list (the export's own CSV header is bare)."""
    with (FEEDS / "abusech-urlhaus" / "urlhaus.csv").open(encoding="utf-8", newline="") as rows:
        urls = [row["url"] for row in csv.DictReader(rows)]
    listed = work / "urlhaus-urls.txt"
    listed.write_text("\n".join(urls) + "\n", encoding="utf-8")
    return [*sorted((FEEDS / "maltrail-suspicious").glob("*.txt")), listed]


def _compare(feed: list[Path], lists: list[Path], args: argparse.Namespace) -> int:
    print(f"# Allowlists: {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    plain = iocmatch.load(*feed)
    atoms = _atoms(plain)
    print(f"feed: {plain.report.read:,} indicators read, {plain.report.compiled:,} loaded ({len(atoms):,} values)")
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in lists]
    for folder, document in zip(LISTS, documents, strict=True):
        print(f"  {folder} ({document['name']!r}): {document['type']}, {len(document['list']):,} entries")

    started = time.perf_counter()
    truth = _ground_truth(documents, atoms)
    walked = time.perf_counter() - started
    print(f"ground truth (a plain walk of every list for every value): {len(truth):,} values held, {walked:.1f} s")
    expected = Expected(_exclusions(plain, truth), plain.report.compiled)

    def without() -> iocmatch.IndicatorSet:
        return iocmatch.load(*feed)

    def with_lists() -> iocmatch.IndicatorSet:
        return iocmatch.load(*feed, allowlists=lists)

    runs: dict[str, list[float]] = {"without allowlists": [], "with the six lists": []}
    failures: list[str] = []
    for _ in range(args.repeat):
        runs["without allowlists"].append(_timed(without, "without", failures))
        runs["with the six lists"].append(_timed(with_lists, "with the lists", failures, expected))
    previous_name = f"previous ({args.previous})"
    if args.previous:
        previous = _previous_module(args.previous)
        runs[previous_name] = []
        for _ in range(args.previous_repeat):
            with _in_the_loaders_place(previous):
                runs[previous_name].append(_timed(with_lists, "previous", failures, expected))

    baseline = statistics.median(runs["without allowlists"])
    print("\n| load | median | runs | against without |")
    print("|---|---:|---|---:|")
    for name, seconds in runs.items():
        median = statistics.median(seconds)
        shown = ", ".join(f"{s:.2f}" for s in seconds)
        print(f"| {name} | {median:.2f} s | {shown} | {median / baseline:.2f}× |")
    if args.previous:
        now, before = statistics.median(runs["with the six lists"]), statistics.median(runs[previous_name])
        print(
            f"\nthe six lists add {before - baseline:.2f} s to the load before, {now - baseline:.2f} s now; "
            f"the load with them is {before / now:.0f}× faster"
        )

    _per_list(lists, atoms, failures)
    _regex_set_against_loop(documents, atoms, failures)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    print("\nall checks passed" if not failures else f"\n{len(failures)} checks FAILED")
    return 1 if failures else 0


def _atoms(loaded: iocmatch.IndicatorSet) -> list[Atom]:
    """Each loaded value; every indicator of these feeds is one value."""
    atoms = []
    for indicator in loaded.indicators:
        ((atom,),) = indicator.clauses
        atoms.append(atom)
    return sorted(set(atoms), key=lambda atom: (atom.kind, atom.value, atom.mode))


@dataclass(frozen=True)
class Expected:
    reasons: dict[str, str]  # indicator id -> how the reason for excluding it ends: the list and the entry
    compiled_without: int


def _exclusions(plain: iocmatch.IndicatorSet, truth: Verdicts) -> dict[str, str]:
    expected = {}
    for indicator in plain.indicators:
        ((atom,),) = indicator.clauses
        if atom in truth:
            name, kind, entry = truth[atom]
            expected[indicator.id] = f"by {name!r} ({kind} {entry!r})"
    return expected


def _timed(
    load: Callable[[], iocmatch.IndicatorSet], label: str, failures: list[str], expected: Expected | None = None
) -> float:
    gc.collect()
    started = time.perf_counter()
    loaded = load()
    seconds = time.perf_counter() - started
    if expected is not None:
        _check(loaded, expected, label, failures)
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return seconds


def _check(loaded: iocmatch.IndicatorSet, expected: Expected, label: str, failures: list[str]) -> None:
    excluded = {p.id: p.reason for p in loaded.report.problems if p.reason.startswith("allowlisted: ")}
    missing, extra = expected.reasons.keys() - excluded.keys(), excluded.keys() - expected.reasons.keys()
    both = expected.reasons.keys() & excluded.keys()
    wrong = {ident for ident in both if not excluded[ident].endswith(expected.reasons[ident])}
    if missing or extra or wrong:
        some = sorted(missing | extra | wrong)[:3]
        failures.append(f"{label}: {len(missing)} missing, {len(extra)} extra, {len(wrong)} naming another: {some}")
    loaded_count, without = loaded.report.compiled, expected.compiled_without
    if loaded_count + len(expected.reasons) != without:
        failures.append(f"{label}: {loaded_count:,} loaded, not {without:,} less the {len(expected.reasons):,} held")


# --- ground truth: plain walks, list by list, entry by entry -------------------------


def _ground_truth(documents: list[dict[str, Any]], atoms: list[Atom]) -> Verdicts:
    """The first list holding each value (lists in order), and its first entry holding it."""
    truth: Verdicts = {}
    for document in documents:
        name, kind = str(document["name"]), str(document["type"])
        entries = [entry for entry in (str(e).strip() for e in document["list"]) if entry]
        unheld = [atom for atom in atoms if atom not in truth]
        for atom, entry in WALKS[kind](entries, unheld):
            truth[atom] = (name, kind, entry)
    return truth


def _walk_strings(entries: list[str], atoms: list[Atom]) -> Iterator[tuple[Atom, str]]:
    exact, folded = entries, [entry.lower() for entry in entries]
    for atom in atoms:
        caseless = atom.kind in CASELESS
        value = atom.value.lower() if caseless else atom.value
        compared = folded if caseless else exact
        if value in compared:  # list.index walks the list in order
            yield atom, entries[compared.index(value)]


def _walk_hostnames(entries: list[str], atoms: list[Atom]) -> Iterator[tuple[Atom, str]]:
    # ".host" ends with ".name" exactly when the host is the name or under it.
    dotted = ["." + entry.lower().strip(".") for entry in entries]
    every = tuple(dotted)
    for atom in atoms:
        host = host_of(atom)
        if host and ("." + host).endswith(every):
            yield atom, next(entry for entry, name in zip(entries, dotted, strict=True) if ("." + host).endswith(name))


def _walk_substrings(entries: list[str], atoms: list[Atom]) -> Iterator[tuple[Atom, str]]:
    """Entry by entry, in list order, every value it occurs in (one search over all the values joined)."""
    for caseless in (True, False):
        chosen = [atom for atom in atoms if (atom.kind in CASELESS) == caseless]
        values = [atom.value.lower() if caseless else atom.value for atom in chosen]
        assert not any("\n" in text for text in values + entries), "a value or an entry holds the separator"
        joined = "\n".join(values)
        starts = [0]
        for value in values[:-1]:
            starts.append(starts[-1] + len(value) + 1)
        held: dict[int, str] = {}
        for entry in entries:
            key = entry.lower() if caseless else entry
            found = joined.find(key)
            while found >= 0:
                held.setdefault(bisect.bisect_right(starts, found) - 1, entry)
                found = joined.find(key, found + 1)
        for index in sorted(held):
            yield chosen[index], held[index]


def _walk_networks(entries: list[str], atoms: list[Atom]) -> Iterator[tuple[Atom, str]]:
    """IPv4: every entry's range compared at once (numpy), the first that holds the value's; IPv6: a loop."""
    networks = [ipaddress.ip_network(entry, strict=False) for entry in entries]
    # An IPv6 entry gets a range no IPv4 value lies inside.
    firsts = np.array([int(n.network_address) if n.version == 4 else 1 for n in networks], dtype=np.int64)
    lasts = np.array([int(n.broadcast_address) if n.version == 4 else 0 for n in networks], dtype=np.int64)
    for atom in atoms:
        if atom.kind == IPV4:
            network = ipaddress.ip_network(atom.value)
            first, last = int(network.network_address), int(network.broadcast_address)
            inside = np.flatnonzero((firsts <= first) & (lasts >= last))
            if len(inside):
                yield atom, str(networks[int(inside[0])])
        elif atom.kind == IPV6:
            network6 = ipaddress.IPv6Network(atom.value)
            held = (n for n in networks if isinstance(n, ipaddress.IPv6Network) and network6.subnet_of(n))
            entry = next(held, None)
            if entry is not None:
                yield atom, str(entry)


def _walk_patterns(entries: list[str], atoms: list[Atom]) -> Iterator[tuple[Atom, str]]:
    patterns = [(text, re.compile(text, re.IGNORECASE if "i" in flags else 0)) for text, flags in map(_split, entries)]
    for atom in atoms:
        named = next((text for text, pattern in patterns if pattern.search(atom.value)), None)
        if named is not None:
            yield atom, named


WALKS: dict[str, Callable[[list[str], list[Atom]], Iterator[tuple[Atom, str]]]] = {
    "string": _walk_strings,
    "hostname": _walk_hostnames,
    "substring": _walk_substrings,
    "cidr": _walk_networks,
    "regex": _walk_patterns,
}


def _split(entry: str) -> tuple[str, str]:
    delimited = re.fullmatch(r"/(.*)/([gimsuxy]*)", entry, re.DOTALL)
    return (delimited.group(1), delimited.group(2)) if delimited else (entry, "")


# --- the previous implementation in the loader's place -------------------------------


def _previous_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("iocmatch._allowlists_previous", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@contextmanager
def _in_the_loaders_place(module: ModuleType) -> Iterator[None]:
    names = ("Allowlist", "parse_allowlist", "read_allowlist")
    current = {name: getattr(iocmatch._indicators.loader, name) for name in names}
    for name in names:
        setattr(iocmatch._indicators.loader, name, getattr(module, name))
    try:
        yield
    finally:
        for name, value in current.items():
            setattr(iocmatch._indicators.loader, name, value)


# --- each list alone, and RE2's set against a loop of searches -----------------------


def _per_list(lists: list[Path], atoms: list[Atom], failures: list[str]) -> None:
    print(f"\n| list | type | entries | read and index | look up {len(atoms):,} values | held |")
    print("|---|---|---:|---:|---:|---:|")
    for path in lists:
        started = time.perf_counter()
        allowlist = read_allowlist(path)
        built = time.perf_counter() - started
        started = time.perf_counter()
        verdicts = [allowlist.suppresses(atom) for atom in atoms]
        looked = time.perf_counter() - started
        held = sum(verdict is not None for verdict in verdicts)
        print(
            f"| {path.parent.name} | {allowlist.type} | {len(allowlist.entries):,} | {built:.3f} s | {looked:.3f} s "
            f"| {held:,} |"
        )
        alone = _ground_truth([json.loads(path.read_text(encoding="utf-8"))], atoms)
        if {atom: entry for atom, entry in zip(atoms, verdicts, strict=True) if entry} != {
            a: e for a, (_, _, e) in alone.items()
        }:
            failures.append(f"{path.parent.name}: its lookups differ from the walk")


def _regex_set_against_loop(documents: list[dict[str, Any]], atoms: list[Atom], failures: list[str]) -> None:
    print("\n| regex list | one RE2 set | a loop of RE2 searches |")
    print("|---|---:|---:|")
    for folder, document in zip(LISTS, documents, strict=True):
        if document["type"] != "regex":
            continue
        allowlist = parse_allowlist(document, document["name"])
        searches = []
        for text, flags in map(_split, allowlist.entries):
            options = re2.Options()
            options.case_sensitive = "i" not in flags
            searches.append((text, re2.compile(text, options)))
        started = time.perf_counter()
        by_set = [allowlist.suppresses(atom) for atom in atoms]
        set_seconds = time.perf_counter() - started
        started = time.perf_counter()
        by_loop = [next((text for text, regex in searches if regex.search(atom.value)), None) for atom in atoms]
        loop_seconds = time.perf_counter() - started
        print(f"| {folder} ({len(searches)} entries) | {set_seconds:.3f} s | {loop_seconds:.3f} s |")
        if by_set != by_loop:
            failures.append(f"{folder}: the RE2 set and the loop of searches differ")


if __name__ == "__main__":
    sys.exit(main())
