#!/usr/bin/env python3
"""Build the APT10 / menuPass STIX 2.1 bundle from Unit 42's STIX 2.0 playbooks.

Inputs (read-only, from the corpus directory):
  pan-unit42_playbook_viewer/granite-taurus.json           2022 playbook, 37 indicators
  pan-unit42_playbook_viewer/commit_7381733/menupass.json  2019 playbook, for its registry key
  mitre_cti/menuPass_G0045_extract.json                    ATT&CK G0045 names and aliases

Output: one STIX 2.1 bundle, byte-identical on every run (no clock, no random ids).

    python tools/build_campaign_data.py [--corpus DIR] [--out FILE]

Standard library only. When the `stix2` package is importable, the result is also
validated with it (every object, every pattern); pass --no-stix2 to skip that.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "apt10"
DEFAULT_OUT = REPO / "data" / "apt10.stix21.json"

StixObject = dict[str, Any]

# Fixed, so that rebuilding never changes the file: the time the objects composed
# here (identity, intrusion-set, Cloud Hopper campaign, added relationships) were made.
COMPOSED_AT = "2026-11-28T00:00:00.000Z"

# Namespace for the uuid5 ids of composed objects.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "iocmatch:data:apt10")

PLAYBOOK_REPO = "pan-unit42/playbook_viewer"
PLAYBOOK_LICENCE = "MIT"
UNIT42_NAME = "Palo Alto Networks Unit 42"


class Source:
    """One published file: where it lives in the corpus and where it was published."""

    def __init__(self, corpus_path: str, repo_path: str, commit: str, label: str) -> None:
        self.corpus_path = corpus_path
        self.repo_path = repo_path
        self.commit = commit
        self.label = label

    @property
    def url(self) -> str:
        return f"https://github.com/{PLAYBOOK_REPO}/blob/{self.commit}/{self.repo_path}"

    def describe(self) -> str:
        return (
            f"From Unit 42's {self.label} playbook: {self.repo_path} in "
            f"{PLAYBOOK_REPO} at commit {self.commit} ({PLAYBOOK_LICENCE} licence). "
            "Converted from STIX 2.0 to 2.1."
        )


PLAYBOOK_2022 = Source(
    "pan-unit42_playbook_viewer/granite-taurus.json",
    "playbook_json/granite-taurus.json",
    "22c7d2f07a6a47853aea8c6aed5f26536427270b",
    "Granite Taurus (menuPass)",
)
PLAYBOOK_2019 = Source(
    "pan-unit42_playbook_viewer/commit_7381733/menupass.json",
    "playbook_json/menupass.json",
    "7381733df968a9495814f7caf85ec4e38bf8e3a4",
    "menuPass (first, 2019)",
)
MITRE_EXTRACT = "mitre_cti/menuPass_G0045_extract.json"
MITRE_GROUP_ID = "G0045"

# The 2019 registry-key indicator that later playbook versions dropped.
REGISTRY_INDICATOR_ID = "indicator--4a4c0e03-265a-4a12-8f29-ccbe1f054e02"
NONSTANDARD_REGISTRY_TYPE = "windows_registry_key:key"
STANDARD_REGISTRY_TYPE = "windows-registry-key:key"
# STIX 2.1 (windows-registry-key, `key`): the hive MUST be written in full.
HIVE_SHORT, HIVE_FULL = "HKCU", "HKEY_CURRENT_USER"

KEPT_CONTEXT_TYPES = {"campaign", "malware"}
UNIT42_CAMPAIGN_NAME = "September - November 2016"

# Facts for the Cloud Hopper campaign; references taken from the ATT&CK extract by name.
CLOUD_HOPPER_NAME = "Operation Cloud Hopper"
CLOUD_HOPPER_DESCRIPTION = (
    "APT10's intrusions into managed IT service providers (MSPs) and, through "
    "their networks, into the MSPs' clients worldwide, reported by PwC UK and BAE "
    "Systems in April 2017. In December 2018 the campaign was publicly attributed "
    "to APT10 by New Zealand's GCSB, the UK's NCSC and US-CERT, together with the "
    "US indictment of two APT10 members. No indicator in this bundle points at this "
    "campaign yet: the Unit 42 indicators belong to Unit 42's campaign "
    '"September - November 2016".'
)
CLOUD_HOPPER_MITRE_REFS = ("PWC Cloud Hopper April 2017", "DOJ APT10 Dec 2018")


# --- helpers -----------------------------------------------------------------


def stable_id(stix_type: str, key: str) -> str:
    """A uuid5 id, so composed objects keep their id across rebuilds."""
    return f"{stix_type}--{uuid.uuid5(ID_NAMESPACE, f'{stix_type}:{key}')}"


def load_objects(path: Path) -> list[StixObject]:
    with path.open(encoding="utf-8") as handle:
        objects: list[StixObject] = json.load(handle)["objects"]
    return objects


def by_id(objects: list[StixObject]) -> dict[str, StixObject]:
    return {obj["id"]: obj for obj in objects}


def full_timestamp(value: str) -> str:
    """STIX timestamps need a time; the 2019 playbook wrote bare dates."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return f"{value}T00:00:00.000Z"
    return value


