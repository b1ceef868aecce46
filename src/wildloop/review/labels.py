"""Saving a person's labels for a media item: a new immutable revision, never an overwrite.

The optimistic check is one conditional UPDATE on ``media.label_revision``: when two people
save the same item from the same revision, exactly one wins and the other gets a Conflict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet, primary_class
from wildloop.domain.spans import TimeSpan
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.store.tables import LabelBox, LabelRevision, Media, User
from wildloop.tallies import maintained


def save_labels(
    session: Session,
    media_id: int,
    labels: LabelSet,
    *,
    author_id: int,
    classes: ClassMap,
    expected_revision: int | None,
    source: str = "review",
    action: str = "labels.save",
    reviewed: bool = True,
) -> LabelRevision:
    """Store ``labels`` as the next revision of the item; ``expected_revision=None`` skips
    the conflict check (importers), any other value must equal the current revision.

    ``reviewed=False`` records a revision that takes the item back to unreviewed (undoing
    its first review): history stays append-only, the item returns to the review queue.

    Labels equal to the current ones (same boxes, note and reviewed state) change nothing,
    so nothing is written and the current revision is returned."""
    for value in labels.boxes:
        if value.class_id is not None and value.class_id not in {c.id for c in classes}:
            raise BadInput(f"unknown class id {value.class_id}; project classes: {classes.names}")
    current = session.execute(
        select(Media.label_revision, Media.status, Media.reviewed).where(Media.id == media_id)
    ).one_or_none()
    if current is None:
        raise NotFound(f"media {media_id} does not exist")
    if current.status != "ok":
        raise BadInput(f"media {media_id} failed ingest and cannot be labelled")
    base = current.label_revision if expected_revision is None else expected_revision
    if base != current.label_revision:
        raise _conflict(session, media_id, base)
    unchanged = (
        _unchanged(session, media_id, base, labels) if current.reviewed == reviewed else None
    )
    if unchanged is not None:
        return unchanged
    claimed = session.execute(
        update(Media)
        .where(Media.id == media_id, Media.label_revision == base)
        .values(
            label_revision=base + 1,
            reviewed=reviewed,
            label_class_id=primary_class(labels) if reviewed else None,
        )
        .returning(Media.id)
    ).all()
    if len(claimed) != 1:
        raise _conflict(session, media_id, base)
    previous = current_labels(session, media_id, revision=base) if base else None
    revision = LabelRevision(
        media_id=media_id,
        revision=base + 1,
        author_id=author_id,
        empty=labels.empty,
        note=labels.note,
        source=source,
        content_hash=labels.content_hash(),
        boxes=[_box_row(v) for v in labels.boxes],
    )
    session.add(revision)
    session.flush()
    maintained.refresh(session, [media_id])
    audit.record(
        session,
        actor_id=author_id,
        action=action,
        entity="media",
        entity_id=media_id,
        before=describe(previous, classes) if previous else None,
        after=describe(labels, classes) | {"revision": base + 1, "reviewed": reviewed},
    )
    return revision


def _unchanged(
    session: Session, media_id: int, revision: int, labels: LabelSet
) -> LabelRevision | None:
    """The item's current revision if it already says exactly ``labels``, else None."""
    if revision == 0:
        return None
    row = session.scalar(
        select(LabelRevision).where(
            LabelRevision.media_id == media_id, LabelRevision.revision == revision
        )
    )
    if row is None or row.content_hash != labels.content_hash() or row.note != labels.note:
        return None
    return row


def current_labels(session: Session, media_id: int, revision: int | None = None) -> LabelSet | None:
    """The label set at ``revision`` (default: the current one), or None if never labelled."""
    if revision is None:
        revision = session.scalar(select(Media.label_revision).where(Media.id == media_id)) or 0
    if not revision:
        return None
    row = session.scalar(
        select(LabelRevision).where(
            LabelRevision.media_id == media_id, LabelRevision.revision == revision
        )
    )
    return to_label_set(row) if row else None


def to_label_set(row: LabelRevision) -> LabelSet:
    return LabelSet(
        boxes=tuple(
            LabelBoxValue(
                box=_box_of(b),
                span=_span_of(b),
                class_id=b.class_id,
                corrects_prediction_id=b.corrects_prediction_id,
                invalid_reason=InvalidReason(b.invalid_reason) if b.invalid_reason else None,
                missed=b.missed,
                false_positive=b.false_positive,
            )
            for b in row.boxes
        ),
        empty=row.empty,
        note=row.note,
    )


def describe(labels: LabelSet, classes: ClassMap) -> dict[str, Any]:
    """A JSON-friendly summary for the audit log and the API."""
    return {
        "empty": labels.empty,
        "note": labels.note,
        "boxes": [_described(b, classes) for b in labels.boxes],
    }


def _described(b: LabelBoxValue, classes: ClassMap) -> dict[str, Any]:
    out: dict[str, Any] = {
        "class": classes.name_of(b.class_id) if b.class_id is not None else None,
        "box": [round(v, 5) for v in (b.box.x, b.box.y, b.box.w, b.box.h)] if b.box else None,
        "invalid_reason": b.invalid_reason,
        "missed": b.missed,
        "false_positive": b.false_positive,
        "corrects_prediction_id": b.corrects_prediction_id,
    }
    if b.span is not None:
        out["span"] = [b.span.t_start, b.span.t_end, b.span.f_low, b.span.f_high]
    return out


def _box_of(row: LabelBox) -> Box | None:
    if row.x is None or row.y is None or row.w is None or row.h is None:
        return None
    return Box(row.x, row.y, row.w, row.h)


def _span_of(row: LabelBox) -> TimeSpan | None:
    if row.t_start is None or row.t_end is None:
        return None
    return TimeSpan(row.t_start, row.t_end, row.f_low, row.f_high)


def _box_row(value: LabelBoxValue) -> LabelBox:
    box, span = value.box, value.span
    return LabelBox(
        class_id=value.class_id,
        x=box.x if box else None,
        y=box.y if box else None,
        w=box.w if box else None,
        h=box.h if box else None,
        t_start=span.t_start if span else None,
        t_end=span.t_end if span else None,
        f_low=span.f_low if span else None,
        f_high=span.f_high if span else None,
        corrects_prediction_id=value.corrects_prediction_id,
        invalid_reason=str(value.invalid_reason) if value.invalid_reason else None,
        missed=value.missed,
        false_positive=value.false_positive,
    )


def _conflict(session: Session, media_id: int, expected: int) -> Conflict:
    latest = session.execute(
        select(LabelRevision.revision, LabelRevision.created_at, User.username)
        .join(User, User.id == LabelRevision.author_id)
        .where(LabelRevision.media_id == media_id)
        .order_by(LabelRevision.revision.desc())
        .limit(1)
    ).one_or_none()
    if latest is None:
        return Conflict(f"media {media_id} changed while you edited it; reload and try again")
    return Conflict(
        f"media {media_id} was saved by {latest.username} at "
        f"{latest.created_at:%Y-%m-%d %H:%M:%S} UTC (revision {latest.revision}) after you "
        f"loaded revision {expected}; reload it and apply your change again"
    )
