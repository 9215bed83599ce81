#!/usr/bin/env python3
"""Build the APT10 / menuPass STIX 2.1 bundle from the high-confidence published sources.

Inputs (read-only, from the corpus directory), with their publishers:
  clinthart2003_Selenium/IR-ALERT-MED-17-093-01-C.XML       US-CERT (NCCIC), STIX 1.1.1, alert TA17-117A
  janhenrikdotcom_iocs/Operation Cloud Hopper - ...v3.csv   PwC UK and BAE Systems, Cloud Hopper Annex A
  pan-unit42_playbook_viewer/granite-taurus.json           Unit 42 playbook (STIX 2.0), 2022
  pan-unit42_playbook_viewer/commit_7381733/menupass.json  Unit 42 playbook, 2019, for its registry key
  pan-unit42_iocs/menuPass                                  Unit 42 menuPass IOC list
  Neo23x0_signature-base/c2-iocs.APT10-extract.txt          signature-base (AlienVault OTX), domains
  Neo23x0_signature-base/hash-iocs.APT10-extract.txt        signature-base (AlienVault OTX), hashes
  mitre_cti/menuPass_G0045_extract.json                     ATT&CK G0045 names and aliases (no indicators)

Each file is read with iocmatch's own readers (iocmatch._feeds.reading.read_file);
rows a reader cannot turn into an indicator are printed with the reason and left
out. The result is one indicator per (publisher, value) as that publisher
published it, with created_by_ref, external_references and the publication's
dates, and `indicates` relationships to the campaign or intrusion-set the
publisher named.

Output: one STIX 2.1 bundle, one object per line, byte-identical on every run.

    python tools/build_campaign_data.py [--corpus DIR] [--out FILE] [--no-stix2]

Needs iocmatch installed (the project's venv: `make data`). When `stix2` is importable,
every object is also parsed with stix2 and every pattern with its grammar;
--no-stix2 skips that.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import iocmatch
from iocmatch import Problem
from iocmatch._feeds.reading import read_file
from iocmatch._patterns.clauses import compile_pattern

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "apt10"
DEFAULT_OUT = REPO / "data" / "apt10.stix21.json"

StixObject = dict[str, Any]

# Fixed, so that rebuilding never changes the file: the time the objects composed
# here (identities, intrusion-set, Cloud Hopper campaign, added relationships) were made.
COMPOSED_AT = "2026-11-28T00:00:00.000Z"

# Namespace for the uuid5 ids of composed objects.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "iocmatch:data:apt10")

# --- publishers and their publications ---------------------------------------

US_CERT = "US-CERT (NCCIC)"
PWC = "PwC UK and BAE Systems"
UNIT42 = "Palo Alto Networks Unit 42"
SIGBASE = "Florian Roth (signature-base), from AlienVault OTX"

PUBLISHERS: dict[str, dict[str, Any]] = {
    US_CERT: {
        "identity_class": "organization",
        "description": "The US Department of Homeland Security's National Cybersecurity and Communications "
        "Integration Center (NCCIC), which ran US-CERT; author of alert TA17-117A.",
        "external_references": [{"source_name": "US-CERT", "url": "https://www.us-cert.gov/"}],
    },
    PWC: {
        "identity_class": "organization",
        "description": "PwC UK's and BAE Systems' threat intelligence teams, joint authors of the "
        "Operation Cloud Hopper report and its Annex A indicators (April 2017).",
        "external_references": [
            {
                "source_name": "PwC Operation Cloud Hopper",
                "url": "https://www.pwc.co.uk/issues/cyber-security-services/insights/operation-cloud-hopper.html",
            }
        ],
    },
    UNIT42: {
        "identity_class": "organization",
        "description": "Palo Alto Networks' threat intelligence team; author of the adversary playbooks in "
        "https://github.com/pan-unit42/playbook_viewer and the IOC lists in https://github.com/pan-unit42/iocs.",
        "external_references": [{"source_name": "github", "url": "https://github.com/pan-unit42"}],
    },
    SIGBASE: {
        "identity_class": "individual",
        "description": "Florian Roth's signature-base (https://github.com/Neo23x0/signature-base), the IOC and "
        "YARA set of the LOKI and THOR scanners. Its APT10 section gathers the APT10 indicators published "
        "on AlienVault OTX (commit 5710d22, 2018-12-28) and a few from Kaspersky's A41APT report.",
        "external_references": [{"source_name": "github", "url": "https://github.com/Neo23x0/signature-base"}],
    },
}

# Where each indicator points with `indicates`, for the composed relationships.
CLOUD_HOPPER = "campaign"  # the Operation Cloud Hopper campaign
MENUPASS = "intrusion-set"  # the menuPass intrusion-set


@dataclass(frozen=True)
class Publication:
    """One published file: where it is in the corpus, where it was published, and by whom."""

    key: str  # a short label for reports
    publisher: str
    corpus_path: str
    repo: str
    repo_path: str
    commit: str
    licence: str
    title: str  # source_name of its external reference
    date: str  # created/modified/valid_from, unless the source carries its own
    original: tuple[tuple[str, str], ...] = ()  # (source_name, url) of the original publication
    anchor: str = ""  # lines of the file, for extracts
    target: str = MENUPASS
    confidence: str = "High"

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repo}/blob/{self.commit}/{quote(self.repo_path)}{self.anchor}"

    def reference(self) -> dict[str, str]:
        """The file at its commit (the commit and licence are on the publisher's identity)."""
        return {"source_name": self.title, "url": self.url}

    def full_reference(self) -> dict[str, str]:
        return {
            **self.reference(),
            "description": f"{self.repo_path} in {self.repo} at commit {self.commit} ({self.licence}).",
        }

    def references(self) -> list[dict[str, str]]:
        return [self.reference(), *({"source_name": name, "url": url} for name, url in self.original)]


TA17_117A = ("US-CERT alert TA17-117A", "https://www.us-cert.gov/ncas/alerts/TA17-117A")
PWC_ANNEX_A = (
    "PwC/BAE Operation Cloud Hopper Annex A (v3)",
    "https://www.pwc.co.uk/cyber-security/pdf/cloud-hopper-indicators-of-compromise-v3.pdf",
)

US_CERT_STIX = Publication(
    "us-cert",
    US_CERT,
    "clinthart2003_Selenium/IR-ALERT-MED-17-093-01-C.XML",
    "clinthart2003/Selenium",
    "files/STIX/Samples/IR-ALERT-MED-17-093-01-C.XML",
    "270c0fe1fc16be4cf6a20235a637ec2971b32344",
    "TLP:WHITE, DHS terms of use in the file; the repository has no licence file",
    "US-CERT STIX package IR-ALERT-MED-17-093-01",
    "",  # every indicator carries US-CERT's own timestamp
    original=(TA17_117A,),
    target=CLOUD_HOPPER,
)
PWC_CSV = Publication(
    "pwc",
    PWC,
    "janhenrikdotcom_iocs/Operation Cloud Hopper - Indicators of Compromise v3.csv",
    "janhenrikdotcom/iocs",
    "APT10/Operation Cloud Hopper - Indicators of Compromise v3.csv",
    "c7f4a6872a8704efe34de15edd9e4e9b367c2125",
    "TLP:WHITE per the repository's README; no licence file; content by PwC UK and BAE Systems",
    "Operation Cloud Hopper IOCs v3 (CSV)",
    # The report and Annex A came out on 3 April 2017; this copy was committed on 2017-04-06.
    "2017-04-03T00:00:00.000Z",
    original=(PWC_ANNEX_A,),
    target=CLOUD_HOPPER,
)
PLAYBOOK_2022 = Publication(
    "unit42-playbook",
    UNIT42,
    "pan-unit42_playbook_viewer/granite-taurus.json",
    "pan-unit42/playbook_viewer",
    "playbook_json/granite-taurus.json",
    "22c7d2f07a6a47853aea8c6aed5f26536427270b",
    "MIT licence",
    "Unit 42 playbook",
    "",  # Unit 42's own ids and dates
)
PLAYBOOK_2019 = Publication(
    "unit42-playbook-2019",
    UNIT42,
    "pan-unit42_playbook_viewer/commit_7381733/menupass.json",
    "pan-unit42/playbook_viewer",
    "playbook_json/menupass.json",
    "7381733df968a9495814f7caf85ec4e38bf8e3a4",
    "MIT licence",
    "Unit 42 playbook",
    "",
)
UNIT42_LIST = Publication(
    "unit42-list",
    UNIT42,
    "pan-unit42_iocs/menuPass",
    "pan-unit42/iocs",
    "menuPass",
    "316cf4837cb80a522e42a7a9192b682faceb8d7d",
    "MIT licence",
    "Unit 42 menuPass IOC list",
    # The list carries no dates: the date of the commit that last changed it.
    "2020-06-02T00:00:00.000Z",
)
SIGBASE_C2 = Publication(
    "signature-base-c2",
    SIGBASE,
    "Neo23x0_signature-base/c2-iocs.APT10-extract.txt",
    "Neo23x0/signature-base",
    "iocs/c2-iocs.txt",
    "8a89b3bf54517bbc35718460321d42536e1e6198",
    "Detection Rule License (DRL) 1.1",
    "signature-base c2-iocs.txt (APT10)",
    # Commit 5710d22 "APT10 IOCs - all publicly available IOCs from AlienVault OTX".
    "2018-12-28T00:00:00.000Z",
    anchor="#L105-L1538",
    confidence="Medium-High",
)
SIGBASE_HASH = Publication(
    "signature-base-hash",
    SIGBASE,
    "Neo23x0_signature-base/hash-iocs.APT10-extract.txt",
    "Neo23x0/signature-base",
    "iocs/hash-iocs.txt",
    "8a89b3bf54517bbc35718460321d42536e1e6198",
    "Detection Rule License (DRL) 1.1",
    "signature-base hash-iocs.txt (APT10)",
    "2018-12-28T00:00:00.000Z",
    confidence="Medium-High",
)
# Lines of hash-iocs.txt that cite Kaspersky's A41APT / Ecipekac report (not OTX):
# dated by that report, which they cannot predate.
SECURELIST_A41APT = (
    "Kaspersky Securelist: APT10 Ecipekac loader (A41APT)",
    "https://securelist.com/apt10-sophisticated-multi-layered-loader-ecipekac-discovered-in-a41apt-campaign/101519/",
)
SECURELIST_DATE = "2021-03-30T00:00:00.000Z"
# The heading of the c2-iocs.txt section (its lines carry no comment of their own).
SIGBASE_C2_SECTION = "APT10 C2 IOCs - Source: AlienVault OTX"

# Read in this order: within one publisher, the first publication of a value wins.
PUBLICATIONS = (US_CERT_STIX, PWC_CSV, PLAYBOOK_2022, PLAYBOOK_2019, UNIT42_LIST, SIGBASE_C2, SIGBASE_HASH)

MITRE_EXTRACT = "mitre_cti/menuPass_G0045_extract.json"
MITRE_GROUP_ID = "G0045"

# The 2019 registry-key indicator that later playbook versions dropped.
REGISTRY_INDICATOR_ID = "indicator--4a4c0e03-265a-4a12-8f29-ccbe1f054e02"
NONSTANDARD_REGISTRY_TYPE = "windows_registry_key:key"
STANDARD_REGISTRY_TYPE = "windows-registry-key:key"
# STIX 2.1 (windows-registry-key, `key`): the hive MUST be written in full.
HIVE_SHORT, HIVE_FULL = "HKCU", "HKEY_CURRENT_USER"

UNIT42_CAMPAIGN_NAME = "September - November 2016"

# Facts for the Cloud Hopper campaign; references taken from the ATT&CK extract by name.
CLOUD_HOPPER_NAME = "Operation Cloud Hopper"
CLOUD_HOPPER_DESCRIPTION = (
    "APT10's intrusions into managed IT service providers (MSPs) and, through "
    "their networks, into the MSPs' clients worldwide, reported by PwC UK and BAE "
    "Systems in April 2017 and by US-CERT in alert TA17-117A. In December 2018 the "
    "campaign was publicly attributed to APT10 by New Zealand's GCSB, the UK's NCSC "
    "and US-CERT, together with the US indictment of two APT10 members. The indicators "
    "of PwC/BAE's Annex A and of US-CERT's TA17-117A STIX package point at this campaign."
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


def value_key(pattern: str) -> tuple[tuple[tuple[str, str, str], ...], ...]:
    """What a pattern looks for, as canonical atoms: equal keys mean the same value(s)."""
    clauses = compile_pattern(pattern, "2.1").clauses
    return tuple(sorted(tuple(sorted((a.kind, a.value, a.mode) for a in clause)) for clause in clauses))


def kind_label(pattern: str) -> str:
    """How an indicator is counted in the reports: its kind, or its shape when it has several atoms."""
    clauses = compile_pattern(pattern, "2.1").clauses
    if len(clauses) == 1 and len(clauses[0]) == 1:
        return next(iter(clauses[0])).kind
    if all(len(clause) == 1 for clause in clauses):
        kinds = sorted({next(iter(clause)).kind for clause in clauses})
        return " or ".join(kinds)
    [clause] = clauses
    return " and ".join(sorted(atom.kind for atom in clause))


# --- identities, intrusion-set and campaigns ---------------------------------


def identity(name: str) -> StixObject:
    """A publisher, with the publications its indicators come from (file, commit, licence)."""
    publications: dict[str, dict[str, str]] = {}
    for source in PUBLICATIONS:
        if source.publisher == name:
            publications.setdefault(source.url, source.full_reference())
    details = PUBLISHERS[name]
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": stable_id("identity", name),
        "created": COMPOSED_AT,
        "modified": COMPOSED_AT,
        "name": name,
        "identity_class": details["identity_class"],
        "description": details["description"],
        "external_references": [*details["external_references"], *publications.values()],
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
        "external_references": [dict(attack_ref), PLAYBOOK_2022.full_reference()],
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
        "external_references": [
            *(mitre_reference(mitre_set, name) for name in CLOUD_HOPPER_MITRE_REFS),
            {"source_name": TA17_117A[0], "url": TA17_117A[1]},
        ],
    }


def unit42_malware(malware: StixObject, identity_id: str) -> StixObject:
    out = to_21(malware)
    out["created_by_ref"] = identity_id
    out["malware_types"] = out.pop("labels", [])
    out["is_family"] = True  # ChChes names a malware family, not one sample
    return out


def relationship(kind: str, source_id: str, target_id: str) -> StixObject:
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": stable_id("relationship", f"{kind}:{source_id}:{target_id}"),
        "created": COMPOSED_AT,
        "modified": COMPOSED_AT,
        "relationship_type": kind,
        "source_ref": source_id,
        "target_ref": target_id,
    }


