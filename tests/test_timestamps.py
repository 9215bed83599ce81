"""STIX timestamps: any RFC 3339 form is read, anything else is a ValueError."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from iocmatch._common.timestamps import parse_timestamp


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-12-20T00:00:00Z", datetime(2018, 12, 20, tzinfo=timezone.utc)),
        ("2018-12-20t01:02:03.123456789+0100", datetime(2018, 12, 20, 0, 2, 3, 123456, tzinfo=timezone.utc)),
        ("2018-12-20", datetime(2018, 12, 20, tzinfo=timezone.utc)),
        ("0001-01-01T00:00:00-01:00", datetime(1, 1, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_rfc_3339_forms_are_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["0001-01-01T00:00:00+01:00", "2018-02-30T00:00:00Z", "yesterday", "2018-12-20T25:00"])
def test_what_is_no_instant_is_a_value_error(text: str) -> None:
    # The loader reports a ValueError on its object; an OverflowError would stop the whole load.
    with pytest.raises(ValueError, match=r"timestamp|range"):
        parse_timestamp(text)
