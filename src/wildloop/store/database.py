"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is tuned for one writer with short transactions (WAL, busy_timeout) instead of
retrying on "database is locked"; readers never block the writer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000

log = logging.getLogger(__name__)
T = TypeVar("T")


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dialect.statement_compiler = _HintingSQLiteCompiler
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class _HintingSQLiteCompiler(SQLiteCompiler):
    """Renders table hints (``INDEXED BY ix`` / ``NOT INDEXED``), which stock SQLAlchemy drops
    on SQLite. SQLite's planner has no value histograms, so the few hot grid queries pick
    their index themselves (see store/hints.py)."""

    def get_from_hint_text(self, table: Any, text: str | None) -> str | None:
        return text


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """An engine plus a session factory; ``session()`` commits on success, rolls back on error."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T], *, retry_for: float = 0.0) -> T:
        """``work(session)`` in one transaction; while the database server is unreachable
        (restarted, failed over), try again on a fresh connection for up to ``retry_for``
        seconds before raising.

        Only for short transactions that are safe to run twice (the job rows' conditional
        UPDATEs are: a second run finds nothing left to change). SQLite errors are never
        retried: a file database does not go away, and a lock already waited busy_timeout.
        """
        deadline = time.monotonic() + retry_for
        pause = 0.2
        while True:
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as exc:
                if not self.lost_server(exc) or time.monotonic() + pause > deadline:
                    raise
                log.warning("database unreachable (%s); retrying in %.1fs", exc.orig, pause)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)

    def lost_server(self, exc: DBAPIError) -> bool:
        """Whether ``exc`` says the database server is unreachable (not a bad statement)."""
        if is_sqlite(self.engine):
            return False
        return exc.connection_invalidated or isinstance(exc, OperationalError)

    def dispose(self) -> None:
        self.engine.dispose()
