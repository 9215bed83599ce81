"""Indicators from a real TAXII 2.1 server (medallion, memory backend, on
127.0.0.1) give the same hits as the same objects read from a file."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import iocmatch
from iocmatch import TaxiiSource
from tests.conftest import ROOT, indicator

pytestmark = pytest.mark.network  # a TAXII server (medallion) on loopback

USER, PASSWORD = "analyst", "s3cret-pass"
PAGE_SIZE = 4  # small, so every load goes through several pages
OLD, NEW = "2024-01-01T00:00:00.000000Z", "2024-06-01T00:00:00.000000Z"
MAIN, EXTRA, CLOSED, LIVE = (str(uuid.UUID(int=n, version=4)) for n in (11, 12, 13, 14))
_SIMPLE = re.compile(r"^\[(?:domain-name:value|ipv4-addr:value|url:value|file:hashes\.MD5) = '([^']+)'\]$")
PUBLISHER = {
    "type": "identity",
    "spec_version": "2.1",
    "id": f"identity--{uuid.UUID(int=7, version=4)}",
    "created": "2020-01-01T00:00:00.000Z",
    "modified": "2020-01-01T00:00:00.000Z",
    "name": "Test feed",
    "identity_class": "organization",
}


def campaign_subset() -> tuple[list[dict[str, Any]], list[str]]:
    """Some APT10 indicators of each simple kind with the objects that attribute
    and publish them, and the value of each indicator."""
    objects = json.loads((ROOT / "data" / "apt10.stix21.json").read_text())["objects"]
    chosen: dict[str, dict[str, Any]] = {}
    per_kind: dict[str, int] = {}
    for obj in objects:
        found = _SIMPLE.match(obj.get("pattern", "")) if obj["type"] == "indicator" else None
        kind = obj.get("pattern", "").split(":")[0]
        if found and per_kind.get(kind, 0) < 4:
            per_kind[kind] = per_kind.get(kind, 0) + 1
            chosen[obj["id"]] = obj

    def wanted(obj: dict[str, Any]) -> bool:
        if obj["type"] == "relationship":
            return bool(obj["source_ref"] in chosen or obj["relationship_type"] == "attributed-to")
        return obj["type"] in ("identity", "campaign", "intrusion-set", "malware")

    context = [obj for obj in objects if wanted(obj)]
    values = [_SIMPLE.match(obj["pattern"]).group(1) for obj in chosen.values()]  # type: ignore[union-attr]
    return [*chosen.values(), *context], values


def generated_indicators() -> tuple[list[dict[str, Any]], list[str]]:
    values = [f"c2-{n}.generated.example" for n in range(7)]
    objects = [
        indicator(f"[domain-name:value = '{value}']", 900 + n, created_by_ref=PUBLISHER["id"])
        for n, value in enumerate(values)
    ]
    return [PUBLISHER, *objects], values


CAMPAIGN, CAMPAIGN_VALUES = campaign_subset()
GENERATED, GENERATED_VALUES = generated_indicators()
EXTRA_OBJECTS = [indicator("[ipv4-addr:value = '203.0.113.99']", 950, created_by_ref=PUBLISHER["id"])]
LIVE_OBJECTS = [indicator("[domain-name:value = 'first.live.example']", 960)]
LINES = [f"GET {value} 200" for value in CAMPAIGN_VALUES + GENERATED_VALUES] + ["GET www.example.org 200"]


def _collection(
    ident: str, title: str, dated: list[tuple[dict[str, Any], str]], readable: bool, writable: bool = False
) -> dict[str, Any]:
    media = "application/stix+json;version=2.1"
    return {
        "id": ident,
        "title": title,
        "can_read": readable,
        "can_write": writable,
        "media_types": [media],
        "objects": [obj for obj, _ in dated],
        "manifest": [
            {"id": obj["id"], "date_added": added, "version": obj["modified"], "media_type": media}
            for obj, added in dated
        ],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A medallion TAXII 2.1 server; yields the API root URL."""
    folder = tmp_path_factory.mktemp("taxii")
    port = _free_port()
    root = f"http://127.0.0.1:{port}/api1/"
    data = {
        "/discovery": {"title": "test server", "default": root, "api_roots": [root]},
        "api1": {
            "information": {
                "title": "campaign feeds",
                "versions": ["application/taxii+json;version=2.1"],
                "max_content_length": 10_000_000,
            },
            "status": [],
            "collections": [
                _collection(MAIN, "main", [(o, OLD) for o in CAMPAIGN] + [(o, NEW) for o in GENERATED], True),
                _collection(EXTRA, "extra", [(o, OLD) for o in EXTRA_OBJECTS], True),
                _collection(CLOSED, "closed", [(o, OLD) for o in EXTRA_OBJECTS], False),
                _collection(LIVE, "live", [(o, OLD) for o in LIVE_OBJECTS], True, writable=True),
            ],
        },
    }
    (folder / "data.json").write_text(json.dumps(data))
    config = {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": str(folder / "data.json"),
        },
        "users": {USER: PASSWORD},
        "taxii": {"max_page_size": PAGE_SIZE},
    }
    (folder / "config.json").write_text(json.dumps(config))
    command = [sys.executable, "-m", "medallion.scripts.run", "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(
        [*command, str(folder / "config.json")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(root, timeout=1)
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the TAXII test server did not start") from None
                time.sleep(0.1)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=10)


def _scan(indicators: iocmatch.IndicatorSet) -> list[iocmatch.Match]:
    return list(iocmatch.compile(indicators).scan(LINES))


def test_a_collection_gives_the_same_hits_as_the_same_objects_from_a_file(server: str, tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": CAMPAIGN + GENERATED}))
    from_file = iocmatch.load(feed)
    source = TaxiiSource(f"{server}collections/{MAIN}/", user=USER, password=PASSWORD)
    from_taxii = iocmatch.load(source)
    assert from_taxii.report.read == from_file.report.read == len(CAMPAIGN_VALUES) + len(GENERATED_VALUES)
    assert from_taxii.report.read > 3 * PAGE_SIZE  # several pages were read
    hits = _scan(from_taxii)
    assert hits == _scan(from_file)
    hit_values = {line.split()[1] for line in (LINES[m.line - 1] for m in hits)}
    assert hit_values == set(CAMPAIGN_VALUES + GENERATED_VALUES)
    assert any("menuPass" in m.attribution for m in hits)


def test_an_api_root_url_reads_every_readable_collection_with_environment_credentials(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IOCMATCH_TAXII_USER", USER)
    monkeypatch.setenv("IOCMATCH_TAXII_PASSWORD", PASSWORD)
    loaded = iocmatch.load(server)
    # The live collection's count depends on what another test published there.
    read = {label: counts["read"] for label, counts in loaded.report.by_source.items()}
    main, extra, live = (f"{server}collections/{ident}/" for ident in (MAIN, EXTRA, LIVE))
    assert set(read) == {main, extra, live}, "every readable collection, not the closed one"
    assert (read[main], read[extra]) == (len(CAMPAIGN_VALUES) + len(GENERATED_VALUES), len(EXTRA_OBJECTS))
    assert iocmatch.compile(loaded).scan_line("deny 203.0.113.99")


def test_added_after_asks_only_for_newer_objects(server: str) -> None:
    source = TaxiiSource(
        f"{server}collections/{MAIN}/", user=USER, password=PASSWORD, added_after="2024-03-01T00:00:00Z"
    )
    loaded = iocmatch.load(source)
    assert loaded.report.read == len(GENERATED_VALUES)
    hit_lines = {m.line for m in _scan(loaded)}
    assert hit_lines == {LINES.index(f"GET {value} 200") + 1 for value in GENERATED_VALUES}


def _publish(server: str, *objects: dict[str, Any]) -> None:
    """Add objects to the live collection, as a feed's publisher does."""
    response = requests.post(
        f"{server}collections/{LIVE}/objects/",
        json={"objects": list(objects)},
        auth=(USER, PASSWORD),
        headers={"Content-Type": "application/taxii+json;version=2.1", "Accept": "application/taxii+json;version=2.1"},
        timeout=10,
    )
    response.raise_for_status()


def test_a_watched_collection_is_polled_for_what_it_added(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from iocmatch._feeds import taxii_poll

    asked: list[Any] = []
    read = taxii_poll.TaxiiPoll._read

    def recorded(source: TaxiiSource) -> Any:
        asked.append(source)
        return read(source)

    monkeypatch.setattr(taxii_poll.TaxiiPoll, "_read", staticmethod(recorded))
    swaps: list[iocmatch.Swap] = []
    source = TaxiiSource(f"{server}collections/{LIVE}/", user=USER, password=PASSWORD)
    watched = iocmatch.WatchedMatcher.of_sources(source, check_every=0.05, on_swap=swaps.append)
    line = "first.live.example second.live.example"
    try:
        assert [m.value for m in watched.current().scan_line(line)] == ["first.live.example"]
        time.sleep(0.1)
        assert [m.value for m in watched.wait().scan_line(line)] == ["first.live.example"]
        assert swaps == []  # a poll that brings nothing is no swap

        second = indicator("[domain-name:value = 'second.live.example']", 961)
        revoked = {**LIVE_OBJECTS[0], "modified": "2025-01-01T00:00:00.000Z", "revoked": True}
        _publish(server, second, revoked)
        time.sleep(0.1)

        assert [m.value for m in watched.wait().scan_line(line)] == ["second.live.example"]
        assert [(swap.reason, swap.added, swap.removed) for swap in swaps] == [("sources polled", 1, 1)]
        assert asked[0].added_after is None
        assert all(later.added_after for later in asked[1:]), "polls ask only for what was added since"
        assert len(asked) >= 3
    finally:
        watched.close()


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "iocmatch", *args],
        input="\n".join(LINES).encode(),
        capture_output=True,
        check=False,
        env=env,
    )


def test_the_command_reads_taxii_with_user_password_and_added_after(server: str) -> None:
    url = f"{server}collections/{MAIN}/"
    result = run("scan", "-i", url, "--user", USER, "--password", PASSWORD, "--format", "jsonl", "-")
    assert result.returncode == 0, result.stderr
    assert len({json.loads(line)["line"] for line in result.stdout.splitlines()}) == len(LINES) - 1
    newer = run(
        "scan", "-i", url, "--user", USER, "--password", PASSWORD, "--added-after", "2024-03-01T00:00:00Z",
        "--format", "jsonl", "-",
    )  # fmt: skip
    assert {json.loads(line)["value"] for line in newer.stdout.splitlines()} == set(GENERATED_VALUES)


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [((USER, "wrong"), "HTTP 401"), ((None, None), "HTTP 401")],
)
def test_refused_credentials_are_one_clear_error(
    server: str, credentials: tuple[str | None, str | None], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IOCMATCH_TAXII_USER", raising=False)
    monkeypatch.delenv("IOCMATCH_TAXII_PASSWORD", raising=False)
    url = f"{server}collections/{MAIN}/"
    with pytest.raises(iocmatch.SourceError, match=expected) as raised:
        iocmatch.load(TaxiiSource(url, user=credentials[0], password=credentials[1]))
    assert url in str(raised.value)
    assert "IOCMATCH_TAXII_PASSWORD" in str(raised.value)


def test_the_command_exits_2_with_one_line_on_taxii_errors(server: str) -> None:
    closed_port = _free_port()
    cases = [
        ((f"{server}collections/{MAIN}/", "--user", USER, "--password", "wrong"), "HTTP 401"),
        ((f"http://127.0.0.1:{closed_port}/api1/",), "cannot reach the server"),
        ((f"{server}collections/{uuid.UUID(int=99, version=4)}/", "--user", USER, "--password", PASSWORD), "404"),
        ((f"{server}collections/{CLOSED}/", "--user", USER, "--password", PASSWORD), "not readable"),
    ]
    for (url, *options), message in cases:
        result = run("check", "-i", url, *options)
        stderr = result.stderr.decode()
        assert result.returncode == 2, stderr
        assert message in stderr
        assert url in stderr
        assert "Traceback" not in stderr
        assert len(stderr.strip().splitlines()) == 1, stderr


def test_added_after_without_a_taxii_source_is_an_error(tmp_path: Path) -> None:
    feed = tmp_path / "feed.json"
    feed.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": GENERATED}))
    result = run("check", "-i", str(feed), "--added-after", "2024-03-01T00:00:00Z")
    assert result.returncode == 2
    assert b"TAXII" in result.stderr


def test_the_command_prints_no_library_log_lines(server: str) -> None:
    """The server sends pages of 4 where the client asked for no size, which
    taxii2client warns about through a console handler of its own."""
    command = Path(sys.executable).with_name("iocmatch")
    url = f"{server}collections/{MAIN}/"
    result = subprocess.run(
        [str(command), "check", "-i", url, "--user", USER, "--password", PASSWORD],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "taxii2client" not in result.stderr
    assert "WARNING" not in result.stderr
