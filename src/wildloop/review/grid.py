"""Grid queries: one page of media for a filter, with keyset pagination.

Every page is "the next N rows after this (sort value, id)", walked along an index, so page
10,000 costs what page 1 costs. The effective class filter (human label if reviewed, else the
model's top class) is the union of two branches, reviewed and unreviewed, each limited and
ordered on its own, then merged: an OR across two tables would defeat both indexes.
Which index each branch walks is chosen in ``grid_paths`` (SQLite needs telling).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, false, null, or_, select, true, union_all
from sqlalchemy.orm import Session

from wildloop.errors import BadInput
from wildloop.registry import aliases
from wildloop.review import cursors
from wildloop.review.cursors import DEFAULT_LIMIT
from wildloop.review.filters import GridFilter
from wildloop.review.grid_paths import PS, Branch, Path, choose_path
from wildloop.review.hidden_regions import HiddenRegions, hidden_regions
from wildloop.store import hints
from wildloop.store.tables import Media, ModelVersion, ShadowComparison
from wildloop.store.time_of_day import time_of_day

COUNT_CAP = 5_000


@dataclass(frozen=True)
class GridItem:
    id: int
    sha256: str | None
    width: int | None
    height: int | None
    camera_id: int | None
    sequence_id: int | None
    captured_at: datetime | None
    split: str | None
    reviewed: bool
    marked: str | None
    label_class_id: int | None
    label_revision: int
    top_class_id: int | None
    top_score: float | None

    @property
    def effective_class_id(self) -> int | None:
        """The human label's main class when reviewed, else the model's top class."""
        return self.label_class_id if self.reviewed else self.top_class_id

    def sort_value(self, sort: str) -> Any:
        return {"id": self.id, "captured_at": self.captured_at, "score": self.top_score}[sort]


@dataclass(frozen=True)
class GridPage:
    items: list[GridItem]
    next_cursor: str | None
    model_version_id: int | None


def champion_id(session: Session) -> int | None:
    """The model version behind the 'champion' alias, or None before any model is deployed."""
    return aliases.resolve(session, "champion")


def model_or_champion(session: Session, requested: int | None) -> int | None:
    """The model version whose boxes an action starts from: the one the client names (which
    must exist, or labels would silently start from nothing) or else the champion."""
    if requested is None:
        return champion_id(session)
    if session.get(ModelVersion, requested) is None:
        raise BadInput(f"model_version_id {requested} does not exist; the facets list the models")
    return requested


def model_for(session: Session, flt: GridFilter) -> int | None:
    """The model version whose predictions the filter reads: the chosen one or the champion."""
    return flt.model_version_id if flt.model_version_id is not None else champion_id(session)


def page(
    session: Session,
    flt: GridFilter,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    model_id: int | None = None,
) -> GridPage:
    """The ``limit`` items after ``cursor`` (None: the first page) in the filter's order."""
    cursors.check_limit(limit)
    model_id = model_id if model_id is not None else model_for(session, flt)
    after = decode_cursor(cursor, flt.sort) if cursor else None
    rows = fetch(session, flt, model_id, after, limit + 1)
    more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(items[-1], flt.sort) if more and items else None
    return GridPage(items=items, next_cursor=next_cursor, model_version_id=model_id)


def item_at(session: Session, media_id: int, model_id: int | None) -> GridItem | None:
    """One item as the grid sees it (with its sort values), or None if it is not ok media."""
    query = select_items(model_id, inner=False).where(Media.id == media_id)
    row = session.execute(query).one_or_none()
    return item_of(row) if row else None


def neighbours(
    session: Session, flt: GridFilter, item: GridItem, model_id: int | None
) -> tuple[int | None, int | None]:
    """Ids of the items before and after ``item`` in the filter's order (None at the ends)."""
    return following(session, flt.reversed(), item, model_id), following(
        session, flt, item, model_id
    )


def following(
    session: Session, flt: GridFilter, item: GridItem, model_id: int | None
) -> int | None:
    """Id of the item after ``item`` in the filter's order (None at the end, or when the item
    has no value to sort by)."""
    key = (item.sort_value(flt.sort), item.id)
    if key[0] is None:
        return None
    after = fetch(session, flt, model_id, key, 1)
    return after[0].id if after else None


