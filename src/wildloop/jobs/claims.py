"""The row-level protocol between workers and the job tables.

Every state change is a conditional UPDATE that names the state it expects (healthchecks
style): two workers can race for a chunk and exactly one UPDATE matches. A worker only
finishes a chunk it still owns (``claimed_by`` matches), so a slow worker whose chunk was
reclaimed cannot overwrite the new owner's record.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from wildloop.domain.job_states import ACTIVE, OPEN_CHUNK
from wildloop.jobs.records import progress_sums
from wildloop.store.bulk import rows_changed
from wildloop.store.tables import Job, JobChunk
from wildloop.store.types import database_now

_CLAIM_RACES = 20


@dataclass(frozen=True)
class Claim:
    chunk_id: int
    job_id: int
    seq: int
    kind: str
    params: dict[str, Any]
    payload: dict[str, Any]
    attempts: int


def worker_name(tag: str = "") -> str:
    """``host:pid[:tag]``: lets a worker on the same host tell a dead owner from a live one."""
    base = f"{socket.gethostname()}:{os.getpid()}"
    return f"{base}:{tag}" if tag else base


def claim_chunk(
    session: Session,
    worker: str,
    *,
    job_id: int | None = None,
    kinds: list[str] | None = None,
    job_ids: Collection[int] | None = None,
    skip: Collection[int] = (),
    chunk_id: int | None = None,
    last: Collection[str] = (),
) -> Claim | None:
    """Take the oldest queued chunk of an active job (of ``job_id`` or ``job_ids`` when
    given, not of the jobs in ``skip``; exactly ``chunk_id`` when given, as a broker's task
    asks), or None when there is none. Chunks of the kinds in ``last`` (background work)
    are taken only when no other chunk is queued."""
    for _ in range(_CLAIM_RACES):
        query = (
            select(JobChunk.id, JobChunk.job_id, JobChunk.seq, Job.kind)
            .join(Job, Job.id == JobChunk.job_id)
            .where(JobChunk.state == "queued", Job.state.in_(ACTIVE))
            .order_by(JobChunk.job_id, JobChunk.seq)
            .limit(1)
        )
        if job_id is not None:
            query = query.where(JobChunk.job_id == job_id)
        if chunk_id is not None:
            query = query.where(JobChunk.id == chunk_id)
        if job_ids is not None:
            query = query.where(JobChunk.job_id.in_(list(job_ids)))
        if skip:
            query = query.where(JobChunk.job_id.not_in(list(skip)))
        if kinds:
            query = query.where(Job.kind.in_(kinds))
        if last:  # two index walks in (job, seq) order rather than one sort of the queue
            row = session.execute(query.where(Job.kind.not_in(list(last)))).first()
            if row is None:
                row = session.execute(query.where(Job.kind.in_(list(last)))).first()
        else:
            row = session.execute(query).first()
        if row is None:
            return None
        now = database_now(session)
        won = rows_changed(
            session,
            update(JobChunk)
            .where(JobChunk.id == row.id, JobChunk.state == "queued")
            .values(
                state="running",
                claimed_by=worker,
                claimed_at=now,
                heartbeat_at=now,
                attempts=JobChunk.attempts + 1,
            ),
        )
        if won != 1:
            continue
        session.execute(
            update(Job)
            .where(Job.id == row.job_id, Job.state == "queued")
            .values(state="running", started_at=func.coalesce(Job.started_at, now), attempts=1)
        )
        session.execute(
            update(Job).where(Job.id == row.job_id).values(worker=worker, heartbeat_at=now)
        )
        chunk = session.get(JobChunk, row.id)
        job = session.get(Job, row.job_id)
        assert chunk is not None and job is not None
        return Claim(
            chunk_id=row.id,
            job_id=row.job_id,
            seq=row.seq,
            kind=row.kind,
            params=dict(job.params or {}),
            payload=dict(chunk.payload or {}),
            attempts=chunk.attempts,
        )
    return None


def heartbeat(session: Session, claim: Claim, worker: str) -> tuple[bool, bool]:
    """Refresh the chunk's heartbeat; returns (still_owned, job_cancelled)."""
    now = database_now(session)
    owned = rows_changed(
        session,
        update(JobChunk)
        .where(
            JobChunk.id == claim.chunk_id,
            JobChunk.claimed_by == worker,
            JobChunk.state == "running",
        )
        .values(heartbeat_at=now),
    )
    session.execute(
        update(Job).where(Job.id == claim.job_id, Job.state == "running").values(heartbeat_at=now)
    )
    state = session.scalar(select(Job.state).where(Job.id == claim.job_id))
    return owned == 1, state == "cancelled"


