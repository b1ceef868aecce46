"""Dialect-specific bulk statements, kept in one place (SQLite and PostgreSQL differ here).

``insert_or_skip`` is the idempotent insert that makes job chunks safe to run twice: a row
whose unique key already exists is skipped, not duplicated and not an error.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_skip(session: Session, table: Table | Any, conflict_columns: list[str]) -> Any:
    """An INSERT that skips rows clashing with the unique key ``conflict_columns``."""
    name = session.get_bind().dialect.name
    target = getattr(table, "__table__", table)
    if name == "sqlite":
        return sqlite.insert(target).on_conflict_do_nothing(index_elements=conflict_columns)
    if name == "postgresql":
        return postgresql.insert(target).on_conflict_do_nothing(index_elements=conflict_columns)
    raise NotImplementedError(f"insert_or_skip has no form for {name}")


def rows_changed(session: Session, statement: Any) -> int:
    """Execute an UPDATE/DELETE/INSERT and return how many rows it changed.

    The conditional UPDATEs that claim jobs and move aliases decide on this number.
    """
    result = session.execute(statement)
    return int(cast(CursorResult[Any], result).rowcount)
