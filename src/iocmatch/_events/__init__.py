"""Structured log records (ECS, Zeek, Suricata EVE, Sysmon, CEF) matched with
STIX semantics: each record's fields are read as the STIX objects its schema's
mapping names, and a pattern's comparisons are evaluated on their values.

    >>> from iocmatch._events import EventMatcher
    >>> matcher = EventMatcher(
    ...     [("indicator--c2", "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]")]
    ... )
    >>> line = ('{"_path": "conn", "ts": 1717171717.1, "uid": "C1", "id.orig_h": "10.0.0.5", '
    ...         '"id.orig_p": 49152, "id.resp_h": "203.0.113.9", "id.resp_p": 8060, "proto": "tcp"}')
    >>> matcher.match(line)
    [EventHit(indicator='indicator--c2', schema='zeek-conn', fields=('id.resp_h', 'id.resp_p'))]
    >>> matcher.match(line.replace("8060", "443"))
    []
"""

from .mapping import MappingError, SchemaMapping, bundled_mappings, read_mapping
from .matcher import EventHit, EventMatcher
from .stream import EventStream, Moment, StreamHit

__all__ = [
    "EventHit",
    "EventMatcher",
    "EventStream",
    "MappingError",
    "Moment",
    "SchemaMapping",
    "StreamHit",
    "bundled_mappings",
    "read_mapping",
]
