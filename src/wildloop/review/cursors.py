"""Keyset page cursors, shared by the grid and the marked list: an opaque URL-safe token for
"the rows after this one", and the page-size check both lists make.

A cursor is the base64url of a JSON list of the last row's key values. Decoding refuses a
forged, truncated or stale cursor with one BadInput, including an id outside the range the
database can compare against (it would overflow the driver, not find nothing).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from wildloop.errors import BadInput
from wildloop.store.types import MAX_ID

DEFAULT_LIMIT = 60
MAX_LIMIT = 500


class InvalidCursor(BadInput):
    def __init__(self) -> None:
        super().__init__("the page cursor is not valid; start again from the first page")


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise BadInput(f"limit must lie between 1 and {MAX_LIMIT}, not {limit}")


def encode(*values: Any) -> str:
    """The cursor for a row whose keys are ``values`` (JSON types; datetimes as ISO text)."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, length: int) -> list[Any]:
    """The ``length`` key values in ``cursor``; the last one is always a row id."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise InvalidCursor from None
    if not isinstance(values, list) or len(values) != length:
        raise InvalidCursor
    last_id = values[-1]
    if isinstance(last_id, bool) or not isinstance(last_id, int) or not 0 <= last_id <= MAX_ID:
        raise InvalidCursor
    return values


def instant(value: Any) -> datetime:
    """A datetime key value of a decoded cursor."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidCursor from None


def number(value: Any) -> float:
    """A numeric key value of a decoded cursor (a finite score)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise InvalidCursor
    return float(value)
