"""Index hints: how a query names the index it must walk, where the database needs telling.

PostgreSQL plans from value histograms and needs no help. SQLite (without STAT4) knows only
the average rows per key, so a filter on a rare class and a filter on a common one look the
same to it, and a LIMIT query can end up sorting half the table. The grid measures what it
needs (capped counts) and names the index; on PostgreSQL these helpers do nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session

NOT_INDEXED = "NOT INDEXED"
_WALKING = "wildloop.walk_indexes"
Query = TypeVar("Query", bound=Select[*tuple[Any, ...]])


def needs_hints(session: Session) -> bool:
    """Whether this database needs the access path chosen for it (SQLite)."""
    return session.get_bind().dialect.name == "sqlite"


def use_index(query: Query, entity: Any, index: str | None) -> Query:
    """Make SQLite walk ``index`` for ``entity`` (None: the rowid / primary key only)."""
    hint = f"INDEXED BY {index}" if index else NOT_INDEXED
    return query.with_hint(entity, hint, dialect_name="sqlite")


def walk_indexes(session: Session) -> None:
    """Grid pages read a few rows along an index and stop. On PostgreSQL a merge or hash join
    would read a whole table first (its estimates assume a class is spread evenly over the
    archive, while a camera's items sit together), and parallel workers cost more to start
    than such a walk takes. Nested loops, no workers, for this transaction."""
    if session.get_bind().dialect.name != "postgresql" or session.info.get(_WALKING):
        return
    session.execute(
        text(
            "SET LOCAL enable_mergejoin = off; SET LOCAL enable_hashjoin = off; "
            "SET LOCAL max_parallel_workers_per_gather = 0"
        )
    )
    session.info[_WALKING] = True


def capped_count(session: Session, query: Select[*tuple[Any, ...]], cap: int) -> int:
    """How many rows ``query`` yields, counting at most ``cap + 1`` of them."""
    sub = query.order_by(None).limit(cap + 1).subquery()
    return session.scalar(select(func.count()).select_from(sub)) or 0
