"""Stored crop vectors read back as matrices, for the queue, heads and re-identification."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.store.tables import CropEmbedding, LabelCropEmbedding, Prediction, PredictionSet

CHUNK = 500


def decode(blob: bytes) -> NDArray[np.float32]:
    return np.frombuffer(blob, dtype="<f2").astype(np.float32)


@dataclass(frozen=True)
class BoxVectors:
    """Crop vectors of boxes, row i belonging to ``prediction_ids[i]`` in ``media_ids[i]``."""

    prediction_ids: list[int]
    media_ids: list[int]
    scores: list[float]
    matrix: NDArray[np.float32]


def box_vectors(
    session: Session, embedder: str, version_id: int | None, media_ids: Sequence[int]
) -> BoxVectors:
    """The crop vectors of ``version_id``'s boxes (any version's when None) on ``media_ids``,
    in id order."""
    pids: list[int] = []
    mids: list[int] = []
    scores: list[float] = []
    rows: list[NDArray[np.float32]] = []
    for start in range(0, len(media_ids), CHUNK):
        query = (
            select(CropEmbedding.prediction_id, CropEmbedding.media_id, Prediction.score)
            .add_columns(CropEmbedding.vector)
            .join(Prediction, Prediction.id == CropEmbedding.prediction_id)
            .where(
                CropEmbedding.embedder == embedder,
                CropEmbedding.media_id.in_(media_ids[start : start + CHUNK]),
            )
            .order_by(CropEmbedding.media_id, CropEmbedding.prediction_id)
        )
        if version_id is not None:
            query = query.join(
                PredictionSet, PredictionSet.id == Prediction.prediction_set_id
            ).where(PredictionSet.model_version_id == version_id)
        found = session.execute(query).all()
        for pid, mid, score, blob in found:
            pids.append(int(pid))
            mids.append(int(mid))
            scores.append(float(score))
            rows.append(decode(blob))
    matrix = np.stack(rows) if rows else np.zeros((0, 0), np.float32)
    return BoxVectors(pids, mids, scores, matrix)


def item_vectors(
    session: Session, embedder: str, version_id: int | None, media_ids: Sequence[int]
) -> dict[int, NDArray[np.float32]]:
    """One vector per item: its best-scoring box's crop (items without boxes are absent)."""
    boxes = box_vectors(session, embedder, version_id, media_ids)
    best: dict[int, int] = {}
    for row, (mid, score) in enumerate(zip(boxes.media_ids, boxes.scores, strict=True)):
        if mid not in best or score > boxes.scores[best[mid]]:
            best[mid] = row
    return {mid: boxes.matrix[row] for mid, row in best.items()}


def label_box_vectors(
    session: Session, embedder: str, label_box_ids: Sequence[int]
) -> dict[int, NDArray[np.float32]]:
    """The crop vectors of human boxes (those embedded so far), keyed by label box id."""
    found: dict[int, NDArray[np.float32]] = {}
    for start in range(0, len(label_box_ids), CHUNK):
        rows = session.execute(
            select(LabelCropEmbedding.label_box_id, LabelCropEmbedding.vector).where(
                LabelCropEmbedding.embedder == embedder,
                LabelCropEmbedding.label_box_id.in_(label_box_ids[start : start + CHUNK]),
            )
        ).all()
        found.update((int(box_id), decode(blob)) for box_id, blob in rows)
    return found
