"""Everything the review screen shows for one item, in one call.

The item, the model's predictions and the person's labels kept apart, its place in the
current filter (previous, next, next unreviewed), the other frames of its burst and the
history of its labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import LabelSet
from wildloop.domain.paths import readable_text
from wildloop.domain.spans import TimeSpan
from wildloop.errors import NotFound
from wildloop.review import grid
from wildloop.review.actions import ReviewContext, shown_labels
from wildloop.review.filters import GridFilter
from wildloop.review.predictions import PredictionView
from wildloop.store.tables import (
    AuditEntry,
    Camera,
    LabelRevision,
    Media,
    ModelVersion,
    PredictionSet,
    PredictionSettings,
    User,
)

STRIP_FRAMES = 60
HISTORY = 20


@dataclass(frozen=True)
class BoxView:
    x: float
    y: float
    w: float
    h: float

    @classmethod
    def of(cls, box: Box) -> BoxView:
        return cls(round(box.x, 6), round(box.y, 6), round(box.w, 6), round(box.h, 6))


@dataclass(frozen=True)
class LabelBoxView:
    index: int
    box: BoxView | None
    class_name: str | None
    invalid_reason: str | None
    missed: bool
    false_positive: bool
    prediction_id: int | None
    span: TimeSpan | None = None


@dataclass(frozen=True)
class ShownPrediction:
    id: int
    class_name: str
    known_class: bool
    score: float
    box: BoxView | None
    shown: bool
    span: TimeSpan | None = None


@dataclass(frozen=True)
class FrameView:
    id: int
    frame_num: int | None
    sha256: str | None
    reviewed: bool
    class_name: str | None


@dataclass(frozen=True)
class RevisionView:
    revision: int
    author: str
    created_at: datetime
    source: str
    empty: bool
    note: str | None


@dataclass(frozen=True)
class MediaDetail:
    id: int
    path: str
    sha256: str | None
    width: int | None
    height: int | None
    camera: str | None
    sequence_id: int | None
    frame_num: int | None
    captured_at: datetime | None
    split: str | None
    reviewed: bool
    label_revision: int
    label_class: str | None
    marked: str | None
    marked_at: datetime | None
    model_version_id: int | None
    model_name: str | None
    has_prediction_set: bool
    labels: list[LabelBoxView] | None
    empty: bool
    note: str | None
    predictions: list[ShownPrediction]
    prev_id: int | None
    next_id: int | None
    next_unreviewed_id: int | None
    sequence: list[FrameView]
    history: list[RevisionView]
    # What the shown set was made with (priors, smoothing, thresholds); None if unrecorded.
    prediction_settings: dict[str, Any] | None


def media_detail(
    session: Session, ctx: ReviewContext, media_id: int, flt: GridFilter
) -> MediaDetail:
    """The review screen's data for ``media_id``, navigating within ``flt``."""
    model_id = grid.model_for(session, flt)
    item = grid.item_at(session, media_id, model_id)
    if item is None:
        raise NotFound(f"media {media_id} does not exist or failed ingest")
    media = session.get_one(Media, media_id)
    labels, predictions = shown_labels(session, ctx, media_id, model_id)
    prev_id, next_id = grid.neighbours(session, flt, item, model_id)
    next_unreviewed = grid.following(session, flt.with_(reviewed=False), item, model_id)
    classes = ctx.classes
    return MediaDetail(
        id=media.id,
        path=readable_text(media.path),
        sha256=media.sha256,
        width=media.width,
        height=media.height,
        camera=_camera_name(session, media.camera_id),
        sequence_id=media.sequence_id,
        frame_num=media.frame_num,
        captured_at=media.captured_at,
        split=media.split,
        reviewed=media.reviewed,
        label_revision=media.label_revision,
        label_class=classes.display_name(media.label_class_id),
        marked=media.marked,
        marked_at=media.marked_at,
        model_version_id=model_id,
        model_name=_model_name(session, model_id),
        has_prediction_set=_has_set(session, media_id, model_id),
        labels=_label_views(labels, classes) if labels is not None else None,
        empty=bool(labels and labels.empty),
        note=labels.note if labels else None,
        predictions=[_shown_prediction(p, classes) for p in predictions],
        prev_id=prev_id,
        next_id=next_id,
        next_unreviewed_id=next_unreviewed,
        sequence=_strip(session, media, model_id, classes),
        history=_history(session, media_id),
        prediction_settings=_set_settings(session, media_id, model_id),
    )


