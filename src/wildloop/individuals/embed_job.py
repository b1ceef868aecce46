"""The ``individual-embed`` job: crop vectors for human boxes that have none yet.

Re-identification compares human boxes, which the detector's pass never embedded (a person
may have drawn them). Crops are cut as the pipeline and the crop classifier cut theirs (the
frame decoded and letterboxed at the training image size, the configured padding), with the
project's crop embedder, so vectors of one key are comparable wherever they came from.
An unreadable image is counted as failed and skipped; it never aborts the job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.crops.classifier import frame
from wildloop.crops.embedder import crop_embedder_key, project_crop_embedder
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


def submit_label_embedding(project: Project, created_by: int | None = None) -> int:
    """Queue the embedding of every current human box without a vector (chunks of media)."""
    key = crop_embedder_key(project)
    with project.db.session() as session:
        media = sorted({m for _, m, _ in _unembedded_boxes(session, key)})
        chunks = [
            {"media_ids": media[i : i + MEDIA_PER_CHUNK]}
            for i in range(0, len(media), MEDIA_PER_CHUNK)
        ]
        return submit_job(
            session, KIND_NAME, {"embedder": key}, chunks, total=len(media), created_by=created_by
        )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    key = str(ctx.params["embedder"])
    embedder = project_crop_embedder(project)
    decoder = Decoder(project.config.training.imgsz, rect=True)
    wanted = {int(m) for m in ctx.payload["media_ids"]}
    with project.db.session() as session:
        boxes = _unembedded_boxes(session, key, sorted(wanted))
        paths = dict(
            session.execute(select(Media.id, Media.path).where(Media.id.in_(wanted))).all()
        )
    by_media: dict[int, list[tuple[int, Any]]] = {}
    for box_id, media_id, geometry in boxes:
        by_media.setdefault(media_id, []).append((box_id, geometry))
    done = failed = 0
    for media_id in sorted(wanted):
        items = by_media.get(media_id, [])
        if items:
            try:
                image = frame(decoder, project.media_file(paths[media_id]))
            except ImageUnreadable as exc:
                failed += 1
                ctx.message(f"media {media_id}: {exc.reason}")
                ctx.progress(done, failed)
                continue
            vectors = embed_crops(
                image, [tuple(g) for _, g in items], embedder, project.config.crops.padding
            )
            with project.db.session() as session:
                session.add_all(
                    LabelCropEmbedding(
                        label_box_id=box_id,
                        media_id=media_id,
                        embedder=key,
                        dim=int(vector.shape[0]),
                        vector=np.asarray(vector, "<f2").tobytes(),
                    )
                    for (box_id, _), vector in zip(items, vectors, strict=True)
                )
        done += 1
        ctx.progress(done, failed)
    return ChunkOutcome(done=done, failed=failed)


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        key = str(session.get_one(Job, job_id).params["embedder"])
        count = session.scalar(
            select(func.count(LabelCropEmbedding.id)).where(LabelCropEmbedding.embedder == key)
        )
    return {"embedder": key, "label_boxes_embedded": int(count or 0)}


LABEL_EMBED_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)
