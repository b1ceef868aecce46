"""A vector index over stored crop vectors, keyed by prediction id.

The index kinds are audio search's (``make_index``: exact up to 50k vectors, IVF-SQ8 above,
cosine similarity on L2-normalised vectors), so crops and windows share one tuned index
code; the files live beside audio's under ``indexes/crops-<embedder>.faiss``. It is rebuilt
from the stored vectors (a bulk read), which at camera-trap scale takes seconds.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.atomic import write_text_atomic
from wildloop.audio.search import FLAT_UP_TO, PROBES, lists_for, make_index, normalised
from wildloop.crops.embedder import crop_embedder_key
from wildloop.crops.vectors import decode
from wildloop.errors import BadInput, NotFound, Unavailable
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import active_job_id, submit_job
from wildloop.project import Project
from wildloop.store.tables import CropEmbedding, Job, Media, Prediction

READ_BATCH = 20_000


def index_path(project: Project, embedder: str) -> Path:
    name = embedder.replace(":", "-").replace("/", "-")
    return project.root / "indexes" / f"crops-{name}.faiss"


def build_crop_index(project: Project, embedder: str) -> int:
    """(Re)build the index of ``embedder``'s crop vectors; returns how many it holds."""
    # faiss is an optional dependency (the audio extra): loaded only to build or search.
    import faiss

    ids: list[int] = []
    rows: list[NDArray[np.float32]] = []
    with project.db.session() as session:
        last = 0
        while True:
            batch = session.execute(
                select(CropEmbedding.id, CropEmbedding.prediction_id, CropEmbedding.vector)
                .where(CropEmbedding.embedder == embedder, CropEmbedding.id > last)
                .order_by(CropEmbedding.id)
                .limit(READ_BATCH)
            ).all()
            if not batch:
                break
            ids.extend(int(r.prediction_id) for r in batch)
            rows.extend(decode(r.vector) for r in batch)
            last = int(batch[-1].id)
    if not rows:
        raise BadInput(f"no {embedder} crop embeddings yet: enable [crops] embed and process")
    matrix = np.stack(rows)
    sample = None
    if len(rows) > FLAT_UP_TO:
        step = max(1, len(rows) // (40 * lists_for(len(rows))))
        sample = matrix[::step]
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = make_index(matrix.shape[1], len(rows), sample)
    index.add_with_ids(normalised(matrix), np.asarray(ids, np.int64))
    path = index_path(project, embedder)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".faiss.tmp")
    faiss.write_index(index, str(temporary))
    temporary.replace(path)
    write_text_atomic(
        path.with_suffix(".json"), json.dumps({"embedder": embedder, "count": len(rows)})
    )
    return len(rows)


