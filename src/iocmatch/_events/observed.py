"""A record as STIX 2.1 observed-data: the form a platform or the OASIS
reference matcher (stix2-matcher) reads what a log line saw.

One bundle holds one ``observed-data`` (``number_observed`` 1, observed at
the given moment) and the record's cyber-observable objects, with references
between them as ids. Ids are derived from ``number``, so the bundles of a run
are reproducible and records numbered apart never share an id.

The objects hold the properties the record holds and nothing else, so the
reference matcher compares what ``EventMatcher`` compares. Where a
mapping reads a property STIX 2.1 does not define (a process's ``name``,
kept from STIX 2.0 for the patterns written for it) or a record lacks one
STIX 2.1 requires (a Zeek http record's ``protocols``), a strict STIX 2.1
parser refuses the object; nothing is added or dropped to please it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .objects import Record, StixObject
from .predicates import LIST_PROPERTIES, stix_timestamp


def observed_data(record: Record, moment: datetime, number: int = 0) -> dict[str, Any]:
    """``record`` as a STIX 2.1 bundle of one observed-data at ``moment``.

    A property of several values is written as a list only where STIX has
    one (``LIST_PROPERTIES``), otherwise as its first value; a nested key
    (``extensions.http-request-ext.request_method``) becomes nested objects;
    a timestamp becomes STIX's text form. ``number`` (0 to 2**32 - 1) tells
    the ids of one record's bundle from another's.
    """
    prefix = f"{number:08x}"
    ids = {id(obj): f"{obj.type}--{prefix}-0000-4000-8000-{index:012d}" for index, obj in enumerate(record.objects)}
    stamp = stix_timestamp(moment)
    made = stamp if moment.microsecond else f"{stamp[:-1]}.000Z"  # STIX: created and modified to the millisecond
    observed = {
        "type": "observed-data",
        "id": f"observed-data--{prefix}-0000-4000-8000-000000000000",
        "spec_version": "2.1",
        "created": made,
        "modified": made,
        "first_observed": stamp,
        "last_observed": stamp,
        "number_observed": 1,
        "object_refs": list(ids.values()),
    }
    objects = [_observable(obj, ids) for obj in record.objects]
    return {"type": "bundle", "id": f"bundle--{prefix}-0000-4000-8000-000000000000", "objects": [observed, *objects]}


def _observable(obj: StixObject, ids: dict[int, str]) -> dict[str, Any]:
    written: dict[str, Any] = {"type": obj.type, "id": ids[id(obj)], "spec_version": "2.1"}
    for key, values in obj.properties.items():
        value = [_json_value(item) for item in values]
        *parents, last = key.split(".")
        place = written
        for parent in parents:
            place = place.setdefault(parent, {})
        place[last] = value if f"{obj.type}:{key}" in LIST_PROPERTIES else value[0]
    for name, targets in obj.refs.items():
        written[name] = [ids[id(target)] for target in targets] if name.endswith("_refs") else ids[id(targets[0])]
    return written


def _json_value(value: Any) -> Any:
    return stix_timestamp(value) if isinstance(value, datetime) else value
