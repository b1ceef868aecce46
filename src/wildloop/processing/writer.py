"""Bulk writes of pipeline results: prediction sets and predictions, many per transaction.

Insert-or-skip on (media, version) makes a write idempotent: a chunk that runs again after
a crash adds nothing for items already stored, and a set and its boxes always commit
together (one transaction), so there is never a set without its predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.store.bulk import insert_or_skip
from wildloop.store.tables import CropEmbedding, Prediction, PredictionSet
from wildloop.store.types import utcnow


def write_results(
    session: Session,
    version_id: int,
    model_classes: Sequence[str],
    class_ids: Sequence[int | None],
    results: Sequence[ItemResult],
    job_id: int | None = None,
    *,
    shown_from: float = 0.0,
    crop_embedder: str | None = None,
    settings_id: int | None = None,
) -> int:
    """Store results that are not stored yet; returns how many sets were added.

    A set's top class, top score and box count describe its boxes scoring ``shown_from`` or
    more: lower ones (kept on test items for evaluation) never change what the grid shows.
    Boxes carrying a crop embedding get a ``crop_embeddings`` row under ``crop_embedder``
    in the same transaction. ``settings_id`` names the settings the sets were made under.
    """
    if not results:
        return 0
    now = utcnow()
    by_media = {r.key: r for r in results}
    set_rows: list[dict[str, Any]] = []
    for result in by_media.values():
        shown = [d for d in result.detections if d.score >= shown_from]
        top = max(shown, key=lambda d: d.score, default=None)
        set_rows.append(
            {
                "media_id": result.key,
                "model_version_id": version_id,
                "job_id": job_id,
                "status": "ok" if result.ok else "failed",
                "error": result.error,
                "top_class_id": class_ids[top.class_index] if top else None,
                "top_score": top.score if top else None,
                "count": len(shown),
                "created_at": now,
                "settings_id": settings_id,
            }
        )
    created = _insert_sets(session, set_rows)
    rows = [
        {
            "prediction_set_id": set_id,
            "class_id": class_ids[d.class_index],
            "class_name": model_classes[d.class_index],
            "score": d.score,
            "det_score": d.det_score,
            "x": d.x,
            "y": d.y,
            "w": d.w,
            "h": d.h,
            "t_start": None,
            "t_end": None,
        }
        for set_id, media_id in created
        for d in by_media[media_id].detections
    ]
    boxes = [(media_id, d) for _, media_id in created for d in by_media[media_id].detections]
    if crop_embedder is not None and any(d.embedding is not None for _, d in boxes):
        _insert_with_crops(session, rows, boxes, crop_embedder, now)
    elif rows:
        session.execute(insert(Prediction), rows)
    return len(created)


def _insert_with_crops(
    session: Session,
    rows: list[dict[str, Any]],
    boxes: list[tuple[int, Detection]],
    embedder: str,
    now: Any,
) -> None:
    """Insert predictions returning their ids (in row order), then their crop vectors."""
    ids = session.scalars(
        insert(Prediction).returning(Prediction.id, sort_by_parameter_order=True), rows
    ).all()
    vectors = [
        {
            "prediction_id": prediction_id,
            "media_id": media_id,
            "embedder": embedder,
            "dim": int(d.embedding.shape[0]),
            "vector": d.embedding.astype("<f2").tobytes(),
            "created_at": now,
        }
        for prediction_id, (media_id, d) in zip(ids, boxes, strict=True)
        if d.embedding is not None
    ]
    session.execute(insert(CropEmbedding), vectors)


@dataclass(frozen=True)
class WindowScores:
    """A head's scores for one audio window: (class index, score) pairs worth storing, and
    the window's seconds in its recording; ``error`` for a window that could not be scored."""

    key: int
    t_start: float
    t_end: float
    scores: tuple[tuple[int, float], ...] = ()
    error: str | None = None


def write_window_scores(
    session: Session,
    version_id: int,
    model_classes: Sequence[str],
    class_ids: Sequence[int | None],
    results: Sequence[WindowScores],
    job_id: int | None = None,
    *,
    shown_from: float = 0.0,
) -> int:
    """Store window predictions not stored yet (one class score per row, with the window's
    span and no box), in the same sets as image predictions; returns how many sets were
    added."""
    if not results:
        return 0
    now = utcnow()
    by_media = {r.key: r for r in results}
    set_rows: list[dict[str, Any]] = []
    for result in by_media.values():
        shown = [s for s in result.scores if s[1] >= shown_from]
        top = max(shown, key=lambda s: s[1], default=None)
        set_rows.append(
            {
                "media_id": result.key,
                "model_version_id": version_id,
                "job_id": job_id,
                "status": "failed" if result.error else "ok",
                "error": result.error,
                "top_class_id": class_ids[top[0]] if top else None,
                "top_score": top[1] if top else None,
                "count": len(shown),
                "created_at": now,
            }
        )
    created = _insert_sets(session, set_rows)
    rows = [
        {
            "prediction_set_id": set_id,
            "class_id": class_ids[index],
            "class_name": model_classes[index],
            "score": score,
            "x": None,
            "y": None,
            "w": None,
            "h": None,
            "t_start": by_media[media_id].t_start,
            "t_end": by_media[media_id].t_end,
        }
        for set_id, media_id in created
        for index, score in by_media[media_id].scores
    ]
    if rows:
        session.execute(insert(Prediction), rows)
    return len(created)


def _insert_sets(session: Session, set_rows: list[dict[str, Any]]) -> list[Any]:
    """Insert-or-skip the sets; (set id, media id) of those this call created."""
    statement = insert_or_skip(session, PredictionSet, ["media_id", "model_version_id"])
    return list(
        session.execute(
            statement.returning(PredictionSet.id, PredictionSet.media_id), set_rows
        ).all()
    )
