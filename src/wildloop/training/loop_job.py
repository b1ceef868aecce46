"""The whole loop as one persistent job, for the web app's button and the JSON API.

The ``loop`` job's single chunk runs :func:`run_loop` in whichever worker claims it; each
finished step becomes the job's message, and its result is the loop report. The training
inside it is an ordinary ``train`` job, so the one-training-at-a-time rule still holds, and
cancelling the loop cancels the training it is waiting for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from wildloop.errors import Conflict
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, stored_result
from wildloop.jobs.records import ACTIVE, active_job_id, cancel_job, submit_job
from wildloop.project import Project
from wildloop.store.tables import Job
from wildloop.training.job import active_training, training_params
from wildloop.training.loop import LoopStep, run_loop

KIND = "loop"
STEPS = 6


def start_loop_job(
    project: Project, overrides: dict[str, Any] | None = None, created_by: int | None = None
) -> int:
    """Queue a loop; refused while a loop or a training is queued or running."""
    training_params(project, overrides)  # unknown parameters fail now, not in the worker
    with project.db.session() as session:
        running = active_job_id(session, KIND)
    if running is not None:
        raise Conflict(f"the loop is already running (job {running}); wait for it or cancel it")
    if active_training(project) is not None:
        raise Conflict("a training is already in progress; the loop starts one of its own")
    with project.db.session() as session:
        return submit_job(
            session,
            KIND,
            {"overrides": overrides or {}},
            [{}],
            total=STEPS,
            created_by=created_by,
            message="queued: snapshot, train, evaluate, gate, promote, reprocess",
        )


def run_loop_chunk(ctx: ChunkContext) -> ChunkOutcome:
    done = 0

    def on_step(step: LoopStep) -> None:
        nonlocal done
        done += 1
        ctx.progress(done, message=f"{step.name} {step.status}: {step.detail[:200]}")

    def on_job(status: dict[str, Any]) -> None:
        if ctx.cancelled.is_set() and status["state"] in ACTIVE:
            with ctx.project.db.session() as session:
                cancel_job(session, int(status["id"]))

    report = run_loop(
        ctx.project,
        overrides=ctx.params.get("overrides") or None,
        actor_id=_creator(ctx),
        on_step=on_step,
        on_job=on_job,
    )
    with ctx.project.db.session() as session:
        # Kept on the job row, so whichever worker finalises the job finds it.
        session.execute(update(Job).where(Job.id == ctx.job_id).values(result=report.as_dict()))
    return ChunkOutcome(done=STEPS)


def _creator(ctx: ChunkContext) -> int | None:
    with ctx.project.db.session() as session:
        return session.scalar(select(Job.created_by).where(Job.id == ctx.job_id))


LOOP_KIND = JobKind(KIND, run_loop_chunk, stored_result, max_attempts=1)