# --- indicators: Unit 42's playbooks ------------------------------------------


def playbook_description(source: Publication) -> str:
    return (
        f"From Unit 42's playbook {source.repo_path} in {source.repo} at commit "
        f"{source.commit} ({source.licence}). Converted from STIX 2.0 to 2.1."
    )


def playbook_indicator(obj: StixObject, source: Publication, identity_id: str, note: str = "") -> StixObject:
    out = to_21(obj)
    out["pattern_type"] = "stix"
    out["pattern_version"] = "2.1"
    out["indicator_types"] = out.pop("labels")
    out["created_by_ref"] = identity_id
    out["description"] = playbook_description(source) + (f" {note}" if note else "")
    out["external_references"] = source.references()
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
    out = playbook_indicator(obj, PLAYBOOK_2019, identity_id, note)
    out["pattern"] = fixed
    # Like the other indicators, named by the value it looks for.
    out["name"] = fixed.split("'")[1].replace("\\\\", "\\")
    return out


def is_kept_relationship(obj: StixObject, kept_ids: set[str]) -> bool:
    """Unit 42's `indicates` and `attributed-to` between objects this bundle keeps."""
    return (
        obj["type"] == "relationship"
        and obj["relationship_type"] in ("indicates", "attributed-to")
        and obj["source_ref"] in kept_ids
        and obj["target_ref"] in kept_ids
    )