def report_progress(
    session: Session,
    claim: Claim,
    worker: str,
    *,
    done: int | None,
    failed: int | None,
    message: str | None,
    rate: float | None,
) -> None:
    """Record a chunk's item counts and refresh the job's progress, rate and ETA."""
    if done is not None:
        session.execute(
            update(JobChunk)
            .where(JobChunk.id == claim.chunk_id, JobChunk.claimed_by == worker)
            .values(items_done=done, items_failed=failed or 0, heartbeat_at=database_now(session))
        )
    _refresh_job(session, claim.job_id, message=message, rate=rate)


def set_total(session: Session, job_id: int, total: int) -> None:
    session.execute(update(Job).where(Job.id == job_id).values(progress_total=total))


def complete_chunk(session: Session, claim: Claim, worker: str, done: int, failed: int) -> bool:
    """Mark the chunk done if this worker still owns it; returns whether it did."""
    changed = rows_changed(
        session,
        update(JobChunk)
        .where(
            JobChunk.id == claim.chunk_id,
            JobChunk.claimed_by == worker,
            JobChunk.state == "running",
        )
        .values(state="done", items_done=done, items_failed=failed, error=None),
    )
    _refresh_job(session, claim.job_id, message=None, rate=None)
    return changed == 1


def release_chunk(session: Session, claim: Claim, worker: str) -> None:
    """Hand a chunk back to the queue (the worker is stopping or the job was cancelled)."""
    session.execute(
        update(JobChunk)
        .where(
            JobChunk.id == claim.chunk_id,
            JobChunk.claimed_by == worker,
            JobChunk.state == "running",
        )
        .values(state="queued", claimed_by=None, attempts=JobChunk.attempts - 1)
    )


def fail_chunk(session: Session, claim: Claim, worker: str, error: str, max_attempts: int) -> bool:
    """Record a chunk's error; requeue it or, after ``max_attempts``, fail it and its job.

    Returns True when the job failed.
    """
    final = claim.attempts >= max_attempts
    session.execute(
        update(JobChunk)
        .where(JobChunk.id == claim.chunk_id, JobChunk.claimed_by == worker)
        .values(state="failed" if final else "queued", error=error[:4000])
    )
    if not final:
        session.execute(
            update(Job)
            .where(Job.id == claim.job_id)
            .values(
                message=f"chunk {claim.seq} attempt {claim.attempts} failed, "
                f"retrying: {error[:300]}"
            )
        )
        return False
    session.execute(
        update(Job)
        .where(Job.id == claim.job_id, Job.state.in_(ACTIVE))
        .values(
            state="failed",
            finished_at=database_now(session),
            eta_seconds=None,
            error=f"chunk {claim.seq} failed after {claim.attempts} attempts: {error[:4000]}",
        )
    )
    return True


def fail_job(session: Session, job_id: int, error: str) -> bool:
    """Fail an active job (and its unfinished chunks) with ``error``; False if it had
    already finished."""
    changed = rows_changed(
        session,
        update(Job)
        .where(Job.id == job_id, Job.state.in_(ACTIVE))
        .values(
            state="failed", finished_at=database_now(session), eta_seconds=None, error=error[:4000]
        ),
    )
    session.execute(
        update(JobChunk)
        .where(JobChunk.job_id == job_id, JobChunk.state.in_(OPEN_CHUNK))
        .values(state="failed", error=error[:4000])
    )
    return changed == 1


