"""The worker loop: claim a chunk, run its kind's handler, record the outcome, repeat.

The same loop runs in a thread of the embedded executor and in ``wildloop worker`` (a
separate process). While a handler runs, a heartbeat thread keeps the chunk's claim fresh
and notices cancellation or a takeover; a worker killed at any instant leaves a chunk whose
heartbeat goes stale (or whose pid is gone) and which the next worker requeues.

No job can end the loop: a chunk whose kind this code does not know (a newer or older
version's kind, a removed plugin), a handler or finaliser that raises, even a database error
between chunks, is logged and fails that chunk or job with the reason; the loop goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from wildloop.errors import NotFound
from wildloop.jobs import claims
from wildloop.jobs.kinds import (
    ChunkContext,
    ChunkLost,
    JobCancelled,
    WaitingForJobs,
    background_kinds,
    get_kind,
)
from wildloop.project import Project
from wildloop.store.tables import Job

log = logging.getLogger(__name__)

# How long a worker keeps retrying its bookkeeping (claims, heartbeats, progress, outcomes)
# while the database server is unreachable: a restart or a fail-over takes seconds, and a
# chunk that survives it is not redone. Longer outages fail the step; the loop goes on.
RECONNECT_SECONDS = 120.0


@dataclass(frozen=True)
class WorkerSettings:
    heartbeat_seconds: float = 5.0
    stale_after_seconds: float = 60.0
    poll_seconds: float = 1.0
    max_attempts: int = 3


@dataclass
class WorkerStats:
    chunks_done: int = 0
    chunks_failed: int = 0
    chunks_released: int = 0
    jobs_finished: list[int] = field(default_factory=list)


@dataclass
class _Scope:
    """Which jobs a worker takes: ``jobs`` (None: any) grows by the children of a parent it
    runs, so ``run_job`` on a parent runs its children too; a parent waiting for children is
    ``deferred`` until a time, so the worker takes the children meanwhile."""

    jobs: set[int] | None
    deferred: dict[int, float] = field(default_factory=dict)

    def skip(self) -> list[int]:
        now = time.monotonic()
        for job_id in [j for j, until in self.deferred.items() if until <= now]:
            del self.deferred[job_id]
        return list(self.deferred)


def settings_for(project: Project) -> WorkerSettings:
    jobs = project.config.jobs
    return WorkerSettings(
        heartbeat_seconds=jobs.heartbeat_seconds,
        stale_after_seconds=jobs.stale_after_seconds,
        max_attempts=jobs.max_attempts,
    )


def run_worker(
    project: Project,
    *,
    worker: str | None = None,
    job_id: int | None = None,
    kinds: list[str] | None = None,
    settings: WorkerSettings | None = None,
    stop: threading.Event | None = None,
    exit_when_idle: bool = True,
    job_ids: set[int] | None = None,
) -> WorkerStats:
    """Run chunks until there are none left (or ``stop`` is set, if not exiting when idle).

    ``job_id`` (or a ``job_ids`` set shared by several threads) limits the worker to those
    jobs and the children they submit."""
    settings = settings or settings_for(project)
    worker = worker or claims.worker_name()
    stop = stop or threading.Event()
    stats = WorkerStats()
    if job_ids is None and job_id is not None:
        job_ids = {job_id}
    scope = _Scope(job_ids)
    while not stop.is_set():
        try:
            worked = _step(project, worker, scope, kinds, settings, stats, stop)
        except Exception:
            # Whatever one step raised (a database that was briefly unreachable, a bug in
            # one job's bookkeeping), this worker keeps serving the others.
            log.exception("worker %s: a step failed; going on", worker)
            stop.wait(settings.poll_seconds)
            continue
        if not worked:
            if exit_when_idle and not scope.deferred:  # a parent waiting is work left
                break
            stop.wait(settings.poll_seconds)
    return stats


def _step(
    project: Project,
    worker: str,
    scope: _Scope,
    kinds: list[str] | None,
    settings: WorkerSettings,
    stats: WorkerStats,
    stop: threading.Event,
) -> bool:
    """Reclaim stale chunks, finish ready jobs, run one chunk; False when there was none."""
    _bookkeep(
        project,
        lambda s: claims.reclaim_stale(s, settings.stale_after_seconds, settings.max_attempts),
    )
    _finish_ready(project, stats)
    skip = scope.skip()
    claim = _bookkeep(
        project,
        lambda s: claims.claim_chunk(
            s, worker, job_ids=scope.jobs, kinds=kinds, skip=skip, last=background_kinds()
        ),
    )
    if claim is None:
        return False
    _run_claim(project, claim, worker, settings, stats, stop, scope)
    return True


def run_claimed(
    project: Project,
    claim: claims.Claim,
    worker: str,
    settings: WorkerSettings,
    stop: threading.Event,
) -> WorkerStats:
    """Run one chunk this worker has already claimed (what a broker's task does): the
    handler under a heartbeat, then the outcome recorded and the job finished if it was the
    last chunk. A parent that waits for children hands its chunk back like in the loop."""
    stats = WorkerStats()
    _run_claim(project, claim, worker, settings, stats, stop, _Scope(None))
    return stats


def _run_claim(
    project: Project,
    claim: claims.Claim,
    worker: str,
    settings: WorkerSettings,
    stats: WorkerStats,
    stop: threading.Event,
    scope: _Scope,
) -> None:
    try:
        kind = get_kind(claim.kind)
    except NotFound as exc:
        log.error("chunk %s of job %s: %s", claim.seq, claim.job_id, exc)
        reason = _cannot_run(exc)
        _bookkeep(project, lambda s: claims.fail_chunk(s, claim, worker, reason, max_attempts=1))
        stats.chunks_failed += 1
        return
    reporter = _Reporter(project, claim, worker)
    ctx = ChunkContext(
        project=project,
        job_id=claim.job_id,
        chunk_id=claim.chunk_id,
        seq=claim.seq,
        params=claim.params,
        payload=claim.payload,
        worker=worker,
        reporter=reporter,
    )
    beat = _Heartbeat(project, claim, worker, settings.heartbeat_seconds, ctx, stop)
    beat.start()
    try:
        outcome = kind.run_chunk(ctx)
    except (JobCancelled, ChunkLost) as exc:
        log.info("chunk %s of job %s stopped: %s", claim.seq, claim.job_id, exc)
        _bookkeep(project, lambda s: claims.release_chunk(s, claim, worker))
        stats.chunks_released += 1
        return
    except WaitingForJobs as exc:
        # The parent holds no worker while its children run: hand the chunk back, take
        # the children (or other work) meanwhile, and look at the parent again later.
        waiting = str(exc)

        def hand_back(session: Session) -> None:
            claims.release_chunk(session, claim, worker)
            claims.report_progress(
                session, claim, worker, done=None, failed=None, message=waiting, rate=None
            )

        _bookkeep(project, hand_back)
        if scope.jobs is not None:
            scope.jobs.update(exc.job_ids)
        scope.deferred[claim.job_id] = time.monotonic() + settings.poll_seconds
        stats.chunks_released += 1
        return
    except Exception as exc:
        log.exception("chunk %s of job %s failed", claim.seq, claim.job_id)
        error = f"{type(exc).__name__}: {exc}"
        _bookkeep(project, lambda s: claims.fail_chunk(s, claim, worker, error, kind.max_attempts))
        stats.chunks_failed += 1
        return
    finally:
        beat.stop()
    owned = _bookkeep(
        project, lambda s: claims.complete_chunk(s, claim, worker, outcome.done, outcome.failed)
    )
    if owned:
        stats.chunks_done += 1
        _finish_ready(project, stats, only=claim.job_id)


def finish_ready_jobs(project: Project) -> list[int]:
    """Finish every job whose chunks are all done (a dispatcher's sweep after a worker died
    between its last chunk and the finaliser); returns the ids it finished."""
    stats = WorkerStats()
    _finish_ready(project, stats)
    return stats.jobs_finished


def _finish_ready(project: Project, stats: WorkerStats, only: int | None = None) -> None:
    """Run the finaliser of every job whose chunks are all done, and mark it succeeded; a
    job whose kind is unknown here, or whose finaliser raises, fails with the reason."""
    ready = _bookkeep(project, claims.jobs_ready_to_finish)
    for job_id in ready:
        if only is not None and job_id != only:
            continue
        with project.db.session() as session:
            kind_name = session.scalar(select(Job.kind).where(Job.id == job_id))
        if kind_name is None:
            continue
        try:
            kind = get_kind(kind_name)
            result = kind.finalize(project, job_id) if kind.finalize else None
        except NotFound as exc:
            log.error("job %s: %s", job_id, exc)
            with project.db.session() as session:
                claims.fail_job(session, job_id, _cannot_run(exc))
            continue
        except DBAPIError as exc:
            if not project.db.lost_server(exc):
                raise
            # Not the job's fault: the next sweep (any worker, the dispatcher) finishes it.
            log.warning("job %s: the database went away while finishing; later", job_id)
            continue
        except Exception as exc:
            log.exception("the finaliser of job %s failed", job_id)
            with project.db.session() as session:
                claims.fail_job(session, job_id, f"finishing failed: {type(exc).__name__}: {exc}")
            continue
        if _bookkeep(project, partial(claims.finish_job, job_id=job_id, result=result)):
            stats.jobs_finished.append(job_id)


T = TypeVar("T")


def _bookkeep(project: Project, work: Callable[[Session], T]) -> T:
    """One short transaction on the job rows, retried across a database restart."""
    return project.db.run(work, retry_for=RECONNECT_SECONDS)


def _cannot_run(exc: NotFound) -> str:
    return (
        f"this worker cannot run it: {exc} (submitted by another wildloop version, or a "
        "plugin that is not installed here)"
    )


class _Reporter:
    """Writes a handler's progress to the database; keeps a short window for the rate."""

    def __init__(self, project: Project, claim: claims.Claim, worker: str) -> None:
        self.project = project
        self.claim = claim
        self.worker = worker
        self.window: deque[tuple[float, int]] = deque([(time.monotonic(), 0)], maxlen=20)

    def progress(self, done: int | None, failed: int | None, message: str | None) -> None:
        rate = None
        if done is not None:
            now = time.monotonic()
            self.window.append((now, done + (failed or 0)))
            first_t, first_n = self.window[0]
            if now - first_t > 0.2:
                rate = (done + (failed or 0) - first_n) / (now - first_t)
        _bookkeep(
            self.project,
            lambda s: claims.report_progress(
                s, self.claim, self.worker, done=done, failed=failed, message=message, rate=rate
            ),
        )

    def set_total(self, total: int) -> None:
        _bookkeep(self.project, lambda s: claims.set_total(s, self.claim.job_id, total))


class _Heartbeat:
    """A thread that refreshes the claim and flags cancellation or loss of the chunk."""

    def __init__(
        self,
        project: Project,
        claim: claims.Claim,
        worker: str,
        every: float,
        ctx: ChunkContext,
        stop: threading.Event,
    ) -> None:
        self.project, self.claim, self.worker, self.every = project, claim, worker, every
        self.ctx, self.outer_stop = ctx, stop
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wildloop-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                owned, cancelled = _bookkeep(
                    self.project, lambda s: claims.heartbeat(s, self.claim, self.worker)
                )
            except DBAPIError:
                # Unreachable for longer than RECONNECT_SECONDS: the chunk may be reclaimed
                # meanwhile (complete_chunk then tells); keep beating until the handler ends.
                log.exception("heartbeat of chunk %s failed", self.claim.chunk_id)
                continue
            if cancelled or self.outer_stop.is_set():
                self.ctx.cancelled.set()
            if not owned:
                self.ctx.lost.set()
