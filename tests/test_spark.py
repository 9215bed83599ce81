"""iocmatch.spark: a DataFrame scanned on Spark gives exactly the library's hits.

One local[2] session, bound to the loopback interface, serves every test.
Spark needs Java: without it these tests fail and say so.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import site
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession

import iocmatch
from iocmatch.spark import match_dataframe, output_columns
from tests.conftest import ROOT, bundle, indicator

pytestmark = pytest.mark.spark  # Spark local[2]

SAMPLES = ROOT / "data" / "samples"
LOGS = ["dns.log", "firewall.log", "mail.log", "proxy.log", "sysmon.jsonl"]
EXAMPLE = ROOT / "examples" / "spark_scan.py"
LOOPBACK = "127.0.0.1"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    if not (shutil.which("java") or os.environ.get("JAVA_HOME")):
        pytest.fail("Spark needs Java 17 (no java on PATH and no JAVA_HOME): install a JDK to run these tests")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYSPARK_PYTHON", sys.executable)  # the workers import this environment's iocmatch
        session = (
            SparkSession.builder.master("local[2]")
            .appName("iocmatch tests")
            .config("spark.driver.host", LOOPBACK)
            .config("spark.driver.bindAddress", LOOPBACK)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


@pytest.fixture(scope="module")
def campaign() -> iocmatch.Matcher:
    # As the demo scans the samples: Sysmon writes HKCU keys as HKU\<SID>\...
    return iocmatch.compile(iocmatch.load(iocmatch.campaign_data_path()), registry_aliases=True)


SMALL = iocmatch.compile(
    iocmatch.load(
        bundle(
            indicator("[domain-name:value = 'evil.example']", 1, name="evil"),
            indicator("[ipv4-addr:value = '198.51.100.0/24']", 2),
        )
    )
)


def hits(df: DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    return [tuple(_plain(row[name]) for name in columns) for row in df.collect()]


def _plain(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# -- the same hits as the library -------------------------------------------------


def campaign_values(indicators: iocmatch.IndicatorSet, kind: str) -> list[str]:
    atoms = (atom for item in indicators.indicators for clause in item.clauses for atom in clause)
    return sorted({atom.value for atom in atoms if atom.kind == kind})


def without_listed_parent(domains: list[str]) -> list[str]:
    """Domains none of whose parents is listed too (``xa.evil.com`` would hit ``evil.com``)."""
    listed = set(domains)
    return [d for d in domains if not any(d.split(".", n)[-1] in listed for n in range(1, d.count(".") + 1))]


def generated_lines(seed: int = 7) -> tuple[list[str], list[str]]:
    """Lines with a campaign value planted (each must hit) and near misses (none may)."""
    indicators = iocmatch.load(iocmatch.campaign_data_path())
    rng = random.Random(seed)
    domains = rng.sample(without_listed_parent(campaign_values(indicators, "domain-name")), 40)
    hashes = rng.sample(campaign_values(indicators, "md5"), 20)
    addresses = rng.sample([a for a in campaign_values(indicators, "ipv4-addr") if "/" not in a], 10)
    planted = [
        *(f"GET http://www.{d}/index.html HTTP/1.1 200" for d in domains[:20]),
        *(f"client 10.1.2.3#5353: query: {d.upper()}. IN A +" for d in domains[20:]),
        *(f"Hashes=SHA1=0000,MD5={h.upper()},IMPHASH=1" for h in hashes),
        *(f"IN=eth0 SRC=10.0.0.8 DST={a} PROTO=TCP DPT=443" for a in addresses),
        f"mail from:<x@{domains[0]}> ünïcödé ✓ then {hashes[0]}",
    ]
    near_misses = [
        *(f"GET http://{d}.au/ HTTP/1.1" for d in domains[:20]),
        *(f"query: x{d} IN A" for d in domains[20:]),
        *(f"hash {h}0 and 0{h}" for h in hashes),
        *(f"version {a}.5 and 1{a}" for a in addresses),
        "",
        "nothing here " * 500,
    ]
    return planted, near_misses


@pytest.fixture(scope="module")
def numbered_lines() -> list[tuple[str, int, str]]:
    """(source, line number, line): the sample logs and generated lines."""
    rows = [
        (name, number, line)
        for name in LOGS
        for number, line in enumerate((SAMPLES / name).read_text(encoding="utf-8").splitlines(), 1)
    ]
    planted, near_misses = generated_lines()
    rows += [("planted", number, line) for number, line in enumerate(planted, 1)]
    rows += [("near-miss", number, line) for number, line in enumerate(near_misses, 1)]
    return rows


def test_spark_finds_exactly_the_hits_scan_line_finds(
    spark: SparkSession, campaign: iocmatch.Matcher, numbered_lines: list[tuple[str, int, str]]
) -> None:
    expected = {
        (source, number, m.start, m.end, m.text, m.kind, m.value, m.indicators, m.attribution, m.sources)
        for source, number, line in numbered_lines
        for m in campaign.scan_line(line, number)
    }
    df = spark.createDataFrame(numbered_lines, "source string, number long, line string")

    found = hits(match_dataframe(df, campaign, column="line"), ["source", "number", *output_columns()])

    assert len(found) == len(set(found)), "one row per hit"
    assert set(found) == expected
    planted, _ = generated_lines()
    hit_lines = {(source, number) for source, number, *_ in found}
    assert {("planted", n) for n in range(1, len(planted) + 1)} <= hit_lines
    assert not any(source == "near-miss" for source, _ in hit_lines)
    assert len({(source, number) for source, number in hit_lines if source in LOGS}) > 100


def test_other_columns_are_carried_to_every_hit_of_their_row(spark: SparkSession) -> None:
    rows = [
        (1, "proxy", "GET http://a.evil.example/ from 198.51.100.7", [1, 2]),
        (2, "dns", "query evil.example.au", [3]),
        (3, "fw", "DST=198.51.100.9", []),
    ]
    df = spark.createDataFrame(rows, "id int, `log type` string, value string, tags array<int>")

    result = match_dataframe(df, SMALL)

    assert result.columns == ["id", "log type", "value", "tags", *output_columns()]
    found = hits(result, ["id", "log type", "tags", "match_text", "match_value"])
    assert sorted(found) == [
        (1, "proxy", (1, 2), "198.51.100.7", "198.51.100.0/24"),
        (1, "proxy", (1, 2), "evil.example", "evil.example"),
        (3, "fw", (), "198.51.100.9", "198.51.100.0/24"),
    ]


def test_columns_with_dots_backticks_or_one_name_twice_are_carried(spark: SparkSession) -> None:
    # Zeek's columns are named id.orig_h; a join can leave two columns of one name.
    df = spark.sql("select '10.0.0.1' as `id.orig_h`, 1 as `a``b`, 2 as n, 3 as n, 'see evil.example' as value")

    result = match_dataframe(df, SMALL)

    assert result.columns == ["id.orig_h", "a`b", "n", "n", "value", *output_columns()]
    assert [tuple(row)[:6] for row in result.collect()] == [("10.0.0.1", 1, 2, 3, "see evil.example", 4)]


def test_hit_columns_have_the_documented_types(spark: SparkSession) -> None:
    df = spark.createDataFrame([("see evil.example",)], "value string")
    types = dict(match_dataframe(df, SMALL).dtypes)
    strings = "array<string>"
    assert [types[name] for name in output_columns()] == ["int", "int", "string", "string", "string", *[strings] * 3]


def test_nulls_hold_no_hit_and_other_types_are_scanned_as_text(spark: SparkSession) -> None:
    rows = [(1, None, None), (2, "evil.example", b"GET evil.example"), (3, None, b"\xff\xfe 198.51.100.1")]
    df = spark.createDataFrame(rows, "id int, text string, raw binary")

    assert hits(match_dataframe(df, SMALL, column="text"), ["id", "match_text"]) == [(2, "evil.example")]
    raw = sorted(hits(match_dataframe(df, SMALL, column="raw"), ["id", "match_text"]))
    assert raw == [(2, "evil.example"), (3, "198.51.100.1")]
    numbers = spark.createDataFrame([(198,), (None,)], "value long")
    assert match_dataframe(numbers, SMALL).collect() == []


def test_two_matchers_in_one_job_keep_their_own_hits(spark: SparkSession) -> None:
    # Workers keep unpickled matchers between tasks: each scan must still use its own.
    other = iocmatch.compile(iocmatch.load(bundle(indicator("[domain-name:value = 'other.example']", 3))))
    df = spark.createDataFrame([("evil.example other.example 198.51.100.1",)], "value string")
    both = match_dataframe(df, SMALL).unionByName(match_dataframe(df, other))
    assert sorted(hits(both, ["match_text"])) == [("198.51.100.1",), ("evil.example",), ("other.example",)]


def test_a_matcher_file_path_scans_as_the_matcher(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "matcher.key"))
    path = tmp_path / "small.matcher"
    iocmatch.save_matcher(SMALL, path)
    df = spark.createDataFrame([("a.evil.example 198.51.100.1",), ("none",)], "value string")
    columns = ["value", *output_columns()]

    expected = hits(match_dataframe(df, SMALL), columns)
    assert len(expected) == 2
    assert hits(match_dataframe(df, path), columns) == expected
    assert hits(match_dataframe(df, str(path)), columns) == expected


def test_a_matcher_file_may_go_once_the_dataframe_is_made(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is checked and copied on the driver, and the executors read the copy (without
    the key, which this session's workers never had): the file itself may be replaced or removed."""
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "matcher.key"))
    path = tmp_path / "small.matcher"
    iocmatch.save_matcher(SMALL, path)
    df = spark.createDataFrame([("a.evil.example 198.51.100.1",), ("none",)], "value string")
    scanned = match_dataframe(df, path)
    path.unlink()
    assert sorted(hits(scanned, ["match_value"])) == [("198.51.100.0/24",), ("evil.example",)]


