"""Bulk writes of pipeline results: prediction sets and predictions, many per transaction.

Insert-or-skip on (media, version) makes a write idempotent: a chunk that runs again after
a crash adds nothing for items already stored, and a set and its boxes always commit
together (one transaction), so there is never a set without its predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from wildloop.inference.pipeline import ItemResult
from wildloop.store.bulk import insert_or_skip
from wildloop.store.tables import Prediction, PredictionSet
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
) -> int:
    """Store results that are not stored yet; returns how many sets were added.

    A set's top class, top score and box count describe its boxes scoring ``shown_from`` or
    more: lower ones (kept on test items for evaluation) never change what the grid shows.
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
            }
        )
    statement = insert_or_skip(session, PredictionSet, ["media_id", "model_version_id"])
    created = session.execute(
        statement.returning(PredictionSet.id, PredictionSet.media_id), set_rows
    ).all()
    rows = [
        {
            "prediction_set_id": set_id,
            "class_id": class_ids[d.class_index],
            "class_name": model_classes[d.class_index],
            "score": d.score,
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
    if rows:
        session.execute(insert(Prediction), rows)
    return len(created)
