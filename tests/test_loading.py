"""Loading: every source form, versions, validity, attribution and the report."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import stix2
from hypothesis import given
from hypothesis import strategies as st

import iocmatch
from iocmatch._feeds import stix2_build
from tests.conftest import bundle, indicator

EVIL = "[domain-name:value = 'evil.example']"


def _counts(report: iocmatch.LoadReport) -> tuple[int, int, int, int]:
    assert report.read == report.compiled + report.skipped + report.excluded
    return report.read, report.compiled, report.skipped, report.excluded


def test_every_source_form_loads_the_same_indicator(tmp_path: Path) -> None:
    obj = indicator(EVIL)
    document = bundle(obj)
    path = tmp_path / "feed.json"
    path.write_text(json.dumps(document))
    folder = tmp_path / "feeds"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "one.json").write_text(json.dumps(obj))
    stix_object = stix2.v21.Indicator(
        id=obj["id"], pattern=EVIL, pattern_type="stix", valid_from="2020-01-01T00:00:00Z"
    )
    for source in (path, str(path), folder, json.dumps(document), document, obj, [obj], stix_object):
        loaded = iocmatch.load(source)
        assert [i.id for i in loaded.indicators] == [obj["id"]], source
        assert iocmatch.compile(loaded).scan_line("GET evil.example")[0].indicators == (obj["id"],)


def test_unreadable_sources_raise_a_source_error_naming_them(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [')
    with pytest.raises(iocmatch.SourceError, match=r"broken\.json"):
        iocmatch.load(broken)
    with pytest.raises(iocmatch.SourceError, match=r"missing\.json"):
        iocmatch.load(tmp_path / "missing.json")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(iocmatch.SourceError, match=r"holds no indicator file"):
        iocmatch.load(empty)
    # A feed in a folder that cannot be read is no feed with nothing in it.
    (empty / "feed.txt").write_text("evil.example\n")
    (empty / "gone.txt").symlink_to(tmp_path / "nowhere.txt")
    with pytest.raises(iocmatch.SourceError, match=r"gone\.txt: cannot read"):
        iocmatch.load(empty)


def test_newest_modified_version_wins_and_older_ones_are_counted() -> None:
    old = indicator(EVIL, modified="2020-01-01T00:00:00Z")
    new = indicator("[domain-name:value = 'newer.example']", modified="2021-06-01T00:00:00.123456Z")
    loaded = iocmatch.load([new, old])
    assert _counts(loaded.report) == (2, 1, 0, 1)
    matcher = iocmatch.compile(loaded)
    assert matcher.scan_line("evil.example newer.example")[0].value == "newer.example"
    assert len(matcher.scan_line("evil.example")) == 0
    assert "superseded" in loaded.report.problems[0].reason


def test_lifecycle_exclusions_and_reference_time() -> None:
    objects = [
        indicator(EVIL, 1, revoked=True),
        indicator(EVIL, 2, valid_until="2021-01-01T00:00:00Z"),
        indicator(EVIL, 3, valid_from="2030-01-01T00:00:00Z"),
        indicator(EVIL, 4),
    ]
    now = iocmatch.load(objects)
    assert _counts(now.report) == (4, 1, 0, 3)
    reasons = sorted(p.reason.split(" ")[0] for p in now.report.problems)
    assert reasons == ["expired", "not", "revoked"]
    past = iocmatch.load(objects, as_of="2020-06-01T00:00:00Z")
    assert {i.id for i in past.indicators} == {objects[1]["id"], objects[3]["id"]}
    future = iocmatch.load(objects, as_of=datetime(2031, 1, 1, tzinfo=timezone.utc))
    assert {i.id for i in future.indicators} == {objects[2]["id"], objects[3]["id"]}
    retro = iocmatch.load(objects, ignore_validity=True)
    assert _counts(retro.report) == (4, 3, 0, 1)  # revoked stays out


def test_valid_until_equal_to_the_reference_time_is_expired() -> None:
    obj = indicator(EVIL, valid_until="2022-01-01T00:00:00Z")
    assert iocmatch.load(obj, as_of="2022-01-01T00:00:00Z").report.excluded == 1
    assert iocmatch.load(obj, as_of="2021-12-31T23:59:59Z").report.compiled == 1


def test_skipped_objects_carry_their_id_and_reason() -> None:
    objects: list[Any] = [  # JSON values as a feed holds them, one not an object at all
        indicator("title: sigma rule", 1, pattern_type="sigma"),
        indicator("[domain-name:value = 'a.example'", 2),
        indicator("[file:hashes.MD5 = '6E311F3AF7FBF98B0AF1241E26E07E4']", 3),
        {"type": "indicator", "pattern": EVIL},
        "not an object",
        indicator(EVIL, 4),
    ]
    report = iocmatch.load(objects).report
    assert _counts(report) == (6, 1, 5, 0)
    by_id = {p.id: p.reason for p in report.problems}
    assert "sigma" in by_id[objects[0]["id"]]
    assert "invalid STIX pattern" in by_id[objects[1]["id"]]
    assert "not a valid MD5" in by_id[objects[2]["id"]]
    assert any("no 'id'" in reason for reason in by_id.values())
    assert any("not a JSON object" in reason for reason in by_id.values())


def test_attribution_follows_indicates_then_attributed_to_chains() -> None:
    ind = indicator(EVIL)
    campaign = {"type": "campaign", "id": "campaign--1", "name": "Cloud Hopper"}
    intrusion_set = {"type": "intrusion-set", "id": "intrusion-set--1", "name": "APT10"}
    actor = {"type": "threat-actor", "id": "threat-actor--1", "name": "MSS Tianjin"}
    malware = {"type": "malware", "id": "malware--1", "name": "RedLeaves"}
    report = {"type": "report", "id": "report--1", "name": "not followed"}

    def rel(kind: str, source: str, target: str) -> dict[str, str]:
        return {
            "type": "relationship",
            "id": f"relationship--{source}{target}",
            "relationship_type": kind,
            "source_ref": source,
            "target_ref": target,
        }

    loaded = iocmatch.load(
        [
            ind,
            campaign,
            intrusion_set,
            actor,
            malware,
            report,
            rel("indicates", ind["id"], "campaign--1"),
            rel("indicates", ind["id"], "malware--1"),
            rel("attributed-to", "campaign--1", "intrusion-set--1"),
            rel("attributed-to", "intrusion-set--1", "threat-actor--1"),
            rel("related-to", ind["id"], "report--1"),
        ]
    )
    assert loaded.report.context["relationship"] == 5
    match = iocmatch.compile(loaded).scan_line("evil.example")[0]
    assert match.attribution == ("Cloud Hopper", "RedLeaves", "APT10", "MSS Tianjin")


def test_unit42_2022_playbook_compiles_all_37_indicators(corpus: Path) -> None:
    report = iocmatch.load(corpus / "pan-unit42_playbook_viewer" / "granite-taurus.json").report
    assert _counts(report) == (37, 37, 0, 0)
    assert report.kinds == {"domain-name": 12, "sha256": 25}
    assert report.context["relationship"] == 263


def test_unit42_2019_playbook_accounts_for_all_38_with_the_registry_key(corpus: Path) -> None:
    loaded = iocmatch.load(corpus / "pan-unit42_playbook_viewer" / "commit_7381733" / "menupass.json")
    assert _counts(loaded.report) == (38, 38, 0, 0)
    assert loaded.report.kinds["windows-registry-key"] == 1
    [warning] = loaded.report.warnings
    assert warning.id == "indicator--4a4c0e03-265a-4a12-8f29-ccbe1f054e02"
    assert "windows_registry_key" in warning.reason
    line = r"EventID=13 TargetObject=HKU\S-1-5-21-1\Software\Microsoft\Windows\CurrentVersion\Run\ISeC Croot Readr"
    [match] = iocmatch.compile(loaded, registry_aliases=True).scan_line(line)
    assert match.attribution == ("September - November 2016", "menuPass")
    assert match.text.startswith("HKU\\S-1-5-21-1\\Software")
    # Without aliases, only the key as published hits (the STIX reference verdict).
    assert iocmatch.compile(loaded).scan_line(line) == []
    assert len(iocmatch.compile(loaded).scan_line(line.replace("HKU\\S-1-5-21-1", "hkcu"))) == 1


def test_unit42_playbooks_loaded_together_merge_shared_ids(corpus: Path) -> None:
    folder = corpus / "pan-unit42_playbook_viewer"
    loaded = iocmatch.load(folder / "granite-taurus.json", folder / "commit_7381733" / "menupass.json")
    assert _counts(loaded.report) == (75, 38, 0, 37)
    # The same indicator, modified later in 2019: the later text wins.
    assert all("superseded" in p.reason or "duplicate" in p.reason for p in loaded.report.problems)


def test_malformed_context_objects_never_stop_a_load() -> None:
    ind = indicator(EVIL)
    objects = [
        ind,
        {
            "type": "relationship",
            "id": "relationship--1",
            "relationship_type": ["indicates"],
            "source_ref": ind["id"],
            "target_ref": "campaign--1",
        },
        {"type": "relationship"},  # no id: context, not an indicator
        {"type": "campaign", "id": "campaign--1", "name": ["not", "a", "string"]},
        {**indicator(EVIL, 2), "pattern": ["not a string"]},
    ]
    report = iocmatch.load(objects).report
    assert _counts(report) == (2, 1, 1, 0)
    assert report.context == {"campaign": 1, "relationship": 2}


def test_equal_modified_versions_resolve_the_same_in_any_order() -> None:
    live = indicator(EVIL)
    revoked = {**live, "revoked": True}
    for order in ([live, revoked], [revoked, live]):
        assert _counts(iocmatch.load(order).report) == (2, 0, 0, 2)


def test_a_bundle_inside_a_list_gives_its_objects() -> None:
    assert _counts(iocmatch.load([bundle(indicator(EVIL))]).report) == (1, 1, 0, 0)


def test_the_same_list_in_two_folders_keeps_both_sources(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "iocs.txt").write_text("evil.example\n")
    loaded = iocmatch.load(tmp_path / "a" / "iocs.txt", tmp_path / "b" / "iocs.txt")
    [match] = iocmatch.compile(loaded).scan_line("evil.example")
    assert match.sources == (str(tmp_path / "b" / "iocs.txt"), str(tmp_path / "a" / "iocs.txt"))


def test_a_valid_until_out_of_range_is_no_end_when_validity_is_ignored() -> None:
    # Year 1 in a zone ahead of UTC is before datetime's first day: it once stopped the load.
    obj = {**indicator(EVIL), "valid_until": "0001-01-01T00:00:00+01:00"}
    loaded = iocmatch.load(bundle(obj), ignore_validity=True)
    assert [(i.id, i.valid_until) for i in loaded.indicators] == [(obj["id"], None)]


@given(parts=st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"])), min_size=1, max_size=4))
def test_stable_ids_are_uuid5_of_their_parts(parts: list[str]) -> None:
    """Ids of indicators built from lists and CSV stay what they were: UUID 5 of the parts, joined by US."""
    expected = f"indicator--{uuid.uuid5(stix2_build.NAMESPACE, chr(31).join(parts))}"
    assert stix2_build.stable_id("indicator", *parts) == expected


@given(text=st.one_of(st.ip_addresses(v=4).map(str), st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,4}){2,4}\Z")))
def test_a_plain_ipv4_value_reads_as_ipaddress_reads_it(text: str) -> None:
    """The shortcut for dotted quads gives what ipaddress gives, and refuses what it refuses."""
    from iocmatch._common.errors import PatternError
    from iocmatch._common.model import IPV4, Atom
    from iocmatch._patterns.canonical import canonical_network, canonical_value, network_value
    from iocmatch._patterns.values import atom

    try:
        network = canonical_network(IPV4, text)
    except PatternError:
        with pytest.raises(PatternError):
            canonical_value(IPV4, text)
        with pytest.raises(PatternError):
            atom(IPV4, text)
        return
    assert canonical_value(IPV4, text) == network_value(network)
    assert atom(IPV4, text) == Atom(IPV4, network_value(network))


_DOTTED_NEAR_MISSES = st.from_regex(r"\A[0-9٣]{1,4}(\.[0-9]{1,4}){2,4}\s?\Z")


@given(text=st.one_of(st.ip_addresses(v=4).map(str), _DOTTED_NEAR_MISSES, st.text()))
def test_an_ipv4_address_is_told_as_ipaddress_tells_it(text: str) -> None:
    import ipaddress

    from iocmatch._common.addresses import is_ipv4

    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        assert not is_ipv4(text)
    else:
        assert is_ipv4(text)
