"""Real feeds' structured comparisons on structured logs (``scan --events``):
abuse.ch Feodo Tracker's published C2 address and port pairs on a Zeek
conn.log, and Citizen Lab's MissingLink user agent on Zeek http.log and
Suricata EVE records. Each hits the record that is what it says, and no near
miss: the port as a source port, the C2 as the source, a longer user agent."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from iocmatch._cli import command as cli
from tests.conftest import ROOT, bundle, indicator
from tests.test_event_fields import ZEEK_CONN_HEADER

pytestmark = pytest.mark.slow  # whole scans through the command

FEEDS = ROOT.parent / "shared" / "corpus" / "feeds"
FEODO = FEEDS / "abusech-feodotracker" / "ipblocklist.csv"
MISSING_LINK = FEEDS / "citizenlab-openioc" / "201909_MissingLink" / "misp.json"


def _real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"the public feeds corpus is not beside the project ({path} is missing)")
    return path


def _scan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]]]:
    status = cli.main(["scan", "--format", "jsonl", *argv])
    out = capsys.readouterr().out.splitlines()
    return status, [json.loads(line) for line in out if line.startswith("{")]


def _feodo_pairs(count: int) -> list[tuple[str, str]]:
    text = _real(FEODO).read_text(encoding="utf-8")
    data = "".join(line for line in text.splitlines(True) if not line.startswith("#"))  # the banner
    pairs = [(row["dst_ip"], row["dst_port"]) for row in csv.DictReader(io.StringIO(data))]
    assert len(pairs) >= count
    return pairs[:count]


def _conn(ts: float, orig: str, orig_port: str, resp: str, resp_port: str) -> str:
    columns = [f"{ts:.6f}", "CHhAvVGS1DHFjwGM9", orig, orig_port, resp, resp_port, "tcp", "-", "3.004", "517", "1430",
               "SF", "T", "F", "0", "ShADadFf", "8", "849", "6", "1750", "(empty)"]  # fmt: skip
    return "\t".join(columns)


def test_feodo_c2_pairs_hit_the_connections_they_name_on_a_zeek_conn_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pairs = _feodo_pairs(25)
    patterns = [
        f"[network-traffic:dst_ref.value = '{address}' AND network-traffic:dst_port = {port}]"
        for address, port in pairs
    ]
    feed = tmp_path / "feodo-pairs.json"
    feed.write_text(json.dumps(bundle(*(indicator(p, n) for n, p in enumerate(patterns, 1)))))
    lines, expected = list(ZEEK_CONN_HEADER), []
    for number, (address, port) in enumerate(pairs, 1):
        other = "8443" if port == "443" else "443"
        lines.append(_conn(1712215383.0 + number, "10.20.1.15", "49732", address, port))  # the C2 connection
        expected.append((len(lines), indicator("", number)["id"]))
        lines.append(_conn(1712215383.5 + number, "10.20.1.15", port, address, other))  # its port as a source port
        lines.append(_conn(1712215383.7 + number, address, "51000", "10.20.1.15", port))  # the C2 as the source
    log = tmp_path / "conn.log"
    log.write_text("\n".join(lines) + "\n")

    status, records = _scan(capsys, "-i", str(feed), "--events", "auto", str(log))
    assert status == 0
    assert [(record["line"], *record["indicators"]) for record in records] == expected
    assert {record["field"] for record in records} == {"id.resp_h,id.resp_p"}
    # As text, address and port anywhere on a line: every near miss hits too.
    status, as_text = _scan(capsys, "-i", str(feed), str(log))
    assert status == 0
    assert len({record["line"] for record in as_text}) == 3 * len(pairs)


def test_missing_links_user_agent_hits_zeek_and_eve_records_that_send_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = _real(MISSING_LINK)
    zeek: dict[str, Any] = {
        "_path": "http", "ts": 1568000000.25, "uid": "CmES5u32sYpV7JYN", "id.orig_h": "10.20.1.15",
        "id.orig_p": 49810, "id.resp_h": "198.51.100.23", "id.resp_p": 80, "trans_depth": 1, "method": "GET",
        "host": "update.example.net", "uri": "/a.php", "status_code": 200,
    }  # fmt: skip
    eve: dict[str, Any] = {
        "timestamp": "2019-09-09T03:33:20.120532+0000", "flow_id": 1183409132746132, "event_type": "http",
        "src_ip": "10.20.1.15", "src_port": 49811, "dest_ip": "198.51.100.23", "dest_port": 80, "proto": "TCP",
        "http": {"hostname": "update.example.net", "url": "/a.php", "http_method": "GET", "protocol": "HTTP/1.1"},
    }  # fmt: skip
    records = [
        {**zeek, "user_agent": "hots scot"},
        {**zeek, "user_agent": "hots scotland"},
        {**eve, "http": {**eve["http"], "http_user_agent": "hots scot"}},
        {**eve, "http": {**eve["http"], "http_user_agent": "Mozilla/5.0 hots scot"}},
    ]
    log = tmp_path / "http.ndjson"
    log.write_text("".join(json.dumps(record) + "\n" for record in records))
    status, found = _scan(capsys, "-i", str(feed), "--ignore-validity", "--events", "auto", str(log))
    assert status == 0
    assert [(record["line"], record["kind"], record["text"]) for record in found] == [
        (1, "fields", "hots scot"),
        (3, "fields", "hots scot"),
    ]
    assert [record["field"] for record in found] == ["user_agent", "http.http_user_agent"]