def count(session: Session, flt: GridFilter, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many items match, counting at most ``cap`` (returns the count and whether capped)."""
    model_id = model_for(session, flt)
    hints.walk_indexes(session)
    hidden = hidden_regions(session) if model_id is not None else None
    total = 0
    for branch in _branches(flt, model_id):
        path = choose_path(session, flt, branch, model_id)
        query = _branch_query(session, flt, branch, model_id, path, hidden)
        total += hints.capped_count(session, query, cap)
    return min(total, cap), total > cap


def matching_ids(session: Session, flt: GridFilter, cap: int) -> list[int]:
    """Every id matching the filter, in order; BadInput when more than ``cap`` match."""
    model_id = model_for(session, flt)
    ids: list[int] = []
    after: tuple[Any, int] | None = None
    while True:
        rows = fetch(session, flt, model_id, after, 1000)
        ids.extend(r.id for r in rows)
        if len(ids) > cap:
            raise BadInput(
                f"more than {cap} items match this filter; narrow it (camera, date, class) "
                "and apply the batch in parts"
            )
        if len(rows) < 1000:
            return ids
        after = (rows[-1].sort_value(flt.sort), rows[-1].id)


def fetch(
    session: Session,
    flt: GridFilter,
    model_id: int | None,
    after: tuple[Any, int] | None,
    limit: int,
) -> list[GridItem]:
    """Up to ``limit`` items strictly after ``after`` = (sort value, id) in the filter's order."""
    hints.walk_indexes(session)
    hidden = hidden_regions(session) if model_id is not None else None
    parts = []
    for branch in _branches(flt, model_id):
        path = choose_path(session, flt, branch, model_id)
        query = _branch_query(session, flt, branch, model_id, path, hidden)
        joined = model_id is not None and (flt.needs_predictions or branch is Branch.MACHINE)
        parts.append(_ordered(query, flt, path, after, joined).limit(limit))
    if not parts:
        return []
    if len(parts) == 1:
        return [item_of(r) for r in session.execute(parts[0])]
    merged = union_all(*(select(p.subquery()) for p in parts)).subquery()
    order: list[Any] = [merged.c.sort_key, merged.c.id]
    if flt.descending:
        order = [c.desc() for c in order]
    rows = session.execute(select(merged).order_by(*order).limit(limit))
    return [item_of(r) for r in rows]


# --- query building ---------------------------------------------------------------------------


def _branches(flt: GridFilter, model_id: int | None) -> list[Branch]:
    """The index-friendly branches of the effective-class condition."""
    if flt.needs_predictions and model_id is None:
        if flt.model_version_id is None and flt.sort == "score":
            raise BadInput("no champion model yet: sorting by score needs a model version")
        return []
    if flt.class_id is None:
        return [Branch.ALL]
    branches = []
    if flt.reviewed is not False:
        branches.append(Branch.HUMAN)
    if flt.reviewed is not True and model_id is not None:
        branches.append(Branch.MACHINE)
    return branches


def select_items(model_id: int | None, *, inner: bool) -> Select[Any]:
    top_class: Any = null() if model_id is None else PS.top_class_id
    top_score: Any = null() if model_id is None else PS.top_score
    query: Any = select(
        Media.id,
        Media.sha256,
        Media.width,
        Media.height,
        Media.camera_id,
        Media.sequence_id,
        Media.captured_at,
        Media.split,
        Media.reviewed,
        Media.marked,
        Media.label_class_id,
        Media.label_revision,
        top_class.label("top_class_id"),
        top_score.label("top_score"),
    ).where(Media.status == "ok")
    if model_id is not None:
        on = and_(PS.media_id == Media.id, PS.model_version_id == model_id)
        query = query.join(PS, on) if inner else query.outerjoin(PS, on)
    return query  # type: ignore[no-any-return]


def _branch_query(
    session: Session,
    flt: GridFilter,
    branch: Branch,
    model_id: int | None,
    path: Path,
    hidden: HiddenRegions | None = None,
) -> Select[Any]:
    inner = flt.needs_predictions or branch is Branch.MACHINE
    query = select_items(model_id, inner=inner)
    if flt.camera_id is not None:
        query = query.where(Media.camera_id == flt.camera_id)
    if flt.reviewed is not None and branch is Branch.ALL:  # the class branches imply it
        query = query.where(Media.reviewed == (true() if flt.reviewed else false()))
    if flt.marked == "any":
        query = query.where(Media.marked.is_not(None))
    elif flt.marked == "none":
        query = query.where(Media.marked.is_(None))
    elif flt.marked:
        query = query.where(Media.marked == flt.marked)
    if flt.split:
        query = query.where(Media.split == flt.split)
    if flt.date_from:
        query = query.where(Media.captured_at >= flt.date_from)
    if flt.date_to:
        query = query.where(Media.captured_at <= flt.date_to)
    if flt.kind:
        query = query.where(Media.kind == flt.kind)
    clock = _clock_condition(flt)
    if clock is not None:
        query = query.where(clock)
    if flt.shadow:
        query = query.where(Media.id.in_(_shadow_verdicts(session, flt.shadow)))
    if flt.min_score is not None:
        query = query.where(PS.top_score >= flt.min_score)
    if flt.max_score is not None:
        query = query.where(PS.top_score <= flt.max_score)
    if flt.sort == "score":
        # Items where the model found nothing have no score: they are not in a score order
        # (NULLs sort differently on SQLite and PostgreSQL and would break the keyset).
        query = query.where(PS.top_score.is_not(None))
    if branch is Branch.HUMAN:
        query = query.where(Media.reviewed == true(), Media.label_class_id == flt.class_id)
    elif branch is Branch.MACHINE:
        query = query.where(Media.reviewed == false(), PS.top_class_id == flt.class_id)
    if hidden is not None and model_id is not None:
        shown = _shown_condition(flt, branch, hidden)
        if shown is not None:
            query = query.where(shown)
    if hints.needs_hints(session):
        query = hints.use_index(query, Media, path.media_index)
        if model_id is not None:
            query = hints.use_index(query, PS, path.ps_index)
    return query


def _shown_condition(flt: GridFilter, branch: Branch, hidden: HiddenRegions) -> Any:
    """The model's word on a frame stands only on boxes outside the false-positive regions:
    when the filter reads the model (its class, a score bound, the score order), a frame
    matches only if a box of that class (scoring at least ``min_score``) is still shown.
    None when the filter does not read the model's boxes: a frame is a frame."""
    machine = branch is Branch.MACHINE
    if flt.camera_id is not None and flt.camera_id not in hidden.camera_ids:
        return None  # no region on the one camera asked for
    if not (
        machine or flt.min_score is not None or flt.max_score is not None or flt.sort == "score"
    ):
        return None
    return hidden.frame_shows(
        PS.id,
        Media.camera_id,
        class_id=flt.class_id if machine else None,
        min_score=flt.min_score,
    )


def _shadow_verdicts(session: Session, verdict: str) -> Select[Any]:
    """Ids of the items the current challenger disagreed with the current champion on, in
    shadow runs (all disagreements, or one kind)."""
    champion = aliases.resolve(session, "champion")
    challenger = aliases.resolve(session, "challenger")
    outcome = (
        ShadowComparison.outcome != "agree"
        if verdict == "disagree"
        else ShadowComparison.outcome == verdict
    )
    return select(ShadowComparison.media_id).where(
        ShadowComparison.champion_version_id == champion,
        ShadowComparison.challenger_version_id == challenger,
        outcome,
    )


def _clock_condition(flt: GridFilter) -> Any:
    """Captured between two clock times, wrapping midnight when from is later than to."""
    if flt.time_from is None and flt.time_to is None:
        return None
    clock = time_of_day(Media.captured_at)
    start = flt.time_from.isoformat() if flt.time_from is not None else None
    end = flt.time_to.isoformat() if flt.time_to is not None else None
    if start is not None and end is not None:
        if start <= end:
            return and_(clock >= start, clock < end)
        return or_(clock >= start, clock < end)
    return clock >= start if start is not None else clock < end


def _ordered(
    query: Select[Any],
    flt: GridFilter,
    path: Path,
    after: tuple[Any, int] | None,
    joined: bool,
) -> Select[Any]:
    """Order by (sort value, id) and start after the cursor, on the columns the path walks.

    With predictions inner-joined, an id bound is stated on both sides of the join: a
    planner walking the prediction sets' class index then starts at the cursor instead of
    at the first item (PostgreSQL does not carry inequalities across a join)."""
    ident: Any = PS.media_id if path.drives_from_predictions else Media.id
    key: Any = {
        "id": ident,
        "captured_at": Media.captured_at,
        "score": PS.top_score,
    }[flt.sort]
    query = query.add_columns(key.label("sort_key"))
    if after is not None:
        value, last_id = after
        if flt.sort == "id":
            cond = ident < last_id if flt.descending else ident > last_id
            if joined:
                other = Media.id if path.drives_from_predictions else PS.media_id
                cond = and_(cond, other < last_id if flt.descending else other > last_id)
        elif flt.descending:
            # Written so the first term bounds an index range on both databases.
            cond = and_(key <= value, or_(key < value, ident < last_id))
        else:
            cond = and_(key >= value, or_(key > value, ident > last_id))
        query = query.where(cond)
    if flt.sort == "id":
        return query.order_by(ident.desc() if flt.descending else ident)
    if flt.descending:
        return query.order_by(key.desc(), ident.desc())
    return query.order_by(key, ident)


def item_of(row: Any) -> GridItem:
    return GridItem(
        id=row.id,
        sha256=row.sha256,
        width=row.width,
        height=row.height,
        camera_id=row.camera_id,
        sequence_id=row.sequence_id,
        captured_at=row.captured_at,
        split=row.split,
        reviewed=bool(row.reviewed),
        marked=row.marked,
        label_class_id=row.label_class_id,
        label_revision=row.label_revision,
        top_class_id=row.top_class_id,
        top_score=row.top_score,
    )


# --- cursors ----------------------------------------------------------------------------------


def encode_cursor(item: GridItem, sort: str) -> str:
    return cursors.encode(sort, item.sort_value(sort), item.id)


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The (sort value, id) a cursor stands for; BadInput for a forged or stale cursor."""
    kind, value, last_id = cursors.decode(cursor, 3)
    if kind != sort:
        raise BadInput("the page cursor belongs to another sort order; start from the first page")
    if sort == "captured_at":
        value = cursors.instant(value)
    elif sort == "score":
        value = cursors.number(value)
    return value, last_id