def test_a_changed_matcher_file_is_refused_on_the_driver(
    spark: SparkSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOCMATCH_KEY_FILE", str(tmp_path / "matcher.key"))
    path = tmp_path / "small.matcher"
    iocmatch.save_matcher(SMALL, path)
    path.write_bytes(path.read_bytes()[:-1] + b"\0")
    df = spark.createDataFrame([("evil.example",)], "value string")
    with pytest.raises(iocmatch.MatcherFileError, match=r"small\.matcher"):
        match_dataframe(df, path)


def test_output_names_that_are_taken_raise_and_a_prefix_avoids_them(spark: SparkSession) -> None:
    df = spark.createDataFrame([("evil.example", 1)], "line string, Match_Kind int")
    with pytest.raises(ValueError, match="match_kind"):
        match_dataframe(df, SMALL, column="line")
    with pytest.raises(ValueError, match="no column 'value'"):
        match_dataframe(df, SMALL)

    plain = match_dataframe(df, SMALL, column="line", prefix="")
    assert plain.columns == ["line", "Match_Kind", "start", "end", "text", "kind", "value", *plain.columns[-3:]]
    assert hits(plain, ["start", "end", "kind", "value"]) == [(0, 12, "domain-name", "evil.example")]


# -- streams ------------------------------------------------------------------------


def _json_records(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for part in sorted(folder.glob("part-*.json")) for line in part.read_text().splitlines()]


def test_a_stream_of_log_files_is_scanned_once_across_restarts(spark: SparkSession, tmp_path: Path) -> None:
    incoming, out, checkpoint = tmp_path / "incoming", tmp_path / "hits", tmp_path / "checkpoint"
    incoming.mkdir()

    def run_until_caught_up() -> None:
        """One run of the job, stopped once it has read every file there (a restart each time)."""
        lines = spark.readStream.format("text").load(str(incoming))
        query = (
            match_dataframe(lines, SMALL)
            .writeStream.format("json")
            .option("path", str(out))
            .option("checkpointLocation", str(checkpoint))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()

    (incoming / "1.log").write_text("GET http://a.evil.example/\nnothing\n", encoding="utf-8")
    run_until_caught_up()
    assert sorted((r["value"], r["match_text"]) for r in _json_records(out)) == [
        ("GET http://a.evil.example/", "evil.example")
    ]
    (incoming / "2.log").write_text("DST=198.51.100.3 evil.example\n", encoding="utf-8")
    run_until_caught_up()
    run_until_caught_up()  # nothing new: nothing written

    assert sorted((r["value"], r["match_text"]) for r in _json_records(out)) == [
        ("DST=198.51.100.3 evil.example", "198.51.100.3"),
        ("DST=198.51.100.3 evil.example", "evil.example"),
        ("GET http://a.evil.example/", "evil.example"),
    ]


def test_example_job_streams_new_files_once_with_a_checkpoint(tmp_path: Path) -> None:
    incoming, out, checkpoint = tmp_path / "incoming", tmp_path / "hits", tmp_path / "checkpoint"
    incoming.mkdir()
    command = [*_example_command(), "--stream", "--once", "--checkpoint", str(checkpoint), "-o", str(out)]
    logs = {name: (SAMPLES / name).read_text(encoding="utf-8") for name in LOGS}
    for round_of_files in (LOGS[:2], LOGS[2:]):
        for name in round_of_files:
            (incoming / name).write_text(logs[name], encoding="utf-8")
        done = subprocess.run(
            [*command, str(incoming)], env=_example_env(), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr[-3000:]

    assert _sample_hits(_json_records(out)) == _expected_sample_hits()


# -- the executors' environment ---------------------------------------------------

WORKER_ENVS = Path(__file__).with_name("spark_worker_envs.py")


def _worker_python(folder: Path, fake_version: str | None) -> Path:
    """A worker Python that has everything this environment has but iocmatch
    (every installed package but it, on its path, and no site processing,
    so an editable install is not seen either); with ``fake_version``, an
    iocmatch of that version in its place."""
    packages = folder / "site"
    packages.mkdir(parents=True)
    for site_dir in map(Path, site.getsitepackages()):
        for entry in site_dir.iterdir():
            if not entry.name.lower().startswith(("iocmatch", "__editable__")) and not (packages / entry.name).exists():
                (packages / entry.name).symlink_to(entry)
    if fake_version is not None:
        (packages / "iocmatch").mkdir()
        (packages / "iocmatch" / "__init__.py").write_text(f"__version__ = {fake_version!r}\n")
    python = folder / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH="{packages}:$PYTHONPATH" exec "{sys.executable}" -S "$@"\n')
    python.chmod(0o755)
    return python


def test_executors_without_iocmatch_or_with_another_version_are_named_before_a_task_scans(tmp_path: Path) -> None:
    without = _worker_python(tmp_path / "without", None)
    other = _worker_python(tmp_path / "other", "0.0.1")
    env = {**os.environ, "SPARK_LOCAL_IP": LOOPBACK}
    done = subprocess.run(
        [sys.executable, str(WORKER_ENVS), str(without), str(other)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    missing, wrong = json.loads(done.stdout.splitlines()[-1])

    # match_dataframe refuses, in one message, before any scan.
    assert f"Python ({without};" in missing["check"]
    assert "has no iocmatch (ModuleNotFoundError: No module named 'iocmatch')" in missing["check"]
    assert f"Python ({other};" in wrong["check"]
    assert f"has iocmatch 0.0.1, the driver iocmatch {iocmatch.__version__}" in wrong["check"]
    for outcome in (missing, wrong):
        assert "PYSPARK_PYTHON" in outcome["check"]
        assert "venv-pack" in outcome["check"]
        assert sys.executable in outcome["check"]
    # A task on such a worker says the same, inside Spark's error.
    assert "cannot run this iocmatch: ModuleNotFoundError: No module named 'iocmatch'" in missing["task"]
    assert f"cannot run this iocmatch: it has iocmatch 0.0.1, the driver {iocmatch.__version__}" in wrong["task"]
    assert all("PYSPARK_PYTHON" in outcome["task"] for outcome in (missing, wrong))


def test_the_executors_of_this_session_pass_the_check(spark: SparkSession) -> None:
    from iocmatch.spark import check_executors, executors

    executors._CHECKED.discard(spark.sparkContext.applicationId)
    check_executors(spark)
    assert spark.sparkContext.applicationId in executors._CHECKED


# -- the example job --------------------------------------------------------------


def _example_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": LOOPBACK,
        "PYSPARK_SUBMIT_ARGS": f"--conf spark.ui.enabled=false --conf spark.driver.bindAddress={LOOPBACK} "
        f"--conf spark.driver.host={LOOPBACK} pyspark-shell",
    }


def _example_command() -> list[str]:
    return [sys.executable, str(EXAMPLE), "--master", "local[2]", "--registry-aliases", "--format", "jsonl"]


def _expected_sample_hits() -> Counter[tuple[str, str, int, int, str, str]]:
    """The planted hits of the sample logs, as (file, line, start, end, kind, value)."""
    lines = {name: (SAMPLES / name).read_text(encoding="utf-8").splitlines() for name in LOGS}
    planted = [json.loads(line) for line in (SAMPLES / "expected.jsonl").read_text(encoding="utf-8").splitlines()]
    return Counter(
        (h["file"], lines[h["file"]][h["line"] - 1], h["start"], h["end"], h["kind"], h["value"]) for h in planted
    )


def _sample_hits(records: list[dict[str, Any]]) -> Counter[tuple[str, str, int, int, str, str]]:
    return Counter(
        (Path(r["file"]).name, r["line"], r["match_start"], r["match_end"], r["match_kind"], r["match_value"])
        for r in records
    )


def test_example_job_writes_the_planted_hits_of_the_sample_logs(tmp_path: Path) -> None:
    out = tmp_path / "hits"
    logs = [str(SAMPLES / name) for name in LOGS]
    command = [*_example_command(), "-o", str(out), *logs]
    done = subprocess.run(command, env=_example_env(), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    assert _sample_hits(_json_records(out)) == _expected_sample_hits()
