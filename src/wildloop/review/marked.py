"""Items marked for retraining (missed detection, false positive): counts and a paged list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.errors import BadInput
from wildloop.review import grid
from wildloop.review.filters import GridFilter
from wildloop.store.tables import Media, User

KINDS = ("missed", "false_positive")


@dataclass(frozen=True)
class MarkedItem:
    item: grid.GridItem
    marked_at: datetime | None
    marked_by: str | None


@dataclass(frozen=True)
class MarkedPage:
    items: list[MarkedItem]
    next_cursor: str | None
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def marked_counts(session: Session) -> dict[str, int]:
    """How many items carry each mark (read from the (marked, id) index)."""
    rows = dict(
        session.execute(
            select(Media.marked, func.count())
            .where(Media.marked.is_not(None), Media.status == "ok")
            .group_by(Media.marked)
        ).all()
    )
    return {kind: rows.get(kind, 0) for kind in KINDS}


def marked_page(session: Session, kind: str | None, cursor: str | None, limit: int) -> MarkedPage:
    """Marked items, newest first, ``limit`` per page, optionally of one kind."""
    if kind is not None and kind not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    flt = GridFilter(marked=kind or "any", sort="id", descending=True)
    found = grid.page(session, flt, cursor=cursor, limit=limit)
    ids = [i.id for i in found.items]
    who = {
        row.id: (row.marked_at, row.username)
        for row in session.execute(
            select(Media.id, Media.marked_at, User.username)
            .outerjoin(User, User.id == Media.marked_by)
            .where(Media.id.in_(ids))
        )
    }
    items = [MarkedItem(i, *who.get(i.id, (None, None))) for i in found.items]
    return MarkedPage(items=items, next_cursor=found.next_cursor, counts=marked_counts(session))
