"""A vector index over stored crop vectors, keyed by prediction id.

The index kinds are audio search's (``make_index``: exact up to 50k vectors, IVF-SQ8 above,
cosine similarity on L2-normalised vectors), so crops and windows share one tuned index
code; the files live beside audio's under ``indexes/crops-<embedder>.faiss``. It is rebuilt
from the stored vectors (a bulk read), which at camera-trap scale takes seconds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from wildloop.atomic import write_text_atomic
from wildloop.audio.search import FLAT_UP_TO, PROBES, lists_for, make_index, normalised
from wildloop.crops.embedder import crop_embedder_key
from wildloop.crops.vectors import decode
from wildloop.errors import BadInput, NotFound
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.store.tables import CropEmbedding, Job

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
        media = dict(
            session.execute(
                select(CropEmbedding.prediction_id, CropEmbedding.media_id).where(
                    CropEmbedding.prediction_id.in_([p for p, _ in found]),
                    CropEmbedding.embedder == key,
                )
            ).all()
        )
    return [(p, int(media[p]), round(s, 4)) for p, s in found if p in media]