def kept_relationship(obj: StixObject, identity_id: str) -> StixObject:
    out = to_21(obj)
    out["created_by_ref"] = identity_id
    return out


# --- indicators: everything read by iocmatch's readers -----------------------


def from_reader(obj: StixObject, source: Publication, identity_id: str) -> StixObject:
    """A reader's indicator with the publication's provenance and dates.

    The id, pattern and name are the reader's; so are US-CERT's timestamps,
    description, kill chain phases and sightings. Lists carry no dates: they
    get the publication's date.
    """
    out = dict(obj)
    out["created_by_ref"] = identity_id
    references = source.references()
    description = out.get("description", "")
    if source is US_CERT_STIX:
        # The reader names the package (its id); keep the links US-CERT wrote in the description.
        package = [ref["external_id"] for ref in obj["external_references"] if "external_id" in ref]
        if package:
            references[0]["external_id"] = package[0]
        references += [ref for ref in obj["external_references"] if ref.get("url") and ref not in references]
        out["external_references"] = references
        return out
    date = source.date
    out.pop("description", None)
    if source.publisher == SIGBASE:
        if SECURELIST_A41APT[1] in description:
            date = SECURELIST_DATE
            references.append({"source_name": SECURELIST_A41APT[0], "url": SECURELIST_A41APT[1]})
        comment = description or SIGBASE_C2_SECTION
        out["description"] = f"{comment} (signature-base). Confidence: {source.confidence}."
    out["external_references"] = references
    out["created"] = out["modified"] = out["valid_from"] = date
    return out


