"""The ``class-thresholds`` job: compute a version's per-class thresholds from reviews.

Matching every reviewed image's boxes takes seconds to minutes on a large archive, so the API
only submits this job (requests never compute); the CLI submits it and waits. The version is
resolved at submission, so "champion" means the champion when it was asked for. One chunk,
idempotent: a rerun after a crash finds the set its first run stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from wildloop.evaluation.class_thresholds import check_request, compute_thresholds
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.registry.versions import get_version
from wildloop.store.tables import ClassThresholdSet, Job

KIND_NAME = "class-thresholds"


def submit_thresholds(
    project: Project,
    model: str | int,
    *,
    mode: str,
    target_precision: float,
    splits: Sequence[str],
    created_by: int | None,
) -> int:
    """Check the request, pin the version and submit the job; returns its id."""
    check_request(mode, target_precision, splits)
    with project.db.session() as session:
        version = get_version(session, model)
        return submit_job(
            session,
            KIND_NAME,
            {
                "model_version_id": version.id,
                "mode": mode,
                "target_precision": target_precision,
                "splits": list(splits),
            },
            [{}],
            total=1,
            created_by=created_by,
            message=f"thresholds of {version.name}",
        )


def _stored(project: Project, job_id: int) -> ClassThresholdSet | None:
    with project.db.session() as session:
        row = session.scalar(select(ClassThresholdSet).where(ClassThresholdSet.job_id == job_id))
        if row is not None:
            session.expunge(row)
        return row


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    if _stored(ctx.project, ctx.job_id) is None:
        with ctx.project.db.session() as session:
            created_by = session.get_one(Job, ctx.job_id).created_by
        found = compute_thresholds(
            ctx.project,
            int(ctx.params["model_version_id"]),
            mode=str(ctx.params["mode"]),
            target_precision=float(ctx.params["target_precision"]),
            splits=[str(s) for s in ctx.params["splits"]],
            job_id=ctx.job_id,
            created_by=created_by,
        )
        ctx.message(f"{len(found.thresholds())} class thresholds from {found.items} items")
    return ChunkOutcome(done=1)


def _finalize(project: Project, job_id: int) -> dict[str, Any]:
    row = _stored(project, job_id)
    if row is None:
        return {}
    return {
        "threshold_set_id": row.id,
        "items": row.items,
        "thresholds": {name: v["threshold"]["threshold"] for name, v in row.classes.items()},
    }


THRESHOLDS_KIND = JobKind(name=KIND_NAME, run_chunk=_run_chunk, finalize=_finalize)
