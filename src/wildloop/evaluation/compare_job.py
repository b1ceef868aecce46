"""Champion-versus-challenger comparisons as jobs, kept as the job's result.

A comparison scores both models on the test snapshot (running the inference pipeline first
for test items a model has not seen), bootstraps the difference and draws figures: seconds
when predictions are stored, minutes when they are not. The Models page must not wait for
that, so asking for a comparison submits a ``compare`` job (one chunk) and answers with the
job's state; the finished job's result is the comparison, reused until a newer test
snapshot exists or a recomputation is asked for. Being a job, it is persistent, visible in
``wildloop jobs`` and the dashboard, cancellable, and run by any worker; ``wildloop serve``
keeps one worker for comparisons alone, so they never queue behind a training or a
reprocess.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wildloop.errors import NotFound
from wildloop.evaluation.comparison import compare_models
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, stored_result
from wildloop.jobs.records import ACTIVE, submit_job
from wildloop.project import Project
from wildloop.store.tables import Job, Snapshot

KIND = "compare"
RETRY_FAILED_AFTER_SECONDS = 30.0  # a failure is shown, not recomputed on every poll
_RECENT_JOBS = 50  # how far back to look for this pair's comparison
_submitting = threading.Lock()  # one page poll submits; the others see its job


@dataclass(frozen=True)
class ComparisonRun:
    """What a page shows of one comparison job."""

    job_id: int
    state: str  # computing | done | failed
    challenger_id: int
    champion_id: int | None
    started_at: datetime
    finished_at: datetime | None
    result: dict[str, Any] | None
    error: str | None
    message: str | None

    @property
    def seconds(self) -> float:
        end = self.finished_at or datetime.now(UTC)
        return max(0.0, (end - self.started_at).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "challenger_id": self.challenger_id,
            "champion_id": self.champion_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": round(self.seconds, 1),
            "message": self.message,
            "comparison": self.result,
            "error": self.error,
        }


def comparison_run(
    project: Project,
    challenger_id: int,
    champion_id: int | None,
    *,
    refresh: bool = False,
    created_by: int | None = None,
) -> ComparisonRun:
    """This pair's comparison: the running or kept one, or a new job when there is none, it
    is stale (a newer test snapshot exists, or it failed a while ago) or ``refresh`` asks."""
    with _submitting, project.db.session() as session:
        job = _latest(session, challenger_id, champion_id)
        if job is not None and (job.state in ACTIVE or not (refresh or _stale(session, job))):
            return _view(job)
        job_id = submit_compare(session, challenger_id, champion_id, created_by=created_by)
        created = session.get(Job, job_id)
        assert created is not None
        return _view(created)


def submit_compare(
    session: Session,
    challenger_id: int,
    champion_id: int | None,
    *,
    snapshot_id: int | None = None,
    figures: bool = True,
    created_by: int | None = None,
) -> int:
    """Queue a comparison of this pair (on ``snapshot_id``, else the latest test snapshot
    when it runs); returns the job id."""
    params: dict[str, Any] = {"challenger_id": challenger_id, "champion_id": champion_id}
    if snapshot_id is not None:
        params["snapshot_id"] = snapshot_id
    if not figures:
        params["figures"] = False
    return submit_job(
        session,
        KIND,
        params,
        [{}],
        total=1,
        created_by=created_by,
        message="queued: scoring both models on the test snapshot",
    )


def comparison_of(project: Project, job_id: int) -> ComparisonRun:
    """The comparison job ``job_id`` as a page shows it (``NotFound`` if it is not one)."""
    with project.db.session() as session:
        job = session.get(Job, job_id)
        if job is None or job.kind != KIND:
            raise NotFound(f"no comparison job {job_id}")
        return _view(job)


def run_compare_chunk(ctx: ChunkContext) -> ChunkOutcome:
    challenger_id = int(ctx.params["challenger_id"])
    champion = ctx.params.get("champion_id")
    ctx.message("scoring both models on the test snapshot, then bootstrapping and drawing")
    result = compare_models(
        ctx.project,
        challenger_id,
        champion,
        ctx.params.get("snapshot_id"),
        figures=bool(ctx.params.get("figures", True)),
    ).as_dict()
    ctx.check_cancelled()
    with ctx.project.db.session() as session:
        session.execute(update(Job).where(Job.id == ctx.job_id).values(result=result))
    return ChunkOutcome(done=1)


def _latest(session: Session, challenger_id: int, champion_id: int | None) -> Job | None:
    """Only ids and params are scanned: a finished job's result is a whole comparison."""
    recent = session.execute(
        select(Job.id, Job.params)
        .where(Job.kind == KIND)
        .order_by(Job.id.desc())
        .limit(_RECENT_JOBS)
    )
    for job_id, params in recent:
        if (params or {}).get("challenger_id") == challenger_id and (
            (params or {}).get("champion_id") == champion_id
        ):
            return session.get(Job, job_id)
    return None


def _stale(session: Session, job: Job) -> bool:
    if job.state != "succeeded":
        finished = job.finished_at or job.created_at
        return (datetime.now(UTC) - finished).total_seconds() > RETRY_FAILED_AFTER_SECONDS
    done_on = (job.result or {}).get("snapshot_id")
    latest = session.scalar(select(func.max(Snapshot.id)).where(Snapshot.purpose == "test"))
    return latest is not None and done_on is not None and latest > done_on


def _view(job: Job) -> ComparisonRun:
    params = job.params or {}
    state = {"succeeded": "done", "failed": "failed", "cancelled": "failed"}.get(
        job.state, "computing"
    )
    error = job.error if job.state == "failed" else None
    if job.state == "cancelled":
        error = "the comparison job was cancelled"
    return ComparisonRun(
        job_id=job.id,
        state=state,
        challenger_id=int(params["challenger_id"]),
        champion_id=params.get("champion_id"),
        started_at=job.created_at,
        finished_at=job.finished_at,
        result=job.result if state == "done" else None,
        error=error,
        message=job.message,
    )


COMPARE_KIND = JobKind(KIND, run_compare_chunk, stored_result, max_attempts=1)
