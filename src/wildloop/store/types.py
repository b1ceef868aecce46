"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

# 64-bit ids on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
IdType = BigInteger().with_variant(Integer(), "sqlite")

# The largest value each integer column holds on both databases: the bound the edges check
# before a number reaches SQL (a larger one overflows the driver instead of being refused).
MAX_ID = 2**63 - 1  # IdType: BIGINT on PostgreSQL, 64-bit INTEGER on SQLite
MAX_INTEGER = 2**31 - 1  # Integer: 32-bit INTEGER on PostgreSQL


class UTCDateTime(TypeDecorator[datetime]):
    """An instant, stored as naive UTC and returned timezone-aware.

    SQLite has no time zones; storing naive UTC everywhere keeps comparisons and ordering
    identical on both databases.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]


def utcnow() -> datetime:
    return datetime.now(UTC)


def database_now(session: Session) -> datetime:
    """The database's clock (UTC, aware): what every machine's job rows are stamped with.

    Heartbeats are written by one machine and judged stale by another; comparing each
    machine's own clock would let a worker whose clock is behind look dead (its chunk redone
    while it runs) and one whose clock is ahead look alive after it died. One clock, the
    server's, makes the decision independent of any worker's clock. SQLite runs inside the
    processes of one machine, so its clock is that machine's.
    """
    if session.get_bind().dialect.name == "sqlite":
        return utcnow()
    now = session.scalar(select(func.clock_timestamp()))
    assert isinstance(now, datetime)
    return now.astimezone(UTC)
