"""Items marked for retraining (missed detection, false positive): counts and a paged list,
newest mark first, walked along a small index that holds only marked rows."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from wildloop.errors import BadInput
from wildloop.review import grid
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
    if not 1 <= limit <= grid.MAX_LIMIT:
        raise BadInput(f"limit must lie between 1 and {grid.MAX_LIMIT}, not {limit}")
    query = (
        grid.select_items(grid.champion_id(session), inner=False)
        .add_columns(Media.marked_at, User.username.label("marked_by_name"))
        .outerjoin(User, User.id == Media.marked_by)
        .where(Media.marked.is_not(None))
    )
    if kind:
        query = query.where(Media.marked == kind)
    if cursor:
        at, last_id = _decode(cursor)
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
        next_cursor = _encode(items[-1])
    return MarkedPage(items=items, next_cursor=next_cursor, counts=marked_counts(session))


def _encode(item: MarkedItem) -> str:
    at = item.marked_at.isoformat() if item.marked_at else None
    raw = json.dumps([at, item.item.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[Any, int]:
    try:
        at, last_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(at), int(last_id)
    except (ValueError, TypeError, binascii.Error):
        raise BadInput("the page cursor is not valid; start again from the first page") from None
