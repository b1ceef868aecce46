"""Submitting, cancelling and retrying jobs, and reading their status.

``jobs`` semantics: ``state`` is queued (no chunk claimed yet), running (some chunk claimed;
stays running while a dead worker's chunk waits to be reclaimed), succeeded (every chunk done
and the kind's finaliser stored ``result``), failed (a chunk failed ``max_attempts`` times;
``error`` says why) or cancelled (on request; chunks not yet done stay queued).
``progress_done`` counts items finished (ok or failed) across chunks, ``progress_total`` the
items planned, ``rate`` items/s recently, ``eta_seconds`` the estimate to finish.
``attempts`` counts starts: 1 when first claimed, +1 each time a dead worker's chunk is
resumed. ``worker`` is the last worker (host:pid[:tag]) that claimed a chunk, and
``heartbeat_at`` the last sign of life from any of its workers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.job_states import ACTIVE, CHUNK_STATES, TERMINAL
from wildloop.errors import Conflict, NotFound
from wildloop.store.bulk import rows_changed
from wildloop.store.tables import Job, JobChunk
from wildloop.store.types import utcnow


def active_job_id(session: Session, kind: str) -> int | None:
    """A queued or running job of ``kind``, if there is one."""
    return session.scalar(
        select(Job.id).where(Job.kind == kind, Job.state.in_(ACTIVE)).order_by(Job.id).limit(1)
    )


def submit_job(
    session: Session,
    kind: str,
    params: dict[str, Any],
    chunks: list[dict[str, Any]],
    *,
    total: int | None = None,
    created_by: int | None = None,
    message: str | None = None,
) -> int:
    """Create a job and its chunks in the caller's transaction; returns the job id.

    Each chunk payload must describe its slice of work completely (e.g. media ids), so a
    chunk can run again anywhere. A job with no chunks succeeds at once.
    """
    job = Job(
        kind=kind,
        params=params,
        state="queued" if chunks else "succeeded",
        progress_done=0,
        progress_total=total,
        created_by=created_by,
        message=message if chunks else (message or "nothing to do"),
        result=None if chunks else {"note": "nothing to do"},
        finished_at=None if chunks else utcnow(),
    )
    session.add(job)
    session.flush()
    if chunks:
        session.execute(
            insert(JobChunk),
            [
                {"job_id": job.id, "seq": i, "payload": payload, "state": "queued"}
                for i, payload in enumerate(chunks)
            ],
        )
    audit.record(
        session,
        actor_id=created_by,
        action="job.submit",
        entity="job",
        entity_id=job.id,
        after={"kind": kind, "chunks": len(chunks), "total": total},
    )
    return job.id


def cancel_job(session: Session, job_id: int, actor_id: int | None = None) -> bool:
    """Cancel a queued or running job and the child jobs it submitted; running chunks stop
    at their next check.

    Returns False when the job had already finished (nothing to cancel).
    """
    changed = rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.state.in_(ACTIVE))
        .values(state="cancelled", cancel_requested=True, finished_at=utcnow(), eta_seconds=None),
    )
    if not changed:
        _require(session, job_id)
        return False
    audit.record(session, actor_id=actor_id, action="job.cancel", entity="job", entity_id=job_id)
    params = session.scalar(select(Job.params).where(Job.id == job_id)) or {}
    for child in (params.get("children") or {}).values():
        cancel_job(session, int(child), actor_id)
    return True


def retry_job(session: Session, job_id: int, actor_id: int | None = None) -> None:
    """Put a failed or cancelled job back in the queue; finished chunks are not redone."""
    job = _require(session, job_id)
    if job.state not in ("failed", "cancelled"):
        raise Conflict(f"job {job_id} is {job.state}; only failed or cancelled jobs can be retried")
    session.execute(
        update(JobChunk)
        .where(JobChunk.job_id == job_id, JobChunk.state.in_(("failed", "running")))
        .values(state="queued", attempts=0, claimed_by=None, error=None)
    )
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(state="queued", cancel_requested=False, error=None, finished_at=None)
    )
    audit.record(session, actor_id=actor_id, action="job.retry", entity="job", entity_id=job_id)


def job_status(session: Session, job_id: int) -> dict[str, Any]:
    """One job as a JSON-ready dict (what ``wildloop jobs show`` and the dashboard show)."""
    job = _require(session, job_id)
    return _describe(job, _chunk_counts(session, [job_id]).get(job_id, {}))


def list_jobs(
    session: Session, *, limit: int = 50, states: tuple[str, ...] | None = None
) -> list[dict[str, Any]]:
    """Recent jobs, newest first, as JSON-ready dicts."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if states:
        query = query.where(Job.state.in_(states))
    jobs = list(session.scalars(query))
    counts = _chunk_counts(session, [j.id for j in jobs])
    return [_describe(j, counts.get(j.id, {})) for j in jobs]


def _require(session: Session, job_id: int) -> Job:
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}; see `wildloop jobs list`")
    return job


def _chunk_counts(session: Session, job_ids: list[int]) -> dict[int, dict[str, int]]:
    if not job_ids:
        return {}
    rows = session.execute(
        select(JobChunk.job_id, JobChunk.state, func.count())
        .where(JobChunk.job_id.in_(job_ids))
        .group_by(JobChunk.job_id, JobChunk.state)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for job_id, state, n in rows:
        counts.setdefault(job_id, {})[state] = n
    return counts


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _describe(job: Job, chunks: dict[str, int]) -> dict[str, Any]:
    total = job.progress_total
    percent = round(100.0 * job.progress_done / total, 1) if total else None
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "params": job.params,
        "progress": {"done": job.progress_done, "total": total, "percent": percent},
        "rate_per_s": round(job.rate, 2) if job.rate is not None else None,
        "eta_seconds": round(job.eta_seconds, 1) if job.eta_seconds is not None else None,
        "message": job.message,
        "error": job.error,
        "result": job.result,
        "attempts": job.attempts,
        "cancel_requested": job.cancel_requested,
        "worker": job.worker,
        "chunks": {s: chunks.get(s, 0) for s in CHUNK_STATES},
        "created_by": job.created_by,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
        "heartbeat_at": _iso(job.heartbeat_at),
    }


def held_chunks(session: Session, job_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Running chunks with the worker that holds each (``host:pid:tag``) and its last
    heartbeat: which machine is doing what, whichever executor carried the chunk there."""
    query = (
        select(JobChunk)
        .where(JobChunk.state == "running")
        .order_by(JobChunk.job_id, JobChunk.seq)
        .limit(500)
    )
    if job_ids is not None:
        query = query.where(JobChunk.job_id.in_(job_ids))
    return [
        {
            "job_id": c.job_id,
            "seq": c.seq,
            "worker": c.claimed_by,
            "attempts": c.attempts,
            "done": c.items_done + c.items_failed,
            "heartbeat_at": _iso(c.heartbeat_at),
        }
        for c in session.scalars(query)
    ]


def progress_sums(session: Session, job_id: int) -> int:
    """Items finished across a job's chunks (ok + failed)."""
    value = session.scalar(
        select(func.coalesce(func.sum(JobChunk.items_done + JobChunk.items_failed), 0)).where(
            JobChunk.job_id == job_id
        )
    )
    return int(value or 0)


__all__ = [
    "ACTIVE",
    "TERMINAL",
    "cancel_job",
    "held_chunks",
    "job_status",
    "list_jobs",
    "progress_sums",
    "retry_job",
    "submit_job",
]
