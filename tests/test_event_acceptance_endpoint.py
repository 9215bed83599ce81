"""Published command lines and HTTP requests on endpoint and web records
(``scan --events auto``).

- Command line, ``=``: Unit 42's Cobalt Gang playbook (STIX 2.0), indicator
  ``indicator--010c5a3e-823b-4267-8411-e38563fc805b``, the ``cmstp.exe``
  AppLocker bypass, embedded verbatim below. It hits the Sysmon process
  creation (Winlogbeat) that ran exactly that command line, and the child
  process whose parent ran it; not the same command with cmstp's full path,
  in upper case, or with a longer file name; on Sysmon's own JSON too (event
  data at the top, as ``data/samples/sysmon.jsonl``: the ``sysmon-json``
  mapping), and through a user's mapping of that name, which replaces it.
- Command line, ``LIKE`` and ``MATCHES``: no published STIX indicator with
  either on ``process:command_line`` was found. The commands are menuPass's,
  verbatim from MITRE ATT&CK (``net view /domain``, relationship
  ``relationship--03f32a8b-4cd9-488c-9759-37f3dff9faea``; ``certutil -decode``,
  ``relationship--a6ddb76d-4317-4cfd-9e1d-57d8a0c5fb21``), wrapped here in
  patterns. Both keep case, as STIX says; ``-decodehex`` is another verb.
- HTTP method: no published STIX indicator with ``request_method`` was found
  either. CrowdSec's MISP feed (a sensor network's export, in the shared
  corpus) names each attacking address and the request it sent
  (``payloads: POST /vendor/phpunit/...``); three of them become
  ``[network-traffic:src_ref.value = .. AND request_method = .. AND
  request_value = ..]``. Each hits the Zeek http and Suricata EVE records of
  that request from that address, and not the same path with the other
  method, the same request from another address, a longer path, the method in
  lower case, or the sensor's request to the address.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from iocmatch._cli import command as cli
from tests.conftest import ROOT, bundle, indicator

pytestmark = pytest.mark.slow  # whole scans through the command

CROWDSEC = ROOT.parent / "shared" / "corpus" / "feeds" / "misp-feed-crowdsec"
CROWDSEC_EVENT = CROWDSEC / "6a10e5d8-f1cd-42b0-8240-a4650efd83d6.json"

# pan-unit42/playbook_viewer, playbook_json/cobaltgang.json at d098a180caaeff290baa20d65f47ed26f7e00b7c
# (MIT), one object of the bundle, unchanged.
COBALT_GANG_CMSTP: dict[str, Any] = {
    "type": "indicator",
    "id": "indicator--010c5a3e-823b-4267-8411-e38563fc805b",
    "created": "2019-05-06T14:12:22.757Z",
    "modified": "2019-07-25T14:03:20.522Z",
    "name": "cmstp.exe /s /ns C:\\Users\\ADMINI~W\\AppData\\Local\\Temp\\XKNqbpzl.txt",
    "pattern": "[process:command_line = 'cmstp.exe /s /ns C:\\\\Users\\\\ADMINI~W\\\\AppData\\\\Local\\\\Temp\\\\XKNqbpzl.txt']",  # noqa: E501
    "valid_from": "2019-05-06T14:12:22.757Z",
    "labels": ["malicious-activity"],
}
CMSTP = "cmstp.exe /s /ns C:\\Users\\ADMINI~W\\AppData\\Local\\Temp\\XKNqbpzl.txt"
CMSTP_EXE = "C:\\Windows\\System32\\cmstp.exe"
CMD = "C:\\Windows\\System32\\cmd.exe"
WINWORD = "C:\\Program Files\\Microsoft Office\\root\\Office16\\WINWORD.EXE"
WORD = f'"{WINWORD}" /n "C:\\Users\\ADMINI~W\\Desktop\\Swift.doc"'

NET_VIEW = "[process:command_line LIKE '%net view /domain']"
CERTUTIL = "[process:command_line MATCHES 'certutil(\\\\.exe)? +-decode ']"


def _scan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    status = cli.main(["scan", "--format", "jsonl", *argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def _write_json_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def _process_creation(
    number: int, image: str, command_line: str, parent_image: str, parent_command_line: str
) -> dict[str, Any]:
    """A Sysmon event 1 as Winlogbeat 8 ships it: the event data and its ECS copy."""
    pid = 4000 + number
    guid = f"{{5e1b2a4c-{number:04x}-6659-3a02-000000001c00}}"
    return {
        "@timestamp": f"2019-05-07T09:14:{number:02d}.481Z",
        "ecs": {"version": "8.0.0"},
        "event": {"code": "1", "kind": "event", "category": ["process"], "type": ["start"], "module": "sysmon"},
        "host": {"name": "FIN-WS-017"},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": "1",
            "provider_name": "Microsoft-Windows-Sysmon",
            "computer_name": "FIN-WS-017.bank.example",
            "event_data": {
                "RuleName": "-",
                "UtcTime": f"2019-05-07 09:14:{number:02d}.470",
                "ProcessGuid": guid,
                "ProcessId": str(pid),
                "Image": image,
                "CommandLine": command_line,
                "CurrentDirectory": "C:\\Users\\ADMINI~W\\AppData\\Local\\Temp\\",
                "User": "BANK\\administrator",
                "IntegrityLevel": "High",
                "ParentImage": parent_image,
                "ParentCommandLine": parent_command_line,
            },
        },
        "process": {
            "pid": pid,
            "executable": image,
            "name": image.rsplit("\\", 1)[-1],
            "command_line": command_line,
            "parent": {"name": parent_image.rsplit("\\", 1)[-1], "command_line": parent_command_line},
        },
        "user": {"name": "administrator", "domain": "BANK"},
    }


# Image, command line, parent image, parent command line: the bypass and its near misses.
CMSTP_CASES = [
    (CMSTP_EXE, CMSTP, WINWORD, WORD),  # the bypass itself
    (CMSTP_EXE, f"C:\\Windows\\system32\\{CMSTP}", WINWORD, WORD),  # cmstp by its full path
    (CMSTP_EXE, CMSTP.replace("cmstp.exe", "CMSTP.EXE"), WINWORD, WORD),  # in another case
    (CMSTP_EXE, CMSTP.replace(".txt", ".txt.bak"), WINWORD, WORD),  # a longer file name
    # The scriptlet the INF runs: its parent is the process that ran the command line.
    ("C:\\Windows\\System32\\scrobj.exe", "scrobj.exe", CMSTP_EXE, CMSTP),
    (CMD, "cmd.exe /c whoami", CMSTP_EXE, f"C:\\Windows\\system32\\{CMSTP}"),
]


def _cobalt_gang_feed(tmp_path: Path) -> Path:
    feed = tmp_path / "cobaltgang.json"
    feed.write_text(json.dumps({"type": "bundle", "id": "bundle--8c2a76a6-6a8b-4b6b-9f61-4c0bd5c4e6a0",
                                "spec_version": "2.0", "objects": [COBALT_GANG_CMSTP]}))  # fmt: skip
    return feed


def _plain_sysmon(
    number: int, image: str, command_line: str, parent_image: str, parent_command_line: str
) -> dict[str, Any]:
    """The same event as Sysmon's own JSON writes it (``data/samples/sysmon.jsonl``)."""
    data = _process_creation(number, image, command_line, parent_image, parent_command_line)["winlog"]["event_data"]
    del data["RuleName"]
    return {"EventID": 1, "Computer": "FIN-WS-017.bank.example", **data, "ProcessId": 4000 + number}


