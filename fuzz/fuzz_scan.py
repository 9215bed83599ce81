"""Fuzz the scanner: any bytes, every engine, lines and blocks of any size.

    .venv/bin/python fuzz/fuzz_scan.py -max_total_time=600 fuzz/seeds/scan

For each input, every engine must give the same matches, and the block path
(``scan_stream`` with a block size the input chooses) the same as the line
path (``scan`` over the lines), also when every line is read as the pieces of
a long line (``line_window=1``); nothing may raise. Anything else is a crash:
libFuzzer stops and writes the input to crash-*.
"""

from __future__ import annotations

import io
import sys

import atheris

with atheris.instrument_imports():
    import iocmatch
    from iocmatch._engines.hyperscan import AVAILABLE as HYPERSCAN

PATTERNS = [
    "[domain-name:value = 'evil.example']",
    "[domain-name:value = 'bücher.example']",
    "[url:value = 'http://evil.example/Gate.php']",
    "[ipv4-addr:value = '198.51.100.0/22']",
    "[ipv4-addr:value = '203.0.113.7']",
    "[ipv6-addr:value = '2001:db8::/32']",
    "[file:hashes.MD5 = '0cc175b9c0f1b6a831c399e269772661']",
    "[file:name = 'gothic.dat']",
    "[email-addr:value = 'bad@evil.example']",
    "[mutex:name = 'Global\\\\evil']",
    "[windows-registry-key:key = 'HKLM\\\\Software\\\\Evil']",
    "[file:name = 'a.exe' AND file:hashes.MD5 = '900150983cd24fb0d6963f7d28e17f72']",
]
BUNDLE = {
    "type": "bundle",
    "id": "bundle--00000000-0000-4000-8000-000000000000",
    "objects": [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{number:012d}",
            "created": "2020-01-01T00:00:00.000Z",
            "modified": "2020-01-01T00:00:00.000Z",
            "pattern": pattern,
            "pattern_type": "stix",
            "valid_from": "2020-01-01T00:00:00Z",
        }
        for number, pattern in enumerate(PATTERNS, 1)
    ],
}
LOADED = iocmatch.load(BUNDLE)
ENGINES = ["aho-corasick", "tokens", *(["hyperscan"] if HYPERSCAN else [])]
MATCHERS = [iocmatch.compile(LOADED, engine=engine) for engine in ENGINES]


def test_one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    block_size = provider.ConsumeIntInRange(1, 4096)
    text = provider.ConsumeBytes(provider.remaining_bytes())
    expected = list(MATCHERS[0].scan(text.split(b"\n")))
    for engine, matcher in zip(ENGINES, MATCHERS, strict=True):
        by_lines = list(matcher.scan(text.split(b"\n")))
        by_blocks = list(matcher.scan_stream(io.BytesIO(text), block_size))
        by_pieces = list(matcher.scan_stream(io.BytesIO(text), block_size, line_window=1))
        if by_lines != expected or by_blocks != expected or by_pieces != expected:
            found = f"lines {by_lines} blocks {by_blocks} pieces {by_pieces}"
            raise AssertionError(f"{engine}: {found} expected {expected}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
