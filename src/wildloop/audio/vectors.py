"""Stored window embeddings as a matrix, in the caller's order, for heads to train and score.

Vectors are stored once per (window, embedder) as float16 little-endian bytes; a head reads
them back instead of embedding again, which is what makes retraining take seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.store.tables import Embedding

CHUNK = 500


def read_matrix(
    session: Session, embedder: str, media_ids: Sequence[int]
) -> tuple[NDArray[np.float32], list[int]]:
    """Rows of ``media_ids`` that have a vector from ``embedder`` (in the given order), and
    the ids that have none."""
    found: dict[int, NDArray[np.float32]] = {}
    for start in range(0, len(media_ids), CHUNK):
        rows = session.execute(
            select(Embedding.media_id, Embedding.vector).where(
                Embedding.embedder == embedder,
                Embedding.media_id.in_(media_ids[start : start + CHUNK]),
            )
        ).all()
        for media_id, blob in rows:
            found[int(media_id)] = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    present = [m for m in media_ids if m in found]
    missing = [m for m in media_ids if m not in found]
    if not present:
        return np.zeros((0, 0), np.float32), missing
    return np.stack([found[m] for m in present]), missing