@pytest.mark.parametrize(
    ("shape", "fields"),
    [
        ("winlogbeat", ("winlog.event_data.CommandLine", "winlog.event_data.ParentCommandLine")),
        ("sysmon-json", ("CommandLine", "ParentCommandLine")),
    ],
)
def test_cobalt_gangs_cmstp_command_line_hits_the_process_that_ran_it_and_its_child(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str, fields: tuple[str, str]
) -> None:
    feed = _cobalt_gang_feed(tmp_path)
    make = _process_creation if shape == "winlogbeat" else _plain_sysmon
    log = _write_json_lines(tmp_path / f"{shape}.ndjson", [make(n, *case) for n, case in enumerate(CMSTP_CASES, 1)])

    status, found, _ = _scan(capsys, "-i", str(feed), "--events", "auto", str(log))
    assert status == 0
    assert [(hit["line"], hit["kind"], hit["field"], hit["text"]) for hit in found] == [
        (1, "fields", fields[0], CMSTP),
        (5, "fields", fields[1], CMSTP),
    ]
    assert {hit["indicators"][0] for hit in found} == {COBALT_GANG_CMSTP["id"]}
    # As text, the command line anywhere on a line and in any case: every near miss hits too.
    status, as_text, _ = _scan(capsys, "-i", str(feed), str(log))
    assert status == 0
    assert sorted({hit["line"] for hit in as_text}) == [1, 2, 3, 4, 5, 6]


