"""Dialect-specific bulk statements, kept in one place (SQLite and PostgreSQL differ here).

``insert_or_skip`` is the idempotent insert that makes job chunks safe to run twice: a row
whose unique key already exists is skipped, not duplicated and not an error. Ingest uses it
so that a row another ingest inserted at the same instant is "already there", not a 500.

``lock_row`` serialises writers of one row's dependants (a camera's sequences) on both
dialects: a no-op UPDATE takes PostgreSQL's row lock and SQLite's write lock.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Table, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_or_skip(session: Session, table: Table | Any, conflict_columns: list[str] | None) -> Any:
    """An INSERT that skips rows clashing with the unique key ``conflict_columns`` (with
    None: with any unique constraint or index of the table, partial ones included)."""
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


def lock_row(session: Session, table: Table | Any, row_id: int) -> None:
    """Hold ``row_id`` of ``table`` for this transaction: another transaction doing the same
    waits until this one ends, and then reads what it wrote."""
    target = getattr(table, "__table__", table)
    session.execute(update(target).where(target.c.id == row_id).values(id=target.c.id))