def merged_reference(indicator: StixObject, source: Publication) -> bool:
    """The same value in a second publication of the same publisher: one indicator, both
    references. False when that publication was already referenced (a repeated line)."""
    reference = source.reference()
    if reference in indicator["external_references"]:
        return False
    indicator["external_references"].append(reference)
    return True


@dataclass
class Read:
    """What one publication gave: its indicators (before de-duplication) and its problems."""

    source: Publication
    objects: list[StixObject]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def read_publication(corpus: Path, source: Publication) -> Read:
    read = read_file(corpus / source.corpus_path)
    objects = [obj for obj in read.objects if isinstance(obj, dict) and obj.get("type") == "indicator"]
    return Read(source, objects, read.problems, read.warnings)


# --- the bundle --------------------------------------------------------------


@dataclass
class Build:
    bundle: StixObject
    reads: list[Read]
    kept: dict[str, int]  # publication key -> indicators it contributed
    merged: dict[str, int]  # publication key -> values it shared with an earlier publication of its publisher


def build(corpus: Path) -> Build:
    mitre_set = mitre_intrusion_set(corpus)
    identities = {name: identity(name) for name in PUBLISHERS}
    ident = {name: obj["id"] for name, obj in identities.items()}

    playbook_2022 = load_objects(corpus / PLAYBOOK_2022.corpus_path)
    playbook_2019 = load_objects(corpus / PLAYBOOK_2019.corpus_path)
    [unit42_set] = [o for o in playbook_2022 if o["type"] == "intrusion-set"]
    hopper = cloud_hopper_campaign(mitre_set)
    targets = {CLOUD_HOPPER: hopper["id"], MENUPASS: unit42_set["id"]}

    context: list[StixObject] = [*identities.values(), intrusion_set(unit42_set, mitre_set), hopper]
    for obj in playbook_2022:
        if obj["type"] == "campaign":
            context.append(unit42_campaign(obj, ident[UNIT42]))
        elif obj["type"] == "malware":
            context.append(unit42_malware(obj, ident[UNIT42]))
    relationships = [relationship("attributed-to", hopper["id"], unit42_set["id"])]

    indicators: dict[str, StixObject] = {}
    by_value: dict[tuple[str, Any], StixObject] = {}  # (publisher, value key) -> indicator
    kept: Counter[str] = Counter()
    merged: Counter[str] = Counter()
    reads: list[Read] = []

    def add(indicator: StixObject, source: Publication, target: str | None) -> None:
        key = (source.publisher, value_key(indicator["pattern"]))
        earlier = by_value.get(key)
        if earlier is not None:
            if earlier["id"] != indicator["id"] and merged_reference(earlier, source):
                merged[source.key] += 1
            return
        by_value[key] = indicators[indicator["id"]] = indicator
        kept[source.key] += 1
        if target is not None:
            relationships.append(relationship("indicates", indicator["id"], targets[target]))

    for source in PUBLICATIONS:
        if source is PLAYBOOK_2022:
            for obj in playbook_2022:
                if obj["type"] == "indicator":
                    add(playbook_indicator(obj, source, ident[UNIT42]), source, None)
            continue
        if source is PLAYBOOK_2019:
            [registry] = [o for o in playbook_2019 if o["id"] == REGISTRY_INDICATOR_ID]
            add(registry_indicator(registry, ident[UNIT42]), source, None)
            continue
        read = read_publication(corpus, source)
        reads.append(read)
        for obj in read.objects:
            add(from_reader(obj, source, ident[source.publisher]), source, source.target)

    # Unit 42's own relationships, as Unit 42 published them.
    kept_ids = set(indicators) | {o["id"] for o in context}
    relationships += [kept_relationship(o, ident[UNIT42]) for o in playbook_2022 if is_kept_relationship(o, kept_ids)]
    relationships += [
        kept_relationship(o, ident[UNIT42])
        for o in playbook_2019
        if is_kept_relationship(o, kept_ids) and o["source_ref"] == REGISTRY_INDICATOR_ID
    ]

    objects = sorted([*indicators.values(), *context, *relationships], key=lambda o: (o["type"], o["id"]))
    bundle = {"type": "bundle", "id": stable_id("bundle", "apt10.stix21"), "objects": objects}
    check_structure(bundle, expected_indicators=sum(kept.values()))
    return Build(bundle, reads, dict(kept), dict(merged))


