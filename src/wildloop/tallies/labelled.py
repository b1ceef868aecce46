"""Each class in each reviewed photo, read from the labels themselves.

A photo with a deer and a boar is a detection of each; its boxes of a class (trainable ones:
not false positives, not excluded) are the animals of that class seen at once. This is the
exact path of the analytics report and what ``tallies.maintained`` stores.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from wildloop.store.epoch import epoch_seconds
from wildloop.store.raw_read import raw_rows
from wildloop.store.tables import LabelBox, LabelRevision, Media


def labelled_rows(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    media_ids: Collection[int] | None = None,
    camera_ids: Collection[int] | None = None,
) -> list[tuple[int, int, int, int, int, int, int]]:
    """From the labels themselves: each class in each reviewed photo with its trainable boxes
    as (camera, class, time, 0, boxes, media id, sequence), in camera-time order. A photo
    with a deer and a boar gives two rows. ``sequence`` is the photo's sequence id, or minus
    its media id when it has none (a photo of its own)."""
    query = (
        select(
            Media.camera_id,
            LabelBox.class_id,
            epoch_seconds(Media.captured_at),
            literal(0),
            func.count(),
            Media.id,
            func.coalesce(Media.sequence_id, -Media.id),
        )
        .join(
            LabelRevision,
            (LabelRevision.media_id == Media.id) & (LabelRevision.revision == Media.label_revision),
        )
        .join(LabelBox, LabelBox.revision_id == LabelRevision.id)
        .where(
            Media.label_class_id.is_not(None),
            Media.camera_id.is_not(None),
            Media.captured_at.is_not(None),
            Media.status == "ok",
            LabelBox.class_id.is_not(None),
            LabelBox.false_positive.is_(False),
            LabelBox.invalid_reason.is_(None),
        )
        .group_by(Media.id, LabelBox.class_id)
        .order_by(Media.camera_id, Media.captured_at, Media.id, LabelBox.class_id)
    )
    if media_ids is not None:
        query = query.where(Media.id.in_(media_ids))
    if camera_ids is not None:
        query = query.where(Media.camera_id.in_(camera_ids))
    if since is not None:
        query = query.where(Media.captured_at >= since)
    if until is not None:
        query = query.where(Media.captured_at < until)
    return raw_rows(session, query)
