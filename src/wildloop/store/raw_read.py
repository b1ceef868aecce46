"""Big reads as plain driver tuples, for the few queries that return a row per media item.

SQLAlchemy binds the parameters (dates included) and runs the statement; the rows are then
taken from the driver's cursor as they are, without a Row object each. Only for columns that
need no result processing: integers, floats, text (no dates: turn them into numbers in SQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Executable
from sqlalchemy.orm import Session


def raw_rows(session: Session, query: Executable) -> list[tuple[Any, ...]]:
    """Every row of ``query`` as the driver returns it, in the session's transaction."""
    result = session.connection().execute(query)
    try:
        return list(result.cursor.fetchall())
    finally:
        result.close()