def check_structure(bundle: StixObject, expected_indicators: int) -> None:
    """Checks that hold whatever is installed: unique ids, no dangling refs,
    every indicator live, from a named publisher, and pointing at something."""
    objects = bundle["objects"]
    counts = Counter(o["id"] for o in objects)
    problems = [f"duplicate id {i}" for i, n in sorted(counts.items()) if n > 1]
    known = set(counts)
    indicates = {o["source_ref"] for o in objects if o.get("relationship_type") == "indicates"}
    for obj in objects:
        if obj.get("spec_version") != "2.1":
            problems.append(f"{obj['id']}: spec_version is not 2.1")
        problems.extend(
            f"{obj['id']}: {key} {obj[key]} is not in the bundle"
            for key in ("source_ref", "target_ref", "created_by_ref")
            if key in obj and obj[key] not in known
        )
        if obj["type"] == "indicator":
            if "valid_until" in obj or obj.get("revoked"):
                problems.append(f"{obj['id']}: not live")
            if not obj.get("external_references") or "created_by_ref" not in obj:
                problems.append(f"{obj['id']}: no provenance")
            if not obj["created"] <= obj["modified"] or not obj.get("valid_from"):
                problems.append(f"{obj['id']}: dates missing or out of order")
            if obj["id"] not in indicates:
                problems.append(f"{obj['id']}: indicates nothing")
    count = sum(o["type"] == "indicator" for o in objects)
    if count != expected_indicators:
        problems.append(f"{count} indicators, expected {expected_indicators}")
    if problems:
        raise SystemExit("bundle check failed:\n  " + "\n  ".join(problems))