def to_21(obj: StixObject) -> StixObject:
    """The changes every SDO/SRO needs from 2.0 to 2.1, on a copy."""
    out = {key: value for key, value in obj.items() if not key.startswith("x_")}
    out["spec_version"] = "2.1"
    return out


# --- identity, intrusion-set and campaigns -----------------------------------


def unit42_identity() -> StixObject:
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": stable_id("identity", UNIT42_NAME),
        "created": COMPOSED_AT,
        "modified": COMPOSED_AT,
        "name": UNIT42_NAME,
        "identity_class": "organization",
        "description": "Palo Alto Networks' threat intelligence team; author of the "
        "adversary playbooks in https://github.com/pan-unit42/playbook_viewer.",
        "external_references": [{"source_name": "github", "url": f"https://github.com/{PLAYBOOK_REPO}"}],
    }


def mitre_intrusion_set(corpus: Path) -> StixObject:
    objects = load_objects(corpus / MITRE_EXTRACT)
    sets = [obj for obj in objects if obj["type"] == "intrusion-set"]
    if len(sets) != 1:
        raise SystemExit(f"{MITRE_EXTRACT}: expected one intrusion-set, found {len(sets)}")
    return sets[0]


def mitre_reference(mitre_set: StixObject, source_name: str) -> dict[str, str]:
    for ref in mitre_set["external_references"]:
        if ref["source_name"] == source_name:
            return dict(ref)
    raise SystemExit(f"{MITRE_EXTRACT}: no external reference named {source_name!r}")


def intrusion_set(unit42_set: StixObject, mitre_set: StixObject) -> StixObject:
    """Unit 42's intrusion-set id (named menuPass in 2019, Granite Taurus in 2022),
    under the ATT&CK name, with ATT&CK's aliases plus Unit 42's current name."""
    name = mitre_set["name"]
    aliases = [alias for alias in mitre_set["aliases"] if alias != name]
    if unit42_set["name"] not in aliases:
        aliases.append(unit42_set["name"])
    attack_ref = next(ref for ref in mitre_set["external_references"] if ref.get("external_id") == MITRE_GROUP_ID)
    return {
        "type": "intrusion-set",
        "spec_version": "2.1",
        "id": unit42_set["id"],
        "created": unit42_set["created"],
        "modified": COMPOSED_AT,
        "name": name,
        "aliases": aliases,
        "description": (
            f"{name} (MITRE ATT&CK {MITRE_GROUP_ID}), also known as APT10, active since "
            f"at least 2006. Unit 42 has called it {unit42_set['name']} since July 2022. "
            "Id and created time from Unit 42's playbook; name and aliases from ATT&CK."
        ),
        "external_references": [
            dict(attack_ref),
            {
                "source_name": "Unit 42 playbook",
                "description": PLAYBOOK_2022.describe(),
                "url": PLAYBOOK_2022.url,
            },
        ],
    }


def unit42_campaign(campaign: StixObject, identity_id: str) -> StixObject:
    out = to_21(campaign)
    out["created_by_ref"] = identity_id
    for key in ("first_seen", "last_seen"):
        if key in out:
            out[key] = full_timestamp(out[key])
    return out


