"""Shared builders for STIX objects, and the published corpus beside the project."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

import iocmatch
from iocmatch._engines.hyperscan import AVAILABLE as HYPERSCAN

# Every candidate engine, each held to the same tables.
ENGINES = [
    "aho-corasick",
    "tokens",
    pytest.param("hyperscan", marks=pytest.mark.skipif(not HYPERSCAN, reason="no Hyperscan wheel for this platform")),
]

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "apt10"
LOGHUB = ROOT.parent / "shared" / "corpus" / "logs" / "loghub"


# The object path a test writes for each kind (written here, not taken from the library).
PATTERN_PATHS = {
    "domain-name": "domain-name:value",
    "md5": "file:hashes.MD5",
    "sha256": "file:hashes.'SHA-256'",
    "ipv4-addr": "ipv4-addr:value",
    "ipv6-addr": "ipv6-addr:value",
    "email-addr": "email-addr:value",
    "url": "url:value",
    "file-name": "file:name",
    "mutex": "mutex:name",
}


def indicator(pattern: str, number: int = 1, **fields: Any) -> dict[str, Any]:
    """A STIX 2.1 indicator dict with a stable id derived from ``number``."""
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.UUID(int=number, version=4)}",
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2020-01-01T00:00:00.000Z",
    }
    obj.update(fields)
    return obj


def bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.UUID(int=len(objects), version=4)}", "objects": list(objects)}


def matcher_for(*patterns: str, subdomains: bool = True, allow_broad: bool = False) -> iocmatch.Matcher:
    objects = [indicator(pattern, number) for number, pattern in enumerate(patterns, 1)]
    loaded = iocmatch.load(bundle(*objects), allow_broad=allow_broad)
    assert loaded.report.compiled == len(patterns), loaded.report.problems
    return iocmatch.compile(loaded, subdomains=subdomains)


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the published campaign corpus is not beside the project ({CORPUS} is missing)")
    return CORPUS
