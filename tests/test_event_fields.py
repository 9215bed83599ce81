"""Structured records (Zeek, ECS, Sysmon, Suricata EVE, CEF) matched with STIX
semantics: each record's fields read as STIX objects, patterns evaluated on
their values, and the result checked against the OASIS reference matcher."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from typing import Any

import pytest
import stix2

from iocmatch._common.model import IndicatorSet, LoadReport
from iocmatch._events import EventMatcher, MappingError, bundled_mappings, read_mapping
from iocmatch._events.objects import Record
from iocmatch._events.observed import observed_data
from iocmatch._events.records import RecordReader

stix2matcher = pytest.importorskip("stix2matcher.matcher", reason="stix2-matcher is in the test extra")

ZEEK_CONN_COLUMNS = {
    "ts": "time",
    "uid": "string",
    "id.orig_h": "addr",
    "id.orig_p": "port",
    "id.resp_h": "addr",
    "id.resp_p": "port",
    "proto": "enum",
    "service": "string",
    "duration": "interval",
    "orig_bytes": "count",
    "resp_bytes": "count",
    "conn_state": "string",
    "local_orig": "bool",
    "local_resp": "bool",
    "missed_bytes": "count",
    "history": "string",
    "orig_pkts": "count",
    "orig_ip_bytes": "count",
    "resp_pkts": "count",
    "resp_ip_bytes": "count",
    "tunnel_parents": "set[string]",
}
ZEEK_CONN_HEADER = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\tconn",
    "#open\t2024-05-31-16-08-37",
    "\t".join(["#fields", *ZEEK_CONN_COLUMNS]),
    "\t".join(["#types", *ZEEK_CONN_COLUMNS.values()]),
]
ZEEK_CONN_LINE = (
    "1717171717.123456\tCHhAvVGS1DHFjwGM9\t10.20.1.15\t49732\t203.0.113.9\t8060\ttcp\t-\t3.004\t517\t1430\tSF"
    "\tT\tF\t0\tShADadFf\t8\t849\t6\t1750\t(empty)"
)
HASH_PS = "9785001b0dcf755eddb8af294a373c0b87b2498660f724e76c4d53f9c217c7a3"
SYSMON: dict[str, Any] = {
    "@timestamp": "2024-05-31T16:10:02.481Z",
    "ecs": {"version": "8.0.0"},
    "event": {"code": "1", "kind": "event", "category": ["process"], "type": ["start"], "module": "sysmon"},
    "host": {"name": "WS-042"},
    "winlog": {
        "channel": "Microsoft-Windows-Sysmon/Operational",
        "event_id": "1",
        "provider_name": "Microsoft-Windows-Sysmon",
        "computer_name": "WS-042.corp.example",
        "event_data": {
            "RuleName": "-",
            "UtcTime": "2024-05-31 16:10:02.470",
            "ProcessGuid": "{5e1b2a4c-f9aa-6659-3a02-000000001c00}",
            "ProcessId": "6120",
            "Image": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "CommandLine": "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0A",
            "CurrentDirectory": "C:\\Users\\alice\\",
            "User": "CORP\\alice",
            "Hashes": f"SHA1=6CBCE4A295C163791B60FC23D285E6D84F28EE4C,MD5=7353F60B1739074EB17C5F4DDDEFE239,"
            f"SHA256={HASH_PS.upper()},IMPHASH=741776AACCFC5B71FF59832DCDCACE0F",
            "ParentImage": "C:\\Windows\\System32\\cmd.exe",
            "ParentCommandLine": 'cmd.exe /c "C:\\Users\\alice\\AppData\\Local\\Temp\\run.bat"',
        },
    },
    "process": {
        "pid": 6120,
        "executable": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "name": "powershell.exe",
        "command_line": "powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0A",
        "parent": {"pid": 4410, "name": "cmd.exe"},
    },
    "user": {"name": "alice", "domain": "CORP"},
}
EVE_HTTP = {
    "timestamp": "2024-05-31T16:12:44.120532+0000",
    "flow_id": 1183409132746132,
    "in_iface": "eth0",
    "event_type": "http",
    "src_ip": "10.20.1.15",
    "src_port": 49810,
    "dest_ip": "198.51.100.23",
    "dest_port": 80,
    "proto": "TCP",
    "tx_id": 0,
    "http": {
        "hostname": "update.badcdn.example",
        "url": "/gate.php?id=7f3a",
        "http_user_agent": "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1)",
        "http_content_type": "text/html",
        "http_method": "POST",
        "protocol": "HTTP/1.1",
        "status": 200,
        "length": 312,
    },
}
CEF_FIREWALL = (
    "May 31 16:14:03 fw01 CEF:0|Fortinet|FortiGate-100F|7.2.5|13|traffic:forward close|3|"
    "deviceExternalId=FG100FTK21000001 src=10.20.1.15 spt=51234 dst=203.0.113.9 dpt=8060 proto=6 act=accept "
    "msg=session closed after 3s duser=svc\\=backup"
)
CEF_PROXY = (
    "CEF:0|Zscaler|NSSWeblog|5.7|Allowed|Allowed|3|act=Allowed app=HTTP dhost=update.badcdn.example "
    "src=10.20.1.15 dst=198.51.100.23 requestMethod=POST request=http://update.badcdn.example/gate.php?id\\=7f3a "
    "requestClientApplication=Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1) suser=alice@corp.example"
)
EVE_TLS = {
    "timestamp": "2024-05-31T16:12:40.118204+0000",
    "flow_id": 1736284511223344,
    "in_iface": "eth0",
    "event_type": "tls",
    "src_ip": "10.20.1.15",
    "src_port": 49822,
    "dest_ip": "198.51.100.23",
    "dest_port": 443,
    "proto": "TCP",
    "tls": {
        "subject": "CN=update.badcdn.example",
        "issuerdn": "CN=update.badcdn.example",
        "serial": "5C:1A:9E:03:77:21:4B:0D",
        "fingerprint": "b3:7e:4d:1c:9a:10:62:5f:07:8e:2a:c4:33:91:ef:5d:a6:0b:7c:12",
        "sni": "update.badcdn.example",
        "version": "TLS 1.2",
        "notbefore": "2024-05-01T00:00:00",
        "notafter": "2025-05-01T00:00:00",
    },
}
CEF_AV = (
    "CEF:0|Trend Micro|Apex One|14.0|100|Malware detected|8|rt=1717171980000 dhost=WS-042 "
    "fname=svchost32.exe filePath=C:\\Users\\alice\\AppData\\Roaming\\svchost32.exe "
    "fileHash=3A52E1F6F4B1C1F0C7D2E3B4A5968778695A4B3C act=Quarantine"
)
ZEEK_DNS = {
    "ts": 1717171800.5,
    "uid": "C9x2Yb3ZtNwq1jQk7",
    "id.orig_h": "10.20.1.15",
    "id.orig_p": 53211,
    "id.resp_h": "10.20.0.2",
    "id.resp_p": 53,
    "proto": "udp",
    "trans_id": 4711,
    "query": "update.badcdn.example",
    "qclass": 1,
    "qtype": 1,
    "qtype_name": "A",
    "rcode_name": "NOERROR",
    "answers": ["cdn-edge.badcdn.example", "198.51.100.23"],
    "TTLs": [300.0, 60.0],
}
ZEEK_HTTP = {
    "_path": "http",
    "ts": 1717171900.25,
    "uid": "CmES5u32sYpV7JYN",
    "id.orig_h": "10.20.1.15",
    "id.orig_p": 49810,
    "id.resp_h": "198.51.100.23",
    "id.resp_p": 80,
    "trans_depth": 1,
    "method": "GET",
    "host": "update.badcdn.example",
    "uri": "/files/stage2.bin",
    "user_agent": "curl/8.4.0",
    "status_code": 200,
}
ZEEK_X509 = {
    "_path": "x509",
    "ts": 1717172000.0,
    "fingerprint": "1f0e9b1e58b6f8c8c63f2c0a6f3c5b1d6e2a7b8c9d0e1f2a3b4c5d6e7f8a9b0c",
    "certificate.version": 3,
    "certificate.serial": "0A1B2C3D4E5F6071",
    "certificate.subject": "CN=update.badcdn.example",
    "certificate.issuer": "CN=R3,O=Let's Encrypt,C=US",
    "certificate.not_valid_before": 1714521600.0,
    "certificate.not_valid_after": 1722470400.0,
    "certificate.key_alg": "rsaEncryption",
    "san.dns": ["update.badcdn.example", "www.badcdn.example"],
}
ZEEK_FILES = {
    "_path": "files",
    "ts": 1717171901.0,
    "fuid": "FhBHd32Yr3UlH2E2Od",
    "source": "HTTP",
    "mime_type": "application/x-dosexec",
    "filename": "stage2.bin",
    "seen_bytes": 73802,
    "total_bytes": 73802,
    "md5": "7353f60b1739074eb17c5f4dddefe239",
    "sha256": HASH_PS,
}
ECS_DNS = {
    "@timestamp": "2024-05-31T16:11:00.000Z",
    "ecs.version": "8.11.0",
    "event": {"dataset": "network_traffic.dns", "kind": "event"},
    "source": {"ip": "10.20.1.15", "port": 50123},
    "destination.ip": "10.20.0.2",
    "destination.port": 53,
    "network": {"transport": "udp", "protocol": "dns"},
    "dns": {"question": {"name": "Update.BadCDN.example"}, "resolved_ip": ["198.51.100.23", "198.51.100.24"]},
}
RECORDS: dict[str, tuple[list[str], str]] = {
    "zeek-conn": ([*ZEEK_CONN_HEADER, ZEEK_CONN_LINE], "zeek-conn"),
    "sysmon": ([json.dumps(SYSMON)], "sysmon"),
    # The same event as Sysmon's own JSON writes it (NXLog, Get-WinEvent exports): its event data at the top.
    "sysmon-json": ([json.dumps({"EventID": 1, **SYSMON["winlog"]["event_data"]})], "sysmon-json"),
    "eve-http": ([json.dumps(EVE_HTTP)], "suricata-eve"),
    "cef-firewall": ([CEF_FIREWALL], "cef"),
    "cef-proxy": ([CEF_PROXY], "cef"),
    "cef-av": ([CEF_AV], "cef"),
    "eve-tls": ([json.dumps(EVE_TLS)], "suricata-eve"),
    "zeek-dns": ([json.dumps(ZEEK_DNS)], "zeek-dns"),
    "zeek-http": ([json.dumps(ZEEK_HTTP)], "zeek-http"),
    "zeek-x509": ([json.dumps(ZEEK_X509)], "zeek-x509"),
    "zeek-files": ([json.dumps(ZEEK_FILES)], "zeek-files"),
    "ecs-dns": ([json.dumps(ECS_DNS)], "ecs"),
}
HTTP = "network-traffic:extensions.'http-request-ext'"

# (record, pattern, holds): realistic hits, near misses beside them, and every operator.
CASES = [
    # Zeek conn.log (TSV): the address and port of one connection.
    ("zeek-conn", "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]", True),
    ("zeek-conn", "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 443]", False),
    ("zeek-conn", "[network-traffic:src_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]", False),
    ("zeek-conn", "[ipv4-addr:value = '203.0.113.9']", True),
    ("zeek-conn", "[ipv4-addr:value = '203.0.113.90']", False),
    ("zeek-conn", "[network-traffic:dst_port != 8060]", False),
    ("zeek-conn", "[network-traffic:dst_port NOT = 443]", True),
    ("zeek-conn", "[network-traffic:dst_port > 8000 AND network-traffic:dst_port < 8080]", True),
    ("zeek-conn", "[network-traffic:dst_port >= 8061]", False),
    ("zeek-conn", "[network-traffic:dst_port <= 8060 AND network-traffic:src_port >= 49732]", True),
    ("zeek-conn", "[network-traffic:dst_port IN (80, 443, 8060)]", True),
    ("zeek-conn", "[network-traffic:dst_port NOT IN (80, 443, 8060)]", False),
    ("zeek-conn", "[network-traffic:protocols[*] = 'tcp']", True),
    ("zeek-conn", "[network-traffic:protocols[0] = 'udp']", False),
    ("zeek-conn", "[network-traffic:protocols = 'tcp']", False),  # a list compares through an index only
    ("zeek-conn", "[network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']", True),
    ("zeek-conn", "[network-traffic:dst_ref.value ISSUBSET '203.0.114.0/24']", False),
    ("zeek-conn", "[ipv4-addr:value NOT ISSUBSET '10.0.0.0/8']", True),  # the destination is outside
    ("zeek-conn", "[network-traffic:src_ref.value LIKE '10.20.%']", True),
    ("zeek-conn", "[network-traffic:src_ref.value NOT LIKE '10.20.%']", False),
    ("zeek-conn", "[network-traffic:dst_ref.value NOT MATCHES '^10\\\\.']", True),
    ("zeek-conn", "[network-traffic:dst_port NOT > 8000]", False),
    ("zeek-conn", "[network-traffic:dst_port NOT != 8060]", True),
    (
        "zeek-conn",
        "[network-traffic:dst_port NOT <= 443 AND network-traffic:dst_ref.value NOT ISSUPERSET '1.0.0.0/8']",
        True,
    ),
    ("zeek-conn", "[network-traffic:src_ref.value LIKE '10.2_.1.1']", False),  # LIKE is the whole value
    ("zeek-conn", "[network-traffic:start > t'2024-05-31T16:00:00Z' AND network-traffic:dst_port = 8060]", True),
    ("zeek-conn", "[network-traffic:start < t'2024-05-31T16:00:00Z']", False),
    ("zeek-conn", "[network-traffic:dst_byte_count > 1000 AND network-traffic:src_byte_count < 1000]", True),
    ("zeek-conn", "[network-traffic:dst_port = '8060']", False),  # a string never equals a number
    ("zeek-conn", "[network-traffic:dst_port != '8060']", True),
    # Unmapped inside AND: never guessed.
    ("zeek-conn", "[network-traffic:dst_port = 8060 AND network-traffic:ipfix.minimumTTL = 64]", False),
    ("zeek-conn", "[network-traffic:dst_port = 8060 OR network-traffic:ipfix.minimumTTL = 64]", True),
    ("zeek-conn", "[network-traffic:dst_port = 1 OR ipv4-addr:value = '10.20.1.15']", True),
    ("zeek-conn", "[domain-name:value = 'update.badcdn.example'] OR [network-traffic:dst_port = 8060]", True),
    # Sysmon process creation as Winlogbeat writes it.
    ("sysmon", "[process:command_line = 'powershell.exe -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0A']", True),
    ("sysmon", "[process:command_line LIKE '%-enc %']", True),
    ("sysmon", "[process:command_line LIKE '%-encodedcommand %']", False),
    ("sysmon", "[process:command_line MATCHES '-e(nc|ncodedcommand) [A-Za-z0-9+/=]{16,}']", True),
    ("sysmon", "[process:command_line MATCHES '^wscript']", False),
    ("sysmon", "[process:name = 'powershell.exe' AND process:parent_ref.name = 'cmd.exe']", True),
    ("sysmon", "[process:name = 'powershell.exe' AND process:parent_ref.name = 'explorer.exe']", False),
    ("sysmon", "[process:command_line LIKE 'cmd.exe /c %']", True),  # the parent process is a process too
    ("sysmon", "[process:pid = 6120]", True),
    ("sysmon", "[process:pid > 7000]", False),
    ("sysmon", "[user-account:account_login = 'CORP\\\\alice']", True),
    ("sysmon", "[file:hashes.MD5 = '7353F60B1739074EB17C5F4DDDEFE239']", True),
    ("sysmon", "[process:image_ref.name = 'powershell.exe']", True),
    # Suricata EVE http.
    ("eve-http", f"[{HTTP}.request_method = 'POST' AND {HTTP}.request_value = '/gate.php?id=7f3a']", True),
    ("eve-http", f"[{HTTP}.request_method = 'POST' AND {HTTP}.request_value = '/index.php']", False),
    ("eve-http", f"[{HTTP}.request_method = 'GET' AND {HTTP}.request_value = '/gate.php?id=7f3a']", False),
    ("eve-http", f"[{HTTP}.request_header.'User-Agent' LIKE 'Mozilla/4.0 (compatible; MSIE 7.0;%']", True),
    ("eve-http", f"[{HTTP}.request_header.'User-Agent' = 'Mozilla/4.0']", False),
    ("eve-http", f"[{HTTP}.request_value MATCHES '^/gate\\\\.php\\\\?id=[0-9a-f]{{4}}$']", True),
    ("eve-http", "[network-traffic:protocols[*] = 'tcp' AND network-traffic:dst_port = 80]", True),
    ("eve-http", "[domain-name:value = 'update.badcdn.example']", True),
    ("eve-http", "[domain-name:value LIKE '%.badcdn.example']", True),
    ("eve-http", "[domain-name:value IN ('evil.example', 'badcdn.example')]", False),
    # CEF from a firewall and from a proxy.
    ("cef-firewall", "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 8060]", True),
    ("cef-firewall", "[network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 443]", False),
    ("cef-firewall", "[network-traffic:protocols[*] = 'tcp']", True),
    ("cef-firewall", "[user-account:account_login = 'svc=backup']", True),
    ("cef-proxy", "[url:value = 'http://update.badcdn.example/gate.php?id=7f3a']", True),
    ("cef-proxy", "[url:value = 'http://update.badcdn.example/gate.php']", False),
    ("cef-proxy", f"[{HTTP}.request_method = 'POST' AND {HTTP}.request_header.'User-Agent' LIKE '%MSIE 7.0%']", True),
    # Zeek dns, http, x509, files.
    ("zeek-dns", "[domain-name:value = 'update.badcdn.example']", True),
    ("zeek-dns", "[domain-name:resolves_to_refs[*].value = '198.51.100.23']", True),
    ("zeek-dns", "[domain-name:resolves_to_refs[*].value = '198.51.100.24']", False),
    ("zeek-dns", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", True),
    ("zeek-dns", "[network-traffic:dst_port = 53 AND network-traffic:protocols[*] = 'udp']", True),
    ("zeek-http", f"[{HTTP}.request_method = 'GET' AND {HTTP}.request_value = '/files/stage2.bin']", True),
    ("zeek-http", f"[{HTTP}.request_method = 'GET' AND {HTTP}.request_value = '/files/stage3.bin']", False),
    ("zeek-http", f"[{HTTP}.request_header.'User-Agent' MATCHES '^curl/']", True),
    ("zeek-x509", "[x509-certificate:serial_number = '0A1B2C3D4E5F6071']", True),
    ("zeek-x509", "[x509-certificate:issuer LIKE '%Let\\'s Encrypt%']", True),
    ("zeek-x509", "[x509-certificate:validity_not_after <= t'2024-08-01T00:00:00Z']", True),
    ("zeek-x509", "[x509-certificate:validity_not_before > t'2024-05-01T00:00:00Z']", False),
    ("zeek-x509", "[x509-certificate:validity_not_before = t'2024-05-01T00:00:00Z']", True),
    ("zeek-files", f"[file:hashes.'SHA-256' = '{HASH_PS}']", True),
    ("zeek-files", f"[file:hashes.'SHA-256' = '{HASH_PS}' AND file:size < 70000]", False),
    ("zeek-files", "[file:name = 'stage2.bin' AND file:mime_type = 'application/x-dosexec']", True),
    # ECS with nested and dotted keys, arrays.
    ("ecs-dns", "[network-traffic:src_ref.value = '10.20.1.15' AND network-traffic:src_port = 50123]", True),
    ("ecs-dns", "[domain-name:resolves_to_refs[*].value = '198.51.100.24']", True),
    ("ecs-dns", "[domain-name:resolves_to_refs[*].value ISSUBSET '198.51.100.0/27']", True),
    ("ecs-dns", "[domain-name:resolves_to_refs[*].value ISSUPERSET '198.51.100.24/32']", True),
    ("ecs-dns", "[domain-name:resolves_to_refs[1].value = '198.51.100.23']", False),
    # Suricata's TLS fingerprint (SHA-1, with colons) against a feed's bare hex; CEF's fileHash names no algorithm.
    ("eve-tls", "[x509-certificate:hashes.'SHA-1' = 'b37e4d1c9a10625f078e2ac43391ef5da60b7c12']", True),
    ("eve-tls", "[x509-certificate:hashes.'SHA-1' = 'b37e4d1c9a10625f078e2ac43391ef5da60b7c13']", False),
    ("eve-tls", "[x509-certificate:hashes.'SHA-256' = 'b37e4d1c9a10625f078e2ac43391ef5da60b7c12']", False),
    ("cef-av", "[file:hashes.'SHA-1' = '3A52E1F6F4B1C1F0C7D2E3B4A5968778695A4B3C']", True),
    ("cef-av", "[file:hashes.MD5 = '3A52E1F6F4B1C1F0C7D2E3B4A5968778']", False),
    (
        "cef-av",
        "[file:name = 'svchost32.exe' AND file:hashes.'SHA-1' = '3A52E1F6F4B1C1F0C7D2E3B4A5968778695A4B3C']",
        True,
    ),
    (
        "cef-av",
        "[file:name = 'svchost.exe' AND file:hashes.'SHA-1' = '3A52E1F6F4B1C1F0C7D2E3B4A5968778695A4B3C']",
        False,
    ),
]
# Sysmon's own JSON holds what Winlogbeat ships: every Sysmon case holds or fails on it alike.
CASES += [("sysmon-json", pattern, holds) for record, pattern, holds in CASES if record == "sysmon"]


def _matched(lines: list[str], pattern: str) -> bool:
    matcher = EventMatcher([("indicator--case", pattern)])
    assert [problem for problem in matcher.problems if problem.status != "warning"] == []
    hits = [matcher.match(line) for line in lines]
    assert all(not earlier for earlier in hits[:-1]), "a header line is no record"
    return bool(hits[-1])


@pytest.mark.parametrize(("record", "pattern", "holds"), CASES)
def test_pattern_on_record(record: str, pattern: str, holds: bool) -> None:
    lines, _ = RECORDS[record]
    assert _matched(lines, pattern) is holds


# Where the reference matcher falls short of the specification: ISSUPERSET on a
# plain address (a /32 holds itself) raises "Invalid CIDR subnet" there.
REFERENCE_RAISES = {
    "[network-traffic:dst_port NOT <= 443 AND network-traffic:dst_ref.value NOT ISSUPERSET '1.0.0.0/8']",
    "[domain-name:resolves_to_refs[*].value ISSUPERSET '198.51.100.24/32']",
}


@pytest.mark.parametrize(("record", "pattern", "holds"), CASES)
def test_reference_matcher_agrees(record: str, pattern: str, holds: bool) -> None:
    matcher = EventMatcher([])
    parsed = [matcher.record(line) for line in RECORDS[record][0]]
    assert parsed[-1] is not None
    if pattern in REFERENCE_RAISES:
        with pytest.raises(stix2matcher.MatcherException, match="Invalid CIDR subnet"):
            stix2matcher.match(pattern, _bundle(parsed[-1]), stix_version="2.1")
        return
    assert bool(stix2matcher.match(pattern, _bundle(parsed[-1]), stix_version="2.1")) is holds


def test_a_zeek_conn_record_is_valid_stix_2_1_observed_data() -> None:
    reader = EventMatcher([])
    record = [reader.record(line) for line in RECORDS["zeek-conn"][0]][-1]  # the header first
    assert record is not None
    bundle = stix2.parse(observed_data(record, OBSERVED_AT, number=7), allow_custom=False)
    observed, *observables = bundle.objects
    assert (observed.number_observed, observed.first_observed, observed.last_observed) == (1, OBSERVED_AT, OBSERVED_AT)
    assert observed.object_refs == [observable.id for observable in observables]
    by_id = {observable.id: observable for observable in observables}
    traffic = observables[0]
    assert (traffic.protocols, traffic.dst_port, by_id[traffic.dst_ref].value) == (["tcp"], 8060, "203.0.113.9")
    assert traffic.start == datetime(2024, 5, 31, 16, 8, 37, 123456, tzinfo=timezone.utc)


def test_a_sysmon_record_is_stix_2_1_observed_data_but_for_the_process_name() -> None:
    """A process keeps STIX 2.0's ``name`` (which 2.1 dropped), as patterns
    written for 2.0 compare it; everything else is what STIX 2.1 defines."""
    record = EventMatcher([]).record(RECORDS["sysmon"][0][0])
    assert record is not None
    written = observed_data(record, OBSERVED_AT)
    with pytest.raises(stix2.exceptions.InvalidValueError, match=r"Unexpected properties for Process: \(name\)"):
        stix2.parse(written, allow_custom=False)
    names = [observable.pop("name") for observable in written["objects"] if observable["type"] == "process"]
    assert names == ["powershell.exe", "cmd.exe"]
    bundle = stix2.parse(written, allow_custom=False)
    by_id = {observable.id: observable for observable in bundle.objects[1:]}
    process = bundle.objects[1]
    assert by_id[process.image_ref].hashes["SHA-256"] == HASH_PS.upper()
    assert by_id[process.parent_ref].command_line.startswith("cmd.exe /c")


@pytest.mark.parametrize(("record", "schema"), [(name, schema) for name, (_, schema) in RECORDS.items()])
def test_schema_is_detected(record: str, schema: str) -> None:
    matcher = EventMatcher([])
    parsed = [matcher.record(line) for line in RECORDS[record][0]]
    assert parsed[-1] is not None
    assert parsed[-1].schema == schema


@pytest.mark.parametrize(
    ("record", "pattern", "fields"),
    [
        (
            "sysmon",
            "[process:command_line LIKE '%-enc %' AND process:parent_ref.name = 'cmd.exe']",
            (
                "winlog.event_data.CommandLine",
                "process.command_line",
                "winlog.event_data.ParentImage",
                "process.parent.name",
            ),
        ),
        ("eve-http", f"[{HTTP}.request_method = 'POST' OR network-traffic:dst_port = 443]", ("http.http_method",)),
        ("zeek-dns", "[domain-name:resolves_to_refs[*].value ISSUBSET '198.51.100.0/24']", ("answers",)),
        (
            "cef-firewall",
            "[ipv4-addr:value = '203.0.113.9'] OR [user-account:account_login LIKE 'svc%']",
            ("dst", "duser"),
        ),
    ],
)
def test_a_hit_names_the_fields_that_made_it(record: str, pattern: str, fields: tuple[str, ...]) -> None:
    matcher = EventMatcher([pattern])
    hits = [matcher.match(line) for line in RECORDS[record][0]][-1]
    assert [hit.fields for hit in hits] == [fields]


def test_every_bundled_mapping_names_properties_a_pattern_can_compare() -> None:
    mappings = {mapping.schema: mapping for mapping in bundled_mappings()}
    assert set(mappings) == {
        "cef",
        "ecs",
        "suricata-eve",
        "sysmon",
        "sysmon-json",
        "zeek-conn",
        "zeek-dns",
        "zeek-files",
        "zeek-http",
        "zeek-ssl",
        "zeek-x509",
    }
    probes = []
    for mapping in mappings.values():
        assert mapping.conditions, mapping.schema
        for rule in mapping.rules:
            index = "[*]" if rule.property.endswith("protocols") else ""
            # A hash list (Sysmon's Hashes) gives each algorithm under the property.
            index = ".'SHA-256'" if rule.type == "hash-list" else index
            probes.append((f"{mapping.schema} {rule.field}", f"[{rule.property}{index} = 'x']"))
    assert EventMatcher(probes).problems == []  # each compiles, and its path is one a record can hold
    # Sysmon records carry ECS fields too: its mapping reads them after its own.
    assert {rule.field for rule in mappings["ecs"].rules} <= {rule.field for rule in mappings["sysmon"].rules}


def test_hashes_and_domain_names_compare_without_case() -> None:
    # Sysmon writes digests in upper case, feeds in lower; DNS names have no case.
    assert _matched(RECORDS["sysmon"][0], f"[file:hashes.'SHA-256' = '{HASH_PS}']")
    assert _matched(RECORDS["cef-av"][0], "[file:hashes.'SHA-1' = '3a52e1f6f4b1c1f0c7d2e3b4a5968778695a4b3c']")
    fingerprint = "B37E4D1C9A10625F078E2AC43391EF5DA60B7C12"
    assert _matched(RECORDS["eve-tls"][0], f"[x509-certificate:hashes.'SHA-1' = '{fingerprint}']")
    assert _matched(RECORDS["ecs-dns"][0], "[domain-name:value = 'update.badcdn.example']")
    assert _matched(RECORDS["ecs-dns"][0], "[domain-name:value LIKE 'update.%.EXAMPLE']")
    # Other strings keep their case, and MATCHES always does.
    assert not _matched(RECORDS["sysmon"][0], "[process:name = 'PowerShell.exe']")
    assert not _matched(RECORDS["ecs-dns"][0], "[domain-name:value MATCHES '^update']")
    # The reference matcher compares them as written: here the two differ on purpose.
    record = EventMatcher([]).record(RECORDS["sysmon"][0][0])
    assert record is not None
    assert not stix2matcher.match(f"[file:hashes.'SHA-256' = '{HASH_PS}']", _bundle(record), stix_version="2.1")


def test_ipv6_addresses_compare_in_their_canonical_form() -> None:
    line = json.dumps({**EVE_HTTP, "src_ip": "2001:0DB8:0000:0000:0000:0000:0000:0042", "dest_ip": "2001:db8::1:0"})
    assert _matched([line], "[ipv6-addr:value = '2001:db8::42']")
    assert _matched([line], "[network-traffic:dst_ref.value ISSUBSET '2001:db8::/32']")
    assert not _matched([line], "[network-traffic:dst_ref.value ISSUBSET '10.0.0.0/8']")


def test_stream_operators_and_regexes_re2_refuses_are_reported() -> None:
    matcher = EventMatcher(
        [
            ("indicator--seq", "[ipv4-addr:value = '203.0.113.9'] FOLLOWEDBY [domain-name:value = 'x.example']"),
            ("indicator--within", "[ipv4-addr:value = '203.0.113.9'] WITHIN 60 SECONDS"),
            ("indicator--backref", "[process:command_line MATCHES '(a+)\\\\1']"),
            ("indicator--binary", "[file:hashes.MD5 = h'ab']"),
            ("indicator--broken", "[ipv4-addr:value = ]"),
            ("indicator--fine", "[ipv4-addr:value = '203.0.113.9']"),
        ]
    )
    reasons = {problem.id: problem.reason for problem in matcher.problems}
    assert set(reasons) == {
        "indicator--seq",
        "indicator--within",
        "indicator--backref",
        "indicator--binary",
        "indicator--broken",
    }
    assert "stream of records" in reasons["indicator--seq"]
    assert "RE2" in reasons["indicator--backref"]
    for line in RECORDS["zeek-conn"][0]:
        hits = matcher.match(line)
    assert [hit.indicator for hit in hits] == ["indicator--fine"]


@pytest.mark.slow
def test_a_pattern_of_thousands_of_alternatives_compiles() -> None:
    # Feeds write one indicator for a whole list of addresses; stix2's grammar recurses once per OR.
    inside = " OR ".join(f"ipv4-addr:value = '198.51.{i // 256}.{i % 256}'" for i in range(2000))
    between = " OR ".join(f"[ipv4-addr:value = '203.0.{i // 256}.{i % 256}']" for i in range(2000))
    matcher = EventMatcher([("indicator--inside", f"[{inside}]"), ("indicator--between", between)])
    assert matcher.problems == []
    record = {"ecs": {"version": "8.11.0"}, "source": {"ip": "198.51.7.207"}, "destination": {"ip": "203.0.0.9"}}
    assert [hit.indicator for hit in matcher.match(json.dumps(record))] == ["indicator--between", "indicator--inside"]


def test_nesting_is_bounded() -> None:
    parentheses = "[" + "(" * 2000 + "ipv4-addr:value = '203.0.113.9'" + ")" * 2000 + "]"
    alternating = "ipv4-addr:value = '203.0.113.9'"
    for level in range(120):
        alternating = f"(ipv4-addr:value = '198.51.100.{level}' {'AND' if level % 2 else 'OR'} {alternating})"
    matcher = EventMatcher([("indicator--parentheses", parentheses), ("indicator--alternating", f"[{alternating}]")])
    assert [(problem.id, problem.reason) for problem in matcher.problems] == [
        ("indicator--alternating", "AND and OR are nested more than 100 deep")
    ]
    assert [hit.indicator for hit in matcher.match(json.dumps(ECS_DNS))] == []
    assert [hit.indicator for hit in matcher.match(RECORDS["cef-firewall"][0][0])] == ["indicator--parentheses"]


def test_a_pattern_no_record_can_satisfy_is_kept_with_a_warning() -> None:
    matcher = EventMatcher(
        [
            ("indicator--ttl", "[network-traffic:dst_port = 8060 AND network-traffic:ipfix.minimumTTL = 64]"),
            ("indicator--either", "[network-traffic:dst_port = 8060 OR network-traffic:ipfix.minimumTTL = 64]"),
            ("indicator--mutex", "[mutex:name = 'Global\\\\evil'] OR [artifact:mime_type = 'x']"),
            ("indicator--sysmon-hash", "[file:hashes.'SHA-512' = 'ab']"),
            ("indicator--parent", "[process:parent_ref.command_line LIKE 'cmd%']"),
        ]
    )
    assert [(problem.id, problem.status, problem.reason) for problem in matcher.problems] == [
        (
            "indicator--ttl",
            "warning",
            "no mapping gives network-traffic:ipfix.minimumTTL: the pattern never holds on a record",
        ),
        (
            "indicator--mutex",
            "warning",
            "no mapping gives mutex:name, artifact:mime_type: the pattern never holds on a record",
        ),
    ]
    for line in RECORDS["zeek-conn"][0]:
        hits = matcher.match(line)
    assert [hit.indicator for hit in hits] == ["indicator--either"]


def test_an_indicator_set_is_matched_by_its_ids() -> None:
    indicators = IndicatorSet(
        indicators=(),
        report=LoadReport(read=0, compiled=0, skipped=0, excluded=0, kinds={}, problems=(), warnings=()),
    )
    assert EventMatcher(indicators).match(json.dumps(EVE_HTTP)) == []
    from iocmatch._common.model import Indicator

    indicator = Indicator(
        id="indicator--0b5c5cc4-93b6-4e38-a5b1-5f3f25a2a0ab",
        name="gate",
        pattern=f"[{HTTP}.request_method = 'POST' AND domain-name:value = 'x'] OR [{HTTP}.request_method = 'POST']",
        clauses=(),
    )
    # The first observation's AND mixes object types: the grammar refuses it.
    refused = EventMatcher(IndicatorSet((indicator,), indicators.report))
    assert [problem.id for problem in refused.problems] == [indicator.id]
    fine = Indicator(id=indicator.id, name="gate", pattern=f"[{HTTP}.request_method = 'POST']", clauses=())
    hits = EventMatcher(IndicatorSet((fine,), indicators.report)).match(json.dumps(EVE_HTTP))
    assert [(hit.indicator, hit.schema) for hit in hits] == [(fine.id, "suricata-eve")]


def test_the_index_loses_no_match() -> None:
    # One matcher holding every pattern finds exactly what each pattern alone finds.
    patterns = [(f"indicator--{index}", pattern) for index, (_, pattern, _) in enumerate(CASES)]
    together = EventMatcher(patterns)
    alone = {identifier: EventMatcher([(identifier, pattern)]) for identifier, pattern in patterns}
    for name, (lines, _) in RECORDS.items():
        found = [together.match(line) for line in lines][-1]
        expected = sorted(
            identifier for identifier, single in alone.items() if [single.match(line) for line in lines][-1]
        )
        assert [hit.indicator for hit in found] == expected, name


def test_the_documented_example_runs() -> None:
    import doctest

    import iocmatch._events

    results = doctest.testmod(iocmatch._events)
    assert (results.failed, results.attempted) == (0, 5)


def test_a_users_mapping_file(tmp_path: Any) -> None:
    mapping = {
        "schema": "acme-proxy",
        "detect": {"all": ["acme.client"], "equals": {"acme.kind": ["web"]}},
        "fields": [
            {"field": "acme.client", "property": "network-traffic:src_ref.value", "type": "address"},
            {"field": "acme.site", "property": "domain-name:value"},
            {"field": "acme.port", "property": "network-traffic:dst_port", "type": "integer"},
        ],
    }
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(mapping))
    acme = read_mapping(str(path))
    matcher = EventMatcher(["[domain-name:value = 'update.badcdn.example']"], mappings=[*bundled_mappings(), acme])
    record = {"acme": {"kind": "web", "client": "10.20.1.15", "site": "update.badcdn.example", "port": "443"}}
    assert [hit.schema for hit in matcher.match(json.dumps(record))] == ["acme-proxy"]
    assert matcher.match(json.dumps({"acme": {**record["acme"], "kind": "mail"}})) == []
    # Without detect conditions, a mapping reads the records it is named for.
    path.write_text(json.dumps({key: value for key, value in mapping.items() if key != "detect"}))
    named = read_mapping(str(path))
    forced = EventMatcher(["[network-traffic:dst_port = 443]"], mappings=[named], schema="acme-proxy")
    assert [hit.schema for hit in forced.match(json.dumps({"acme": {**record["acme"], "kind": "mail"}}))] == [
        "acme-proxy"
    ]
    assert EventMatcher(["[network-traffic:dst_port = 443]"], mappings=[named]).match(json.dumps(record)) == []
    with pytest.raises(MappingError, match="no mapping is named 'acme'"):
        EventMatcher([], mappings=[named], schema="acme")
    path.write_text(
        json.dumps({**mapping, "fields": [{"field": "acme.site", "property": "domain-name:value", "type": "fqdn"}]})
    )
    with pytest.raises(MappingError, match="unknown type 'fqdn'"):
        read_mapping(str(path))


@pytest.mark.parametrize(
    "line",
    [
        "",
        "{",
        '{"ecs.version": "8", "destination.ip": "not-an-address", "destination.port": "http"}',
        '{"ecs": {"version": "8"}, "destination": {"port": "99999999999999999999999999"}}',
        '{"ecs.version": "8", "process": {"pid": true, "command_line": ["a", {"b": null}]}}',
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        "CEF:0|only|three|fields",
        "CEF:0|V|P|1|1|n|5|src=\\ dst=== dpt=\\\\\\=",
        "#fields\tts",
        "1717171717.1\tonly-one-column-too-many\tx",
        "\x00\udcff\ufffd",
        '{"ecs.version": "8", "process.command_line": "cmd \\udcff /c", "process.name": "\\ud800"}',
        '{"ecs.version": "8", "@timestamp": 1e300, "network-traffic": NaN, "destination.port": -1}',
    ],
)
def test_no_line_content_raises(line: str) -> None:
    matcher = EventMatcher(
        [
            "[network-traffic:dst_port > 0]",
            "[ipv4-addr:value ISSUBSET '0.0.0.0/0']",
            "[process:command_line MATCHES '^powershell']",
            "[process:name LIKE '%.exe']",
        ]
    )
    assert matcher.match(line) == []


def test_a_lone_surrogate_is_matched_as_a_replacement_character() -> None:
    line = json.dumps({"ecs.version": "8", "process.command_line": "cmd \udcff /c whoami"})
    assert [hit.indicator for hit in EventMatcher(["[process:command_line MATCHES '/c who']"]).match(line)]
    refused = EventMatcher([("indicator--surrogate", "[process:command_line MATCHES '\udcff']")])
    assert [problem.id for problem in refused.problems] == ["indicator--surrogate"]


@pytest.mark.slow
def test_reference_matcher_agrees_on_generated_cases() -> None:
    generator = random.Random(20240531)
    addresses = ["203.0.113.9", "203.0.113.10", "198.51.100.23", "10.20.1.15"]
    networks = ["203.0.113.8/29", "203.0.113.0/24", "198.51.0.0/16", "10.0.0.0/8", "10.20.1.15/32"]
    ports = [53, 80, 443, 8060, 49732]
    disagreements = []
    outcomes: list[bool] = []
    for _ in range(300):
        source, destination = generator.sample(addresses, 2)
        line = json.dumps(
            {
                "_path": "conn",
                "ts": 1717171717.5,
                "uid": "Cgen",
                "id.orig_h": source,
                "id.orig_p": generator.choice(ports),
                "id.resp_h": destination,
                "id.resp_p": generator.choice(ports),
                "proto": generator.choice(["tcp", "udp"]),
            }
        )
        pattern = "[" + _generated_expression(generator, (addresses, networks, ports), depth=2) + "]"
        record = EventMatcher([]).record(line)
        assert record is not None
        ours = _matched([line], pattern)
        reference = bool(stix2matcher.match(pattern, _bundle(record), stix_version="2.1"))
        outcomes.append(ours)
        if ours != reference:
            disagreements.append((pattern, line, ours))
    assert disagreements == []
    assert 60 < sum(outcomes) < 240  # both outcomes well represented


USER_AGENTS = [
    "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.1)",
    "curl/8.4.0",
    "Wget/1.21.4",
    "python-requests/2.31.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "agent_100%_[beta]{x}+é",
]
PATHS = ["/gate.php?id=7f3a", "/index.html", "/a_b/c%20d", "/wp-admin/admin-ajax.php", "/"]
REGEXES = ["^Mozilla", "MSIE [0-9]\\\\.0", "curl/", "\\\\.php\\\\?", "(?i)wget", "^/$", "_\\\\[beta\\\\]"]


@pytest.mark.slow
def test_reference_matcher_agrees_on_generated_string_cases() -> None:
    generator = random.Random(20240601)
    disagreements = []
    outcomes: list[bool] = []
    for _ in range(300):
        event = {
            **EVE_HTTP,
            "http": {
                **EVE_HTTP["http"],  # type: ignore[dict-item]
                "http_user_agent": generator.choice(USER_AGENTS),
                "url": generator.choice(PATHS),
                "http_method": generator.choice(["GET", "POST", "get"]),
            },
        }
        line = json.dumps(event)
        pattern = "[" + _generated_string_expression(generator, depth=2) + "]"
        record = EventMatcher([]).record(line)
        assert record is not None
        ours = _matched([line], pattern)
        reference = bool(stix2matcher.match(pattern, _bundle(record), stix_version="2.1"))
        outcomes.append(ours)
        if ours != reference:
            disagreements.append((pattern, line, ours))
    assert disagreements == []
    assert 60 < sum(outcomes) < 240  # both outcomes well represented


def _generated_string_expression(generator: random.Random, depth: int) -> str:
    if depth and generator.random() < 0.5:
        joiner = generator.choice([" AND ", " OR "])
        left = _generated_string_expression(generator, depth - 1)
        right = _generated_string_expression(generator, depth - 1)
        return f"({left}{joiner}{right})"
    negation = "NOT " if generator.random() < 0.2 else ""
    field, values = generator.choice(
        [
            (f"{HTTP}.request_header.'User-Agent'", USER_AGENTS),
            (f"{HTTP}.request_value", PATHS),
            (f"{HTTP}.request_method", ["GET", "POST", "get"]),
        ]
    )
    value = generator.choice(values)
    choice = generator.randrange(4)
    if choice == 0:
        operator = generator.choice(["=", "!=", "<", ">="])
        return f"{field} {negation}{operator} '{_stix_string(value)}'"
    if choice == 1:
        return f"{field} {negation}IN ('{_stix_string(value)}', 'nothing')"
    if choice == 2:
        return f"{field} {negation}LIKE '{_stix_string(_like_of(generator, value))}'"
    return f"{field} {negation}MATCHES '{generator.choice(REGEXES)}'"


def _like_of(generator: random.Random, value: str) -> str:
    """A LIKE pattern near ``value``: some characters made ``_``, a run made ``%``."""
    chars = list(value)
    for _ in range(generator.randrange(3)):
        chars[generator.randrange(len(chars))] = "_"
    if generator.random() < 0.6:
        start = generator.randrange(len(chars))
        chars[start : start + generator.randrange(1, 6)] = ["%"]
    if generator.random() < 0.2:
        chars.insert(generator.randrange(len(chars) + 1), "x")
    return "".join(chars)


def _stix_string(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _generated_expression(generator: random.Random, values: tuple[list[str], list[str], list[int]], depth: int) -> str:
    addresses, networks, ports = values
    if depth and generator.random() < 0.5:
        joiner = generator.choice([" AND ", " OR "])
        left = _generated_expression(generator, values, depth - 1)
        right = _generated_expression(generator, values, depth - 1)
        return f"({left}{joiner}{right})"
    negation = "NOT " if generator.random() < 0.2 else ""
    side = generator.choice(["src", "dst"])
    choice = generator.randrange(8)
    if choice == 0:
        return f"network-traffic:{side}_ref.value {negation}= '{generator.choice(addresses)}'"
    if choice == 1:
        operator = generator.choice(["=", "!=", "<", "<=", ">", ">="])
        return f"network-traffic:{side}_port {negation}{operator} {generator.choice(ports)}"
    if choice == 2:
        return f"network-traffic:{side}_ref.value {negation}ISSUBSET '{generator.choice(networks)}'"
    if choice == 3:
        return f"network-traffic:protocols[*] {negation}IN ('tcp', 'icmp')"
    if choice == 4:
        return f"network-traffic:{side}_ref.value {negation}LIKE '{generator.choice(addresses)[:6]}%'"
    if choice == 5:
        return f"network-traffic:{side}_ref.value {negation}MATCHES '\\\\.{generator.randrange(1, 30)}$'"
    if choice == 6:
        moment = f"2024-05-31T16:08:3{generator.randrange(10)}Z"
        return f"network-traffic:start {negation}{generator.choice(['<', '>', '='])} t'{moment}'"
    return f"network-traffic:{side}_port {negation}= '{generator.choice(ports)}'"


OBSERVED_AT = datetime(2024, 5, 31, 16, 0, tzinfo=timezone.utc)  # when the reference sees each record


def _bundle(record: Record) -> list[dict[str, Any]]:
    """The record as the reference matcher reads it: one observed-data."""
    return [observed_data(record, OBSERVED_AT)]


def test_hostile_zeek_headers_keep_the_header_before() -> None:
    """A header line that cannot be read changes nothing, and nothing raises."""
    matcher = EventMatcher(["[network-traffic:dst_port = 8060]"])
    header = ["#separator \\x09", "#set_separator\t,", "#path\tconn", "#fields\tts\tid.resp_p\tservice"]
    for line in [*header, "#separator \\x", "#set_separator\t", "#types\ttime\tport\tvector[string]"]:
        assert matcher.match(line) == []
    assert [hit.fields for hit in matcher.match("1717171717.1\t8060\thttp,ssl")] == [("id.resp_p",)]


def test_a_process_image_is_a_file_of_its_own() -> None:
    """ECS puts the process image's hashes and a written file's name in one
    record: they are two files, so an AND over one file cannot mix them."""
    image, written = "aa" * 32, "bb" * 32
    record = json.dumps(
        {
            "ecs": {"version": "8.11.0"},
            "process": {"executable": "C:\\Temp\\evil.exe", "hash": {"sha256": image}},
            "file": {"name": "drop.dll", "hash": {"sha256": written}},
        }
    )
    cases = {
        f"[file:hashes.'SHA-256' = '{image}' AND file:name = 'drop.dll']": False,
        f"[file:hashes.'SHA-256' = '{written}' AND file:name = 'drop.dll']": True,
        f"[file:hashes.'SHA-256' = '{image}']": True,
        f"[process:image_ref.hashes.'SHA-256' = '{image}']": True,
        f"[file:hashes.'SHA-256' = '{image}' AND file:name = 'evil.exe']": True,
    }
    for pattern, hits in cases.items():
        assert bool(EventMatcher([pattern]).match(record)) is hits, pattern


# Patterns reaching properties every way a record gives them: through references, hash lists, lists, negations.
REACHING = [
    f"[process:image_ref.hashes.'SHA-256' = '{HASH_PS}']",
    f"[file:hashes.'SHA-256' = '{HASH_PS}']",
    "[file:hashes.'SHA-256' != 'abc']",
    "[process:name != 'x.exe']",
    "[process:parent_ref.name = 'cmd.exe']",
    "[process:parent_ref.name != 'cmd.exe']",
    "[file:name = 'powershell.exe']",
    "[ipv4-addr:value ISSUBSET '203.0.113.0/24']",
    "[domain-name:resolves_to_refs[*].value = '203.0.113.9']",
    "[network-traffic:src_ref.value ISSUBSET '0.0.0.0/0']",
    "[user-account:account_login LIKE '%']",
    "[process:command_line MATCHES '.']",
    "[process:pid > 0]",
    "[network-traffic:protocols[0] = 'tcp']",
    "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' LIKE '%']",
    "[network-traffic:src_ref.resolves_to_refs[*].value LIKE '%']",
]


def _narrowed(pairs: list[tuple[str, str]]) -> EventMatcher:
    matcher = EventMatcher(pairs)
    matcher.build_only(matcher.read_keys)
    return matcher


def test_records_built_of_the_fields_patterns_read_give_the_hits_whole_records_give() -> None:
    """``scan --events`` builds a record of only the fields its patterns read: never another verdict."""
    patterns = sorted({pattern for _, pattern, _ in CASES} | set(REACHING))
    plain_sysmon = {**SYSMON["winlog"]["event_data"], "EventID": 1}
    lines = [line for lines, _ in RECORDS.values() for line in lines] + [json.dumps(plain_sysmon)]
    reader = RecordReader()  # one for every line: the Zeek header lines come before their records
    fields = [found for line in lines if (found := reader.read(line))]
    assert len(fields) >= 10
    for pairs in [[("one", pattern)] for pattern in patterns] + [[(str(n), p) for n, p in enumerate(patterns)]]:
        whole, narrowed = EventMatcher(pairs), _narrowed(pairs)
        for found in fields:
            full, narrow = whole.record_of_fields(found), narrowed.record_of_fields(found)
            assert full is not None
            assert narrow is not None
            expected = sorted((hit.indicator, hit.fields) for hit in whole.match_record(full))
            assert sorted((hit.indicator, hit.fields) for hit in narrowed.match_record(narrow)) == expected, pairs


def test_a_reference_two_deep_in_a_users_mapping_gives_the_object_it_reaches(tmp_path: Any) -> None:
    path = tmp_path / "edr.json"
    path.write_text(json.dumps({
        "schema": "edr", "detect": [{"all": ["edr_event"]}],
        "fields": [{"field": "proc", "property": "process:name", "type": "basename"},
                   {"field": "parent_image", "property": "process:parent_ref.image_ref.name", "type": "basename"}],
    }))  # fmt: skip
    pairs = [("dropper", "[file:name = 'dropper.exe']")]
    matcher = EventMatcher(pairs, mappings=[read_mapping(str(path))])
    assert not matcher.problems  # the path is given: no "never holds" warning
    matcher.build_only(matcher.read_keys)
    line = json.dumps({"edr_event": 1, "proc": "cmd.exe", "parent_image": "C:\\Temp\\dropper.exe"})
    assert [(hit.indicator, hit.fields) for hit in matcher.match(line)] == [("dropper", ("parent_image",))]