def cloud_hopper_campaign(mitre_set: StixObject) -> StixObject:
    return {
        "type": "campaign",
        "spec_version": "2.1",
        "id": stable_id("campaign", CLOUD_HOPPER_NAME),
        "created": COMPOSED_AT,
        "modified": COMPOSED_AT,
        "name": CLOUD_HOPPER_NAME,
        "description": CLOUD_HOPPER_DESCRIPTION,
        "external_references": [mitre_reference(mitre_set, name) for name in CLOUD_HOPPER_MITRE_REFS],
    }


def unit42_malware(malware: StixObject, identity_id: str) -> StixObject:
    out = to_21(malware)
    out["created_by_ref"] = identity_id
    out["malware_types"] = out.pop("labels", [])
    out["is_family"] = True  # ChChes names a malware family, not one sample
    return out


def attributed_to(campaign_id: str, set_id: str) -> StixObject:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": stable_id("relationship", f"attributed-to:{campaign_id}:{set_id}"),
        "created": COMPOSED_AT,
        "modified": COMPOSED_AT,
        "relationship_type": "attributed-to",
        "source_ref": campaign_id,
        "target_ref": set_id,
    }


# --- indicators and their relationships --------------------------------------


def indicator(obj: StixObject, source: Source, identity_id: str, note: str = "") -> StixObject:
    out = to_21(obj)
    out["pattern_type"] = "stix"
    out["pattern_version"] = "2.1"
    out["indicator_types"] = out.pop("labels")
    out["created_by_ref"] = identity_id
    out["description"] = source.describe() + (f" {note}" if note else "")
    out["external_references"] = [
        {"source_name": "Unit 42 playbook", "description": source.describe(), "url": source.url}
    ]
    # Live now: the scan's default validity window must include every indicator.
    out.pop("valid_until", None)
    return out


def registry_indicator(obj: StixObject, identity_id: str) -> StixObject:
    pattern = obj["pattern"]
    if NONSTANDARD_REGISTRY_TYPE not in pattern:
        raise SystemExit(f"{obj['id']}: expected {NONSTANDARD_REGISTRY_TYPE} in {pattern!r}")
    # The key is the pattern's only string literal, where a backslash is written as two.
    fixed = pattern.replace(NONSTANDARD_REGISTRY_TYPE, STANDARD_REGISTRY_TYPE)
    fixed = fixed.replace(f"'{HIVE_SHORT}\\\\", f"'{HIVE_FULL}\\\\")
    note = (
        "Dropped from later playbook versions. Pattern rewritten: Unit 42 wrote the "
        f"non-standard object type `{NONSTANDARD_REGISTRY_TYPE}`, STIX names it "
        f"`{STANDARD_REGISTRY_TYPE}`; the hive `{HIVE_SHORT}` is written in full as "
        f"`{HIVE_FULL}`, as STIX 2.1 requires. Original pattern: {pattern}"
    )
    out = indicator(obj, PLAYBOOK_2019, identity_id, note)
    out["pattern"] = fixed
    # Like the other indicators, named by the value it looks for.
    out["name"] = fixed.split("'")[1].replace("\\\\", "\\")
    return out


def kept_relationship(obj: StixObject, identity_id: str) -> StixObject:
    out = to_21(obj)
    out["created_by_ref"] = identity_id
    return out


def is_kept_relationship(obj: StixObject, kept_ids: set[str]) -> bool:
    """Unit 42's `indicates` and `attributed-to` between objects this bundle keeps."""
    return (
        obj["type"] == "relationship"
        and obj["relationship_type"] in ("indicates", "attributed-to")
        and obj["source_ref"] in kept_ids
        and obj["target_ref"] in kept_ids
    )


# --- the bundle --------------------------------------------------------------


