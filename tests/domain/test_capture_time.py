"""Capture times from EXIF strings and file names."""

from __future__ import annotations

from datetime import datetime

import pytest

from wildloop.domain.capture_time import parse_exif_datetime, parse_filename_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024:01:31 23:59:58", datetime(2024, 1, 31, 23, 59, 58)),
        ("2024-01-31 23:59:58\x00", datetime(2024, 1, 31, 23, 59, 58)),
        ("0000:00:00 00:00:00", None),
        ("    ", None),
        ("garbage", None),
    ],
)
def test_exif_datetime(value: str, expected: datetime | None) -> None:
    assert parse_exif_datetime(value) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("IMG_20240131_235958.jpg", datetime(2024, 1, 31, 23, 59, 58)),
        ("cam3 2024-01-31 23-59-58.JPG", datetime(2024, 1, 31, 23, 59, 58)),
        ("20240131235958.jpg", datetime(2024, 1, 31, 23, 59, 58)),
        ("site_2024_01_31.jpg", datetime(2024, 1, 31)),
        ("RCNX0001.JPG", None),
        ("IMG_20241399_999999.jpg", None),
    ],
)
def test_filename_time(name: str, expected: datetime | None) -> None:
    assert parse_filename_time(name) == expected
