"""The ``individual-embed`` job: crop vectors for human boxes that have none yet.

Re-identification compares human boxes, which the detector's pass never embedded (a person
may have drawn them). Crops are cut as the pipeline and the crop classifier cut theirs (the
frame decoded and letterboxed at the training image size, the configured padding), with the
project's crop embedder (and, when one serves, the user's own re-ID model: the same crops
through the same runtime, stored under its key), so vectors of one key are comparable
wherever they came from.
An unreadable image is counted as failed and skipped; it never aborts the job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.crops.classifier import frame
from wildloop.crops.embedder import crop_embedder_key
from wildloop.individuals.embedders import embedder_for_key, model_embedder_key
from wildloop.individuals.projection import reid_space
from wildloop.inference.crops import embed_crops
from wildloop.inference.decode import Decoder, ImageUnreadable
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.store.tables import Job, LabelBox, LabelCropEmbedding, LabelRevision, Media

KIND_NAME = "individual-embed"
MEDIA_PER_CHUNK = 50


def _unembedded_boxes(
    session: Session, embedder: str, media_ids: list[int] | None = None
) -> list[tuple[int, int, Any]]:
    """(label box id, media id, box) of current animal boxes lacking an ``embedder`` vector,
    on ``media_ids`` (every image when None)."""
    done = select(LabelCropEmbedding.label_box_id).where(LabelCropEmbedding.embedder == embedder)
    query = (
        select(LabelBox.id, Media.id, LabelBox.x, LabelBox.y, LabelBox.w, LabelBox.h)
        .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
        .join(
            Media,
            (Media.id == LabelRevision.media_id) & (Media.label_revision == LabelRevision.revision),
        )
        .where(
            Media.kind == "image",
            LabelBox.x.is_not(None),
            LabelBox.class_id.is_not(None),
            LabelBox.false_positive.is_(False),
            LabelBox.id.not_in(done),
        )
        .order_by(Media.id, LabelBox.id)
    )
    if media_ids is not None:
        query = query.where(Media.id.in_(media_ids))
    rows = session.execute(query).all()
    return [(int(r[0]), int(r[1]), r[2:]) for r in rows]


def embedding_keys(project: Project, model: str | int | None = None) -> list[str]:
    """What the embed job computes: the configured crop embedder's vectors (training and
    the baseline read them) and, when another serves, the serving re-ID model's; or only
    ``model``'s (a registered re-ID model, for the gate to compare it)."""
    with project.db.session() as session:
        if model is not None:
            return [model_embedder_key(session, model)]
        serving, _ = reid_space(session, project)
    return list(dict.fromkeys([crop_embedder_key(project), serving]))


def submit_label_embedding(
    project: Project, created_by: int | None = None, model: str | int | None = None
) -> int:
    """Queue the embedding of every current human box without a vector (chunks of media)."""
    keys = embedding_keys(project, model)
    with project.db.session() as session:
        media = sorted({m for key in keys for _, m, _ in _unembedded_boxes(session, key)})
        chunks = [
            {"media_ids": media[i : i + MEDIA_PER_CHUNK]}
            for i in range(0, len(media), MEDIA_PER_CHUNK)
        ]
        return submit_job(
            session,
            KIND_NAME,
            {"embedder": keys[0], "embedders": keys},
            chunks,
            total=len(media),
            created_by=created_by,
        )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    keys = [str(k) for k in ctx.params.get("embedders") or [ctx.params["embedder"]]]
    wanted = sorted({int(m) for m in ctx.payload["media_ids"]})
    done, failed = embed_media(ctx.project, keys, wanted, ctx.message)
    ctx.progress(done, failed)
    return ChunkOutcome(done=done, failed=failed)


def embed_media(
    project: Project,
    keys: list[str],
    media_ids: list[int],
    message: Callable[[str], None] | None = None,
) -> tuple[int, int]:
    """Embed the current human boxes of ``media_ids`` lacking a vector of each key; returns
    (media done, media unreadable). An unreadable image is counted, never fatal."""
    decoder = Decoder(project.config.training.imgsz, rect=True)
    embedders = {key: embedder_for_key(project, key) for key in keys}
    by_media: dict[int, list[tuple[str, int, Any]]] = {}
    with project.db.session() as session:
        for key in keys:
            for box_id, media_id, geometry in _unembedded_boxes(session, key, media_ids):
                by_media.setdefault(media_id, []).append((key, box_id, geometry))
        paths = dict(
            session.execute(select(Media.id, Media.path).where(Media.id.in_(media_ids))).all()
        )
    done = failed = 0
    for media_id in media_ids:
        items = by_media.get(media_id, [])
        if items:
            try:
                image = frame(decoder, project.media_file(paths[media_id]))
            except ImageUnreadable as exc:
                failed += 1
                if message:
                    message(f"media {media_id}: {exc.reason}")
                continue
            rows = []
            for key in keys:
                mine = [(box_id, g) for k, box_id, g in items if k == key]
                if not mine:
                    continue
                vectors = embed_crops(
                    image, [tuple(g) for _, g in mine], embedders[key], project.config.crops.padding
                )
                rows += [
                    LabelCropEmbedding(
                        label_box_id=box_id,
                        media_id=media_id,
                        embedder=key,
                        dim=int(vector.shape[0]),
                        vector=np.asarray(vector, "<f2").tobytes(),
                    )
                    for (box_id, _), vector in zip(mine, vectors, strict=True)
                ]
            with project.db.session() as session:
                session.add_all(rows)
        done += 1
    return done, failed


def missing_media(project: Project, key: str) -> list[int]:
    """Images with a current human box lacking a ``key`` vector."""
    with project.db.session() as session:
        return sorted({m for _, m, _ in _unembedded_boxes(session, key)})


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        params = session.get_one(Job, job_id).params
        keys = [str(k) for k in params.get("embedders") or [params["embedder"]]]
        counts = {
            key: int(
                session.scalar(
                    select(func.count(LabelCropEmbedding.id)).where(
                        LabelCropEmbedding.embedder == key
                    )
                )
                or 0
            )
            for key in keys
        }
    return {"embedder": keys[0], "label_boxes_embedded": counts[keys[0]], "embedded": counts}


LABEL_EMBED_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)
