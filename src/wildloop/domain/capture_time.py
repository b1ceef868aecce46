"""Reading capture times from EXIF strings and file names.

Camera traps write local time without a zone, so times here are naive "camera clock" times;
a per-camera clock offset corrects them later.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum


class TimeSource(StrEnum):
    EXIF = "exif"
    METADATA = "metadata"  # a recording's own date tag (WAV INFO ICRD, Vorbis DATE, AudioMoth)
    FILENAME = "filename"
    MTIME = "mtime"
    IMPORT = "import"


_EXIF_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d %H:%M:%S.%f")

# Date and time digits with optional separators, as cameras and phones name files:
# 20240131_235959, 2024-01-31 23-59-59, IMG_20240131235959, 2024_01_31T23.59.59
_FILENAME_PATTERN = re.compile(
    r"(?<!\d)(?P<Y>(?:19|20)\d{2})[-_.:]?(?P<m>[01]\d)[-_.:]?(?P<d>[0-3]\d)"
    r"[ T_\-.]?(?P<H>[0-2]\d)[-_.:h]?(?P<M>[0-5]\d)[-_.:m]?(?P<S>[0-5]\d)(?!\d)"
)
_FILENAME_DATE_ONLY = re.compile(
    r"(?<!\d)(?P<Y>(?:19|20)\d{2})[-_.](?P<m>[01]\d)[-_.](?P<d>[0-3]\d)(?!\d)"
)


def parse_exif_datetime(value: str) -> datetime | None:
    """Parse an EXIF DateTimeOriginal value; None for blanks and the all-zero placeholder."""
    text = value.strip().strip("\x00").strip()
    if not text or text.startswith("0000"):
        return None
    for fmt in _EXIF_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_filename_time(name: str) -> datetime | None:
    """Find a date-time in a file name; a bare date counts as midnight."""
    for pattern in (_FILENAME_PATTERN, _FILENAME_DATE_ONLY):
        for match in pattern.finditer(name):
            parts = match.groupdict()
            try:
                return datetime(
                    int(parts["Y"]),
                    int(parts["m"]),
                    int(parts["d"]),
                    int(parts.get("H") or 0),
                    int(parts.get("M") or 0),
                    int(parts.get("S") or 0),
                )
            except ValueError:
                continue
    return None