class CropIndex:
    """A loaded crop index for repeated queries."""

    def __init__(self, project: Project, embedder: str) -> None:
        import faiss  # optional dependency (the audio extra), see build_crop_index

        path = index_path(project, embedder)
        if not path.is_file():
            raise BadInput(f"no crop index for {embedder} yet: build it first")
        self._index: Any = faiss.read_index(str(path))
        if hasattr(self._index, "nprobe"):
            self._index.nprobe = PROBES

    def nearest(self, vector: NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """(prediction id, cosine similarity) of the k nearest boxes, best first."""
        query = normalised(np.asarray(vector, np.float32).reshape(1, -1))
        scores, ids = self._index.search(query, k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]


# --- the index job ---------------------------------------------------------------------------

INDEX_KIND_NAME = "crop-index"


def submit_crop_index(project: Project, created_by: int | None = None) -> int:
    """Queue a rebuild of the configured crop embedder's index (one chunk: one writer)."""
    key = crop_embedder_key(project)
    with project.db.session() as session:
        return submit_job(
            session, INDEX_KIND_NAME, {"embedder": key}, [{}], total=1, created_by=created_by
        )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    count = build_crop_index(ctx.project, str(ctx.params["embedder"]))
    ctx.message(f"{count} crops indexed")
    return ChunkOutcome(done=1)


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        key = str(session.get_one(Job, job_id).params["embedder"])
    meta = index_path(project, key).with_suffix(".json")
    return dict(json.loads(meta.read_text(encoding="utf-8"))) if meta.is_file() else {}


CROP_INDEX_KIND = JobKind(name=INDEX_KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)


def require_crop_index(project: Project, created_by: int | None = None) -> str:
    """The configured embedder's key when its index exists; otherwise submit the index job
    (unless one is queued or running) and raise Unavailable naming it, so a request never
    builds an index itself."""
    key = crop_embedder_key(project)
    if index_path(project, key).is_file():
        return key
    with project.db.session() as session:
        stored = session.scalar(
            select(CropEmbedding.id).where(CropEmbedding.embedder == key).limit(1)
        )
        job_id = active_job_id(session, INDEX_KIND_NAME)
    if stored is None:
        raise BadInput(
            f"no {key} crop embeddings yet: set [crops] embed = true and process the photos"
        )
    if job_id is None:
        job_id = submit_crop_index(project, created_by)
    raise Unavailable(
        f"the crop index is not built yet: job {job_id} ({INDEX_KIND_NAME}) builds it; "
        "try again when it has finished"
    )


@dataclass(frozen=True)
class SimilarFrame:
    media_id: int
    similarity: float
    prediction_id: int  # the frame's box nearest the example


def similar_frames(
    project: Project,
    media_id: int,
    k: int,
    *,
    prediction_id: int | None = None,
    index: CropIndex | None = None,
) -> tuple[int, list[SimilarFrame]]:
    """The example box (``prediction_id``, or the frame's best-scoring embedded box) and
    the k other frames holding the boxes most like it, best first, each frame once."""
    key = crop_embedder_key(project)
    with project.db.session() as session:
        query = (
            select(CropEmbedding.prediction_id, CropEmbedding.vector)
            .join(Prediction, Prediction.id == CropEmbedding.prediction_id)
            .where(CropEmbedding.media_id == media_id, CropEmbedding.embedder == key)
            .order_by(Prediction.score.desc(), Prediction.id)
            .limit(1)
        )
        if prediction_id is not None:
            query = query.where(CropEmbedding.prediction_id == prediction_id)
        example = session.execute(query).one_or_none()
        if example is None:
            what = (
                f"box {prediction_id} of media {media_id}" if prediction_id else f"media {media_id}"
            )
            if session.get(Media, media_id) is None:
                raise NotFound(f"media {media_id} does not exist")
            raise NotFound(
                f"{what} has no {key} crop embedding (boxes are embedded when processed "
                "with [crops] embed = true, above [crops] min_score)"
            )
        # Several boxes may fall in one frame: ask for more and keep each frame's best.
        hits = (index or CropIndex(project, key)).nearest(decode(example.vector), 4 * k + 10)
        frames = _media_of(session, key, [p for p, _ in hits])
    best: dict[int, SimilarFrame] = {}
    for pid, score in hits:
        frame = frames.get(pid)
        if frame is None or frame == media_id or frame in best:
            continue
        best[frame] = SimilarFrame(frame, round(score, 4), pid)
    return int(example.prediction_id), list(best.values())[:k]


def similar_boxes(project: Project, prediction_id: int, k: int) -> list[tuple[int, int, float]]:
    """(prediction id, media id, cosine similarity) of the k boxes nearest the example box,
    the example itself left out."""
    key = crop_embedder_key(project)
    with project.db.session() as session:
        blob = session.scalar(
            select(CropEmbedding.vector).where(
                CropEmbedding.prediction_id == prediction_id, CropEmbedding.embedder == key
            )
        )
        if blob is None:
            raise NotFound(f"box {prediction_id} has no {key} crop embedding")
        found = [
            (p, s)
            for p, s in CropIndex(project, key).nearest(decode(blob), k + 1)
            if p != prediction_id
        ][:k]
        media = _media_of(session, key, [p for p, _ in found])
    return [(p, media[p], round(s, 4)) for p, s in found if p in media]


def _media_of(session: Session, key: str, prediction_ids: list[int]) -> dict[int, int]:
    """The media id of each box that still has a crop vector (pruned ones drop out)."""
    rows = session.execute(
        select(CropEmbedding.prediction_id, CropEmbedding.media_id).where(
            CropEmbedding.prediction_id.in_(prediction_ids), CropEmbedding.embedder == key
        )
    ).all()
    return {int(p): int(m) for p, m in rows}