def validate_with_stix2(bundle: StixObject) -> str:
    """Parse every object with stix2 and every pattern with its grammar, if stix2 is installed.

    stix2.parse refuses some valid patterns (SEMANTICS.md: `file:hashes.MD5 IN (...)`):
    an indicator whose pattern the grammar accepts is then reported, not failed.
    """
    try:
        import stix2
        from stix2.pattern_visitor import create_pattern_object
    except ImportError:
        return "stix2 not installed: skipped validation with stix2"
    disagreements: list[str] = []
    for obj in bundle["objects"]:
        if obj["type"] == "indicator":
            create_pattern_object(obj["pattern"], version="2.1")
        try:
            stix2.parse(obj, allow_custom=True)
        except Exception as exc:  # noqa: BLE001 - stix2 raises many types; any of them is reported
            if obj["type"] != "indicator":
                raise SystemExit(f"{obj['id']}: stix2 refuses it: {exc}") from None
            disagreements.append(f"{obj['id']}: stix2.parse refuses a pattern its grammar accepts: {exc}")
    summary = f"validated {len(bundle['objects'])} objects with stix2 {stix2.__version__}"
    if disagreements:
        summary += f"; stix2.parse disagrees on {len(disagreements)}:\n  " + "\n  ".join(disagreements)
    return summary


