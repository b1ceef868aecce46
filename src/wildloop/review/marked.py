"""Items marked for retraining (missed detection, false positive): counts and a paged list,
newest mark first, walked along a small index that holds only marked rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wildloop.errors import BadInput
from wildloop.review import cursors, grid
from wildloop.store import hints
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
    """How many items carry each mark, read from the (marked, id) index (only good media
    can be marked, see actions.set_mark)."""
    query = select(Media.marked, func.count()).where(Media.marked.is_not(None))
    query = hints.use_index(query.group_by(Media.marked), Media, "ix_media_marked_id")
    rows = dict(session.execute(query).all())
    return {kind: rows.get(kind, 0) for kind in KINDS}


def marked_page(session: Session, kind: str | None, cursor: str | None, limit: int) -> MarkedPage:
    """Marked items, the latest mark first, ``limit`` per page, optionally of one kind."""
    if kind is not None and kind not in KINDS:
        raise BadInput(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    cursors.check_limit(limit)
    query = (
        grid.select_items(grid.champion_id(session), inner=False)
        .add_columns(Media.marked_at, User.username.label("marked_by_name"))
        .outerjoin(User, User.id == Media.marked_by)
        .where(Media.marked.is_not(None))
    )
    if kind:
        query = query.where(Media.marked == kind)
    if cursor:
        raw_at, last_id = cursors.decode(cursor, 2)
        at = cursors.instant(raw_at)
        query = query.where(
            and_(Media.marked_at <= at, or_(Media.marked_at < at, Media.id < last_id))
        )
    query = hints.use_index(query, Media, "ix_media_marked_at")
    rows = session.execute(
        query.order_by(Media.marked_at.desc(), Media.id.desc()).limit(limit + 1)
    ).all()
    items = [MarkedItem(grid.item_of(r), r.marked_at, r.marked_by_name) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        next_cursor = cursors.encode(last.marked_at, last.item.id)
    return MarkedPage(items=items, next_cursor=next_cursor, counts=marked_counts(session))