def _label_views(labels: LabelSet, classes: ClassMap) -> list[LabelBoxView]:
    return [
        LabelBoxView(
            index=i,
            box=BoxView.of(b.box) if b.box else None,
            class_name=classes.display_name(b.class_id),
            invalid_reason=str(b.invalid_reason) if b.invalid_reason else None,
            missed=b.missed,
            false_positive=b.false_positive,
            prediction_id=b.corrects_prediction_id,
            span=b.span,
        )
        for i, b in enumerate(labels.boxes)
    ]


def _shown_prediction(p: PredictionView, classes: ClassMap) -> ShownPrediction:
    known = p.class_id is not None and p.class_id in {c.id for c in classes}
    return ShownPrediction(
        id=p.id,
        class_name=classes.name_of(p.class_id)
        if known and p.class_id is not None
        else p.class_name,
        known_class=known,
        score=round(p.score, 4),
        box=BoxView.of(p.box) if p.box else None,
        shown=p.shown,
        span=p.span,
    )


def _strip(
    session: Session, media: Media, model_id: int | None, classes: ClassMap
) -> list[FrameView]:
    """The frames of the item's burst (the windows of its recording), in time order (the
    item alone without a burst)."""
    if media.sequence_id is None:
        return []
    ps = PredictionSet
    query = (
        select(
            Media.id,
            Media.frame_num,
            Media.sha256,
            Media.reviewed,
            Media.label_class_id,
            ps.top_class_id if model_id is not None else Media.label_class_id,
        )
        # Same kind: a window's strip is its recording's windows, not the recording itself.
        .where(
            Media.sequence_id == media.sequence_id,
            Media.status == "ok",
            Media.kind == media.kind,
        )
        .order_by(Media.captured_at, Media.id)
        .limit(STRIP_FRAMES)
    )
    if model_id is not None:
        query = query.outerjoin(ps, (ps.media_id == Media.id) & (ps.model_version_id == model_id))
    frames = []
    for row in session.execute(query):
        class_id = row[4] if row.reviewed else (row[5] if model_id is not None else None)
        frames.append(
            FrameView(
                id=row.id,
                frame_num=row.frame_num,
                sha256=row.sha256,
                reviewed=bool(row.reviewed),
                class_name=classes.display_name(class_id),
            )
        )
    return frames


def _history(session: Session, media_id: int) -> list[RevisionView]:
    rows = session.execute(
        select(LabelRevision, User.username)
        .join(User, User.id == LabelRevision.author_id)
        .where(LabelRevision.media_id == media_id)
        .order_by(LabelRevision.revision.desc())
        .limit(HISTORY)
    )
    return [
        RevisionView(
            revision=r.revision,
            author=name,
            created_at=r.created_at,
            source=r.source,
            empty=r.empty,
            note=r.note,
        )
        for r, name in rows
    ]


def _camera_name(session: Session, camera_id: int | None) -> str | None:
    if camera_id is None:
        return None
    return session.scalar(select(Camera.name).where(Camera.id == camera_id))


def _model_name(session: Session, model_id: int | None) -> str | None:
    if model_id is None:
        return None
    return session.scalar(select(ModelVersion.name).where(ModelVersion.id == model_id))


def _set_settings(session: Session, media_id: int, model_id: int | None) -> dict[str, Any] | None:
    """The settings the shown set was made under (priors, smoothing, thresholds)."""
    if model_id is None:
        return None
    return session.scalar(
        select(PredictionSettings.settings)
        .join(PredictionSet, PredictionSet.settings_id == PredictionSettings.id)
        .where(PredictionSet.media_id == media_id, PredictionSet.model_version_id == model_id)
    )


def _has_set(session: Session, media_id: int, model_id: int | None) -> bool:
    if model_id is None:
        return False
    found = session.scalar(
        select(PredictionSet.id).where(
            PredictionSet.media_id == media_id, PredictionSet.model_version_id == model_id
        )
    )
    return found is not None


@dataclass(frozen=True)
class AuditView:
    at: datetime
    actor: str | None
    action: str
    before: dict[str, object] | None
    after: dict[str, object] | None
    reason: str | None


def audit_trail(session: Session, media_id: int, limit: int = 200) -> list[AuditView]:
    """Who changed the item's labels and marks, when, from what, to what (newest first)."""
    if session.get(Media, media_id) is None:
        raise NotFound(f"media {media_id} does not exist")
    rows = session.execute(
        select(AuditEntry, User.username)
        .outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.entity == "media", AuditEntry.entity_id == str(media_id))
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    )
    return [
        AuditView(
            at=e.at, actor=name, action=e.action, before=e.before, after=e.after, reason=e.reason
        )
        for e, name in rows
    ]
