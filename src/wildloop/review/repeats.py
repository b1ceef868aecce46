"""Repeat detections of the champion, per camera: the candidates for one false-positive
decision instead of thousands (``domain.repeats`` holds the grouping rule)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.repeats import RepeatGroup, Sighting, find_repeats
from wildloop.errors import BadInput, NotFound
from wildloop.registry.aliases import resolve
from wildloop.review.repeat_decisions import decided_regions
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet


def repeat_groups(
    session: Session,
    *,
    min_score: float,
    iou: float = 0.85,
    min_items: int = 10,
    min_bursts: int = 3,
    version_id: int | None = None,
) -> list[RepeatGroup]:
    """Groups of the champion's (or ``version_id``'s) boxes scoring ``min_score`` or more that
    recur at one place of one camera's frames."""
    version_id = version_id or resolve(session, "champion")
    if version_id is None:
        raise BadInput("no champion yet: register a model and process the images first")
    rows = session.execute(
        select(
            Prediction.id,
            PredictionSet.media_id,
            Camera.name,
            Media.sequence_id,
            Prediction.x,
            Prediction.y,
            Prediction.w,
            Prediction.h,
        )
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .join(Media, Media.id == PredictionSet.media_id)
        .outerjoin(Camera, Camera.id == Media.camera_id)
        .where(
            PredictionSet.model_version_id == version_id,
            Prediction.score >= min_score,
            Prediction.w.is_not(None),
        )
    ).all()
    sightings = [
        Sighting(
            prediction_id=r.id,
            media_id=r.media_id,
            camera=r.name or "-",
            burst=f"s{r.sequence_id}" if r.sequence_id is not None else f"m{r.media_id}",
            box=Box.clipped(r.x, r.y, r.w, r.h),
        )
        for r in rows
    ]
    decided = decided_regions(session)
    return [
        g
        for g in find_repeats(sightings, iou=iou, min_items=min_items, min_bursts=min_bursts)
        if not any(r.covers(g.camera, g.median) for r in decided)
    ]


def repeat_group(session: Session, key: int, *, min_score: float, **rule: Any) -> RepeatGroup:
    """The undecided group whose first prediction is ``key``, found with the same rule."""
    for group in repeat_groups(session, min_score=min_score, **rule):
        if group.key == key:
            return group
    raise NotFound(
        f"no undecided repeat group {key}; list them with `wildloop repeats` (a group's id "
        "is its first prediction id, and changes when new frames join it)"
    )