def reclaim_stale(session: Session, stale_after: float, max_attempts: int) -> int:
    """Requeue running chunks whose worker stopped heartbeating (or is known dead).

    A chunk that has already been tried ``max_attempts`` times fails with its job instead
    of looping forever on something that kills its worker (an out-of-memory image).
    Returns how many chunks were requeued.
    """
    cutoff = database_now(session) - timedelta(seconds=stale_after)
    rows = session.execute(
        select(JobChunk.id, JobChunk.job_id, JobChunk.seq, JobChunk.attempts, JobChunk.claimed_by)
        .join(Job, Job.id == JobChunk.job_id)
        .where(JobChunk.state == "running", Job.state.in_(ACTIVE))
    ).all()
    requeued = 0
    for row in rows:
        if not (_dead_here(row.claimed_by) or _stale(session, row.id, cutoff)):
            continue
        if row.attempts >= max_attempts:
            session.execute(
                update(JobChunk)
                .where(JobChunk.id == row.id, JobChunk.state == "running")
                .values(state="failed", error="its worker died on every attempt")
            )
            session.execute(
                update(Job)
                .where(Job.id == row.job_id, Job.state.in_(ACTIVE))
                .values(
                    state="failed",
                    finished_at=database_now(session),
                    error=f"chunk {row.seq}: its worker died {row.attempts} times; "
                    "see the worker's log (out of memory?)",
                )
            )
            continue
        requeued += rows_changed(
            session,
            update(JobChunk)
            .where(
                JobChunk.id == row.id,
                JobChunk.state == "running",
                JobChunk.claimed_by == row.claimed_by,
            )
            .values(state="queued", claimed_by=None),
        )
        session.execute(
            update(Job)
            .where(Job.id == row.job_id)
            .values(
                attempts=Job.attempts + 1,
                message=f"resumed chunk {row.seq} after its worker {row.claimed_by} stopped",
            )
        )
    return requeued


def jobs_ready_to_finish(session: Session) -> list[int]:
    """Running jobs whose chunks are all done (their finaliser has not run yet)."""
    unfinished = (
        select(JobChunk.id).where(JobChunk.job_id == Job.id, JobChunk.state != "done").exists()
    )
    return list(session.scalars(select(Job.id).where(Job.state == "running", ~unfinished)))


def finish_job(session: Session, job_id: int, result: dict[str, Any] | None) -> bool:
    """Mark a running job succeeded with its result; False if someone else did first."""
    now = database_now(session)
    return bool(
        rows_changed(
            session,
            update(Job)
            .where(Job.id == job_id, Job.state == "running")
            .values(
                state="succeeded",
                result=result,
                finished_at=now,
                eta_seconds=0.0,
                message="done",
            ),
        )
        == 1
    )


def _stale(session: Session, chunk_id: int, cutoff: Any) -> bool:
    return bool(
        session.scalar(
            select(JobChunk.id).where(
                JobChunk.id == chunk_id,
                or_(JobChunk.heartbeat_at.is_(None), JobChunk.heartbeat_at < cutoff),
            )
        )
        is not None
    )


def _dead_here(claimed_by: str | None) -> bool:
    """True when the owner ran on this host and its process no longer exists."""
    if not claimed_by:
        return False
    parts = claimed_by.split(":")
    if len(parts) < 2 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:  # noqa: PTH123
            return fh.read().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def _refresh_job(session: Session, job_id: int, *, message: str | None, rate: float | None) -> None:
    done = progress_sums(session, job_id)
    values: dict[str, Any] = {"progress_done": done, "heartbeat_at": database_now(session)}
    if message is not None:
        values["message"] = message
    if rate is not None and rate > 0:
        running = session.scalar(
            select(func.count()).where(JobChunk.job_id == job_id, JobChunk.state == "running")
        )
        job_rate = rate * max(1, int(running or 1))
        values["rate"] = job_rate
        total = session.scalar(select(Job.progress_total).where(Job.id == job_id))
        if total:
            values["eta_seconds"] = max(0.0, (total - done) / job_rate)
    session.execute(
        update(Job).where(Job.id == job_id, and_(Job.state.in_(ACTIVE))).values(**values)
    )
