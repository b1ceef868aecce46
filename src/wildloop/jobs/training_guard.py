"""One training at a time per project, whatever it trains (a detector or an audio head).

The database enforces it: a partial unique index on ``jobs`` (``uq_jobs_one_active_training``)
refuses a second queued or running ``train`` job, whichever process inserts it. This module is
the one place that reads the training in progress and words the refusal, so the detector
training and the audio head training check and refuse alike: first a cheap check (before a
snapshot is frozen for nothing), then the insert, whose integrity error means another process
won the race in between.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import select

from wildloop.domain.job_states import ACTIVE
from wildloop.errors import Conflict
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.store.tables import Job

TRAINING_KIND = "train"  # the kind the unique index names


def active_training(project: Project) -> dict[str, Any] | None:
    """The queued or running training, with its progress, or None."""
    with project.db.session() as session:
        job = session.scalar(
            select(Job).where(Job.kind == TRAINING_KIND, Job.state.in_(ACTIVE)).limit(1)
        )
        if job is None:
            return None
        return {
            "id": job.id,
            "state": job.state,
            "done": job.progress_done,
            "total": job.progress_total,
            "message": job.message,
        }


def training_in_progress(active: dict[str, Any] | None) -> Conflict:
    """The refusal while a training is queued or running (``active`` as returned above)."""
    if active is None:
        return Conflict("a training is already in progress; wait for it or cancel it")
    return Conflict(
        f"a training is already in progress (job {active['id']}, {active['state']}, epoch "
        f"{active['done']}/{active['total']}); wait for it to finish or cancel it with "
        "`wildloop train cancel`"
    )


def ensure_no_training(project: Project) -> None:
    """Raise the refusal now if a training is queued or running."""
    active = active_training(project)
    if active is not None:
        raise training_in_progress(active)


def submit_training(
    project: Project,
    params: dict[str, Any],
    chunks: list[dict[str, Any]],
    *,
    total: int | None,
    created_by: int | None,
    message: str,
) -> int:
    """Insert the training job; the refusal if another one got in first."""
    try:
        with project.db.session() as session:
            return submit_job(
                session,
                TRAINING_KIND,
                params,
                chunks,
                total=total,
                created_by=created_by,
                message=message,
            )
    except sa_exc.IntegrityError:
        raise training_in_progress(active_training(project)) from None
