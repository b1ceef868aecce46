"""Index hints: how a query names the index it must walk, where the database needs telling.

PostgreSQL plans from value histograms and needs no help. SQLite (without STAT4) knows only
the average rows per key, so a filter on a rare class and a filter on a common one look the
same to it, and a LIMIT query can end up sorting half the table. The grid measures what it
needs (capped counts) and names the index; on PostgreSQL these helpers do nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

NOT_INDEXED = "NOT INDEXED"


def needs_hints(session: Session) -> bool:
    """Whether this database needs the access path chosen for it (SQLite)."""
    return session.get_bind().dialect.name == "sqlite"


def use_index(query: Select[Any], entity: Any, index: str | None) -> Select[Any]:
    """Make SQLite walk ``index`` for ``entity`` (None: the rowid / primary key only)."""
    hint = f"INDEXED BY {index}" if index else NOT_INDEXED
    return query.with_hint(entity, hint, dialect_name="sqlite")


def capped_count(session: Session, query: Select[Any], cap: int) -> int:
    """How many rows ``query`` yields, counting at most ``cap + 1`` of them."""
    sub = query.order_by(None).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(sub)) or 0