def render(bundle: StixObject) -> str:
    """One object per line, so that a rebuild's diff shows what changed."""
    head = json.dumps({"type": "bundle", "id": bundle["id"]}, ensure_ascii=False)[:-1]
    lines = [json.dumps(obj, sort_keys=True, ensure_ascii=False) for obj in bundle["objects"]]
    return head + ', "objects": [\n' + ",\n".join(lines) + "\n]}\n"


# --- reports -----------------------------------------------------------------


def publisher_of(bundle: StixObject) -> dict[str, str]:
    names = {o["id"]: o["name"] for o in bundle["objects"] if o["type"] == "identity"}
    return {o["id"]: names[o["created_by_ref"]] for o in bundle["objects"] if o["type"] == "indicator"}


def counts_report(bundle: StixObject) -> list[str]:
    objects = bundle["objects"]
    by_type = Counter(o["type"] for o in objects)
    lines = [f"objects {len(objects)}: " + ", ".join(f"{kind} {n}" for kind, n in sorted(by_type.items()))]
    publisher = publisher_of(bundle)
    table: dict[str, Counter[str]] = {}
    for obj in objects:
        if obj["type"] == "indicator":
            table.setdefault(publisher[obj["id"]], Counter())[kind_label(obj["pattern"])] += 1
    for name in PUBLISHERS:
        kinds = table.get(name, Counter())
        detail = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        lines.append(f"  {name}: {sum(kinds.values())} indicators ({detail})")
    relationships = Counter(
        (o["relationship_type"], o["target_ref"].split("--")[0]) for o in objects if o["type"] == "relationship"
    )
    lines.append(
        "relationships: " + ", ".join(f"{t} -> {target} {n}" for (t, target), n in sorted(relationships.items()))
    )
    return lines


def problems_report(reads: Iterable[Read]) -> list[str]:
    """Rows the readers could not convert, per source, with the reasons (left out of the bundle)."""
    lines = []
    for read in reads:
        lines.append(f"{read.source.corpus_path}: {len(read.problems)} left out")
        for problem in read.problems:
            where = problem.id.rsplit(":", 1)[-1] if problem.id.startswith("/") else problem.id
            lines.append(f"  {where}: {problem.reason}")
        if read.warnings:
            reasons = Counter(_warning_kind(w.reason) for w in read.warnings)
            lines.append(
                f"  {len(read.warnings)} warnings on kept indicators: "
                + "; ".join(f"{reason} ({n})" for reason, n in sorted(reasons.items()))
            )
    return lines


def _warning_kind(reason: str) -> str:
    return re.sub(r"'[^']*'", "'…'", reason)


def load_report(bundle: StixObject) -> list[str]:
    """iocmatch's own load of the bundle: every indicator read must compile."""
    loaded = iocmatch.load(bundle, ignore_validity=False)
    report = loaded.report
    lines = [
        (
            f"iocmatch.load: read {report.read}, compiled {report.compiled}, skipped {report.skipped}, "
            f"excluded {report.excluded}, warnings {len(report.warnings)}"
        ),
        "  unique values by kind: " + ", ".join(f"{kind} {n}" for kind, n in report.kinds.items()),
    ]
    indicators = sum(o["type"] == "indicator" for o in bundle["objects"])
    if not (report.read == report.compiled == indicators) or report.problems:
        details = "\n  ".join(f"{p.id}: {p.reason}" for p in report.problems)
        raise SystemExit("\n".join(lines) + f"\nnot every indicator compiles:\n  {details}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="corpus/apt10 directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle to write")
    parser.add_argument("--no-stix2", action="store_true", help="skip validation with stix2")
    args = parser.parse_args(argv)

    if not args.corpus.is_dir():
        parser.error(f"corpus directory not found: {args.corpus}")
    built = build(args.corpus)
    report = ["rows the readers could not convert (not in the bundle):", *problems_report(built.reads)]
    report.append(
        "indicators kept per publication: "
        + ", ".join(f"{s.key} {built.kept.get(s.key, 0)}" for s in PUBLICATIONS)
        + "; values already published by the same publisher (one indicator, both references): "
        + ", ".join(f"{key} {n}" for key, n in sorted(built.merged.items()))
    )
    report += counts_report(built.bundle)
    report += load_report(built.bundle)
    if not args.no_stix2:
        report.append(validate_with_stix2(built.bundle))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(built.bundle), encoding="utf-8")
    report.append(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    print("\n".join(report), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