def build(corpus: Path) -> StixObject:
    objects_2022 = load_objects(corpus / PLAYBOOK_2022.corpus_path)
    objects_2019 = load_objects(corpus / PLAYBOOK_2019.corpus_path)
    mitre_set = mitre_intrusion_set(corpus)
    identity = unit42_identity()
    ident = identity["id"]

    indicators = [indicator(o, PLAYBOOK_2022, ident) for o in objects_2022 if o["type"] == "indicator"]
    registry = registry_indicator(by_id(objects_2019)[REGISTRY_INDICATOR_ID], ident)
    indicators.append(registry)

    [unit42_set] = [o for o in objects_2022 if o["type"] == "intrusion-set"]
    context: list[StixObject] = [identity, intrusion_set(unit42_set, mitre_set)]
    for obj in objects_2022:
        if obj["type"] == "campaign":
            context.append(unit42_campaign(obj, ident))
        elif obj["type"] == "malware":
            context.append(unit42_malware(obj, ident))
    hopper = cloud_hopper_campaign(mitre_set)
    context.append(hopper)
    context.append(attributed_to(hopper["id"], unit42_set["id"]))

    kept_ids = {o["id"] for o in indicators + context}
    relationships = [kept_relationship(o, ident) for o in objects_2022 if is_kept_relationship(o, kept_ids)]
    relationships += [
        kept_relationship(o, ident)
        for o in objects_2019
        if is_kept_relationship(o, kept_ids) and o["source_ref"] == REGISTRY_INDICATOR_ID
    ]

    objects = sorted(indicators + context + relationships, key=lambda o: (o["type"], o["id"]))
    bundle = {
        "type": "bundle",
        "id": stable_id("bundle", "apt10.stix21"),
        "objects": objects,
    }
    check_structure(bundle, expected_indicators=len(indicators))
    return bundle


def check_structure(bundle: StixObject, expected_indicators: int) -> None:
    """Stdlib checks that hold whatever is installed: unique ids, no dangling refs,
    every indicator live and from a named source."""
    objects = bundle["objects"]
    ids = [o["id"] for o in objects]
    problems = [f"duplicate id {i}" for i in sorted(set(ids)) if ids.count(i) > 1]
    known = set(ids)
    for obj in objects:
        if obj.get("spec_version") != "2.1":
            problems.append(f"{obj['id']}: spec_version is not 2.1")
        for key in ("source_ref", "target_ref", "created_by_ref"):
            if key in obj and obj[key] not in known:
                problems.append(f"{obj['id']}: {key} {obj[key]} is not in the bundle")
        if obj["type"] == "indicator":
            if "valid_until" in obj or obj.get("revoked"):
                problems.append(f"{obj['id']}: not live")
            if not obj.get("external_references") or "created_by_ref" not in obj:
                problems.append(f"{obj['id']}: no provenance")
    count = sum(o["type"] == "indicator" for o in objects)
    if count != expected_indicators:
        problems.append(f"{count} indicators, expected {expected_indicators}")
    if problems:
        raise SystemExit("bundle check failed:\n  " + "\n  ".join(problems))


def validate_with_stix2(bundle: StixObject) -> str:
    """Parse every object and every pattern with the stix2 library, if installed."""
    try:
        import stix2
        from stix2.pattern_visitor import create_pattern_object
    except ImportError:
        return "stix2 not installed: skipped validation with stix2"
    for obj in bundle["objects"]:
        stix2.parse(obj, allow_custom=False)
        if obj["type"] == "indicator":
            create_pattern_object(obj["pattern"], version="2.1")
    return f"validated {len(bundle['objects'])} objects with stix2 {stix2.__version__}"


def render(bundle: StixObject) -> str:
    return json.dumps(bundle, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def summary(bundle: StixObject) -> str:
    counts: dict[str, int] = {}
    for obj in bundle["objects"]:
        counts[obj["type"]] = counts.get(obj["type"], 0) + 1
    return ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus/apt10 directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle to write")
    parser.add_argument("--no-stix2", action="store_true", help="skip validation with stix2")
    args = parser.parse_args(argv)

    if not args.corpus.is_dir():
        parser.error(f"corpus directory not found: {args.corpus}")
    bundle = build(args.corpus)
    if not args.no_stix2:
        print(validate_with_stix2(bundle), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(bundle), encoding="utf-8")
    print(f"wrote {args.out}: {summary(bundle)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