SYSMON_JSON_MAPPING = {
    "schema": "sysmon-json",
    "description": "Sysmon's own JSON: event data at the top",
    "detect": [{"all": ["EventID", "UtcTime", "Computer"]}],
    "fields": [
        {"field": "CommandLine", "property": "process:command_line", "type": "string"},
        {"field": "ParentCommandLine", "property": "process:parent_ref.command_line", "type": "string"},
        {"field": "Image", "property": "process:name", "type": "basename"},
    ],
}


def test_plain_sysmon_json_is_judged_by_fields_through_a_users_mapping(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _cobalt_gang_feed(tmp_path)
    mapping = tmp_path / "sysmon-json.json"
    mapping.write_text(json.dumps(SYSMON_JSON_MAPPING))
    records = [_plain_sysmon(number, *case) for number, case in enumerate(CMSTP_CASES, 1)]
    log = _write_json_lines(tmp_path / "sysmon.jsonl", records)

    status, found, _ = _scan(capsys, "-i", str(feed), "--events", str(mapping), str(log))
    assert status == 0
    assert [(hit["line"], hit["kind"], hit["field"], hit["text"]) for hit in found] == [
        (1, "fields", "CommandLine", CMSTP),
        (5, "fields", "ParentCommandLine", CMSTP),
    ]


def test_menupass_discovery_and_decoding_commands_hit_by_like_and_matches_keeping_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "menupass-commands.json"
    feed.write_text(json.dumps(bundle(indicator(NET_VIEW, 1), indicator(CERTUTIL, 2))))
    explorer = "C:\\Windows\\explorer.exe"
    certutil = "C:\\Windows\\System32\\certutil.exe"
    temp = "C:\\Users\\akiko\\AppData\\Local\\Temp"
    records = [
        _process_creation(1, "C:\\Windows\\System32\\net.exe", "net view /domain", CMD, "cmd.exe"),
        _process_creation(2, CMD, "cmd.exe /c net view /domain", explorer, "explorer.exe"),
        _process_creation(3, "C:\\Windows\\System32\\net.exe", "net view /domain:CORP", CMD, "cmd.exe"),  # more after
        _process_creation(4, "C:\\Windows\\System32\\net.exe", "NET VIEW /DOMAIN", CMD, "cmd.exe"),  # other case
        _process_creation(5, certutil, f"certutil -decode {temp}\\t.txt {temp}\\t.exe", CMD, "cmd.exe"),
        _process_creation(6, certutil, f"{certutil} -decode {temp}\\t.txt {temp}\\t.exe", CMD, "cmd.exe"),
        _process_creation(7, certutil, f"certutil -decodehex {temp}\\t.hex {temp}\\t.bin", CMD, "cmd.exe"),  # a verb
        _process_creation(8, certutil, f"CertUtil -Decode {temp}\\t.txt {temp}\\t.exe", CMD, "cmd.exe"),  # other case
    ]
    log = _write_json_lines(tmp_path / "winlogbeat-sysmon.ndjson", records)

    status, found, _ = _scan(capsys, "-i", str(feed), "--events", "auto", str(log))
    assert status == 0
    assert [(hit["line"], hit["indicators"], hit["field"]) for hit in found] == [
        (1, [indicator("", 1)["id"]], "winlog.event_data.CommandLine"),
        (2, [indicator("", 1)["id"]], "winlog.event_data.CommandLine"),
        (5, [indicator("", 2)["id"]], "winlog.event_data.CommandLine"),
        (6, [indicator("", 2)["id"]], "winlog.event_data.CommandLine"),
    ]


def test_a_command_line_nobody_ran_is_no_hit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed = _cobalt_gang_feed(tmp_path)
    log = _write_json_lines(tmp_path / "sysmon.ndjson", [_process_creation(1, CMD, "cmd.exe /c dir", CMD, "cmd.exe")])
    status, found, _ = _scan(capsys, "-i", str(feed), "--events", "auto", str(log))
    assert (status, found) == (1, [])


# CrowdSec's feed writes each source address's requests in the attribute comment.
PAYLOAD = re.compile(r"\| payloads: (?P<method>[A-Z]+) (?P<path>/\S*)$")
# Two requests for the same PHPUnit file, one POST and one GET, from two addresses; and the HNAP1 probe.
ATTACKERS = ("181.215.65.40", "185.207.250.100", "79.124.40.174")


def _crowdsec_requests() -> dict[str, tuple[str, str]]:
    if not CROWDSEC_EVENT.is_file():
        pytest.skip(f"the public feeds corpus is not beside the project ({CROWDSEC_EVENT} is missing)")
    event = json.loads(CROWDSEC_EVENT.read_text(encoding="utf-8"))["Event"]
    requests: dict[str, tuple[str, str]] = {}
    for attribute in event["Attribute"]:
        payload = PAYLOAD.search(attribute["comment"])
        if attribute["value"] in ATTACKERS and payload:
            requests[attribute["value"]] = (payload["method"], payload["path"])
    return requests


def _request_pattern(address: str, method: str, path: str) -> str:
    return (
        f"[network-traffic:src_ref.value = '{address}'"
        f" AND network-traffic:extensions.'http-request-ext'.request_method = '{method}'"
        f" AND network-traffic:extensions.'http-request-ext'.request_value = '{path}']"
    )


# Zeek 6's http.log columns and their types.
ZEEK_HTTP_COLUMNS = {
    "ts": "time", "uid": "string", "id.orig_h": "addr", "id.orig_p": "port", "id.resp_h": "addr", "id.resp_p": "port",
    "trans_depth": "count", "method": "string", "host": "string", "uri": "string", "referrer": "string",
    "version": "string", "user_agent": "string", "origin": "string", "request_body_len": "count",
    "response_body_len": "count", "status_code": "count", "status_msg": "string", "info_code": "count",
    "info_msg": "string", "tags": "set[enum]", "username": "string", "password": "string", "proxied": "set[string]",
    "orig_fuids": "vector[string]", "orig_filenames": "vector[string]", "orig_mime_types": "vector[string]",
    "resp_fuids": "vector[string]", "resp_filenames": "vector[string]", "resp_mime_types": "vector[string]",
}  # fmt: skip
ZEEK_HTTP_HEADER = [
    "#separator \\x09",
    "#set_separator\t,",
    "#empty_field\t(empty)",
    "#unset_field\t-",
    "#path\thttp",
    "#open\t2026-04-26-19-00-00",
    "\t".join(["#fields", *ZEEK_HTTP_COLUMNS]),
    "\t".join(["#types", *ZEEK_HTTP_COLUMNS.values()]),
]
SENSOR = "10.0.5.20"


def _zeek_http(number: int, orig: str, method: str, uri: str, resp: str = SENSOR) -> str:
    values = [f"{1777233220 + number}.{number:06d}", f"CmES5u32sYpV7J{number:03d}", orig, str(40000 + number), resp,
              "80", "1", method, resp, uri, "-", "1.1", "Go-http-client/1.1", "-", "0", "146", "404", "Not Found", "-",
              "-", "(empty)", "-", "-", "-", "-", "-", "-", "-", "-", "-"]  # fmt: skip
    return "\t".join(values)


def _eve_http(number: int, src: str, method: str, url: str, dest: str = SENSOR) -> dict[str, Any]:
    return {
        "timestamp": f"2026-04-26T19:53:{number:02d}.120532+0000", "flow_id": 1183409132746100 + number,
        "in_iface": "eth0", "event_type": "http", "src_ip": src, "src_port": 40000 + number, "dest_ip": dest,
        "dest_port": 80, "proto": "TCP", "tx_id": 0,
        "http": {"hostname": dest, "url": url, "http_user_agent": "Go-http-client/1.1", "http_method": method,
                 "protocol": "HTTP/1.1", "status": 404, "length": 146},
    }  # fmt: skip


def _requests_and_near_misses() -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, str, str]], list[int]]:
    """The feed's requests, and for each the request itself, then its near misses."""
    requests = _crowdsec_requests()
    assert requests == {
        "181.215.65.40": ("POST", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
        "185.207.250.100": ("GET", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php"),
        "79.124.40.174": ("POST", "/"),
    }
    other = {"GET": "POST", "POST": "GET"}
    lines: list[tuple[str, str, str, str]] = []  # source, method, path, destination
    hits = []
    for address, (method, path) in requests.items():
        lines.append((address, method, path, SENSOR))
        hits.append(len(lines))
        lines += [
            (address, other[method], path, SENSOR),  # the same path, the other method
            ("203.0.113.77", method, path, SENSOR),  # the same request from another address
            (address, method, path + "index.php" if path.endswith("/") else path + ".bak", SENSOR),  # a longer path
            (address, method.lower(), path, SENSOR),  # methods are case-sensitive
            (SENSOR, method, path, address),  # the address as the destination
        ]
    return requests, lines, hits


def _request_feed(tmp_path: Path, requests: dict[str, tuple[str, str]]) -> Path:
    """The requests as STIX indicators, numbered from 1 in the order given."""
    patterns = [_request_pattern(address, *request) for address, request in requests.items()]
    feed = tmp_path / "crowdsec-requests.json"
    feed.write_text(json.dumps(bundle(*(indicator(p, n) for n, p in enumerate(patterns, 1)))))
    return feed


def test_crowdsec_requests_hit_zeek_http_records_by_address_method_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests, lines, hits = _requests_and_near_misses()
    feed = _request_feed(tmp_path, requests)
    log = tmp_path / "http.log"
    body = [_zeek_http(n, src, method, path, dst) for n, (src, method, path, dst) in enumerate(lines, 1)]
    log.write_text("\n".join([*ZEEK_HTTP_HEADER, *body]) + "\n")

    status, found, _ = _scan(capsys, "-i", str(feed), "--events", "auto", str(log))
    assert status == 0
    offset = len(ZEEK_HTTP_HEADER)
    assert [(hit["line"] - offset, *hit["indicators"]) for hit in found] == [
        (line, indicator("", n)["id"]) for n, line in enumerate(hits, 1)
    ]
    assert {hit["field"] for hit in found} == {"id.orig_h,method,uri"}
    assert [hit["text"] for hit in found] == [f"{a},{m},{p}" for a, (m, p) in requests.items()]
    # As text, the address, method and path anywhere on a line: the sensor's own request to the address hits
    # too (five lines after each request); a path of '/' is refused there, so that request is not looked for.
    status, as_text, err = _scan(capsys, "-i", str(feed), str(log))
    assert status == 0
    assert sorted({hit["line"] - offset for hit in as_text}) == [hits[1], hits[1] + 5, hits[2], hits[2] + 5]
    assert f"{indicator('', 1)['id']}: request value '/' is no indicator" in err


def test_crowdsec_requests_hit_suricata_eve_http_records_by_address_method_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requests, lines, hits = _requests_and_near_misses()
    feed = _request_feed(tmp_path, requests)
    records = [_eve_http(n, src, method, path, dst) for n, (src, method, path, dst) in enumerate(lines, 1)]
    log = _write_json_lines(tmp_path / "eve.json", records)

    status, found, _ = _scan(capsys, "-i", str(feed), "--events", "auto", str(log))
    assert status == 0
    assert [(hit["line"], *hit["indicators"]) for hit in found] == [
        (line, indicator("", n)["id"]) for n, line in enumerate(hits, 1)
    ]
    assert {hit["field"] for hit in found} == {"src_ip,http.http_method,http.url"}
