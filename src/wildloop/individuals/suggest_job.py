"""The ``individual-suggest`` job: record the best re-ID candidate of every unassigned
human box as a suggested sighting, for a person to confirm or unassign.

Only boxes with a crop vector are considered (run ``individual-embed`` first), and only a
candidate at least ``min_similarity`` alike is recorded. Vectors are compared through the
promoted re-ID projection (``reid-champion``) when there is one, or in a promoted re-ID
model's own vectors. One chunk: one writer. When the embedder changes, the switch job calls
:func:`rescore_pending` so stored suggestions follow it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from wildloop.individuals.profiles import assign, unassign
from wildloop.individuals.projection import reid_space
from wildloop.individuals.reid import suggest
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.store.tables import (
    Individual,
    Job,
    LabelBox,
    LabelCropEmbedding,
    LabelRevision,
    Media,
    Sighting,
)
from wildloop.users.accounts import tool_actor

KIND_NAME = "individual-suggest"


def submit_suggestions(project: Project, min_similarity: float, created_by: int) -> int:
    with project.db.session() as session:
        key, _ = reid_space(session, project)
        return submit_job(
            session,
            KIND_NAME,
            {"embedder": key, "min_similarity": min_similarity},
            [{}],
            total=1,
            created_by=created_by,
        )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    floor = float(ctx.params["min_similarity"])
    recorded = 0
    with project.db.session() as session:
        # The embedder serving now (it may have changed since the job was queued).
        key, projection = reid_space(session, project)
        job = session.get_one(Job, ctx.job_id)
        actor = tool_actor(session, int(job.created_by or 0))
        classes = set(session.scalars(select(Individual.class_id).distinct()))
        boxes = list(
            session.scalars(
                select(LabelBox.id)
                .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
                .join(
                    Media,
                    (Media.id == LabelRevision.media_id)
                    & (Media.label_revision == LabelRevision.revision),
                )
                .join(LabelCropEmbedding, LabelCropEmbedding.label_box_id == LabelBox.id)
                .where(
                    LabelCropEmbedding.embedder == key,
                    LabelBox.class_id.in_(classes),
                    LabelBox.id.not_in(select(Sighting.label_box_id)),
                )
                .order_by(LabelBox.id)
            )
        )
    for done, box_id in enumerate(boxes, 1):
        with project.db.session() as session:
            found = suggest(session, key, box_id, k=1, projection=projection)
            if found and found[0].similarity >= floor:
                assign(
                    session,
                    actor,
                    found[0].individual_id,
                    box_id,
                    classes=project.classes,
                    source="suggestion",
                    score=found[0].similarity,
                )
                recorded += 1
        if done % 50 == 0:
            ctx.message(f"{done}/{len(boxes)} boxes, {recorded} suggestions")
    ctx.message(f"{recorded} suggestions for {len(boxes)} unassigned boxes")
    return ChunkOutcome(done=1)


def rescore_pending(project: Project, actor_id: int, min_similarity: float) -> dict[str, int]:
    """After the embedder changed: each pending suggestion is taken back and the box's
    best candidate in the serving embedder's space is suggested again, with its new
    similarity, when it reaches ``min_similarity`` (else the suggestion is withdrawn; a box
    without a vector of the new key keeps its suggestion). Both steps are audited."""
    with project.db.session() as session:
        key, projection = reid_space(session, project)
        pending = session.execute(
            select(Sighting.id, Sighting.label_box_id)
            .join(LabelCropEmbedding, LabelCropEmbedding.label_box_id == Sighting.label_box_id)
            .where(Sighting.source == "suggestion", LabelCropEmbedding.embedder == key)
            .order_by(Sighting.id)
        ).all()
    kept = moved = withdrawn = 0
    for sighting_id, box_id in pending:
        with project.db.session() as session:
            actor = tool_actor(session, actor_id)
            before = session.get(Sighting, sighting_id)
            if before is None or before.source != "suggestion":
                continue  # a person confirmed or removed it meanwhile
            old = before.individual_id
            unassign(session, actor, sighting_id)
            found = suggest(session, key, box_id, k=1, projection=projection)
            if found and found[0].similarity >= min_similarity:
                assign(
                    session,
                    actor,
                    found[0].individual_id,
                    box_id,
                    classes=project.classes,
                    source="suggestion",
                    score=found[0].similarity,
                )
                kept += found[0].individual_id == old
                moved += found[0].individual_id != old
            else:
                withdrawn += 1
    return {"rescored": kept, "changed": moved, "withdrawn": withdrawn}


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        pending = session.scalar(
            select(func.count()).select_from(Sighting).where(Sighting.source == "suggestion")
        )
    return {"pending_suggestions": int(pending or 0)}


SUGGEST_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)
