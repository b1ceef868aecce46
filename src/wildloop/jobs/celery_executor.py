"""The Celery executor: a broker carries chunks to worker machines; the rows stay the truth.

Submitting a job writes its rows as always. A dispatcher (in ``wildloop serve``, or in the
process that waits for a job) sends one task per queued chunk to the queue of its job's kind
(:mod:`wildloop.jobs.routing`). The task claims *its* chunk row with the conditional UPDATE a
local worker uses, so a duplicated delivery, or a message for a chunk another worker took, is
a no-op; the claimed chunk then runs exactly as in a local worker (heartbeat, progress,
finaliser). See docs/adr/0014-celery-carries-chunks.md.

Why a dispatcher over the rows rather than a send at submit time: chunks come back to
``queued`` in ways no submit sees (a parent waiting for children hands its chunk back, a dead
worker's chunk is reclaimed, a failed job is retried), and a Redis broker without persistence
forgets its messages when it restarts. A queued chunk is sent when it was never sent, when it
was claimed since it was sent (it came back), or when no worker took it within
``jobs.resend_after_seconds`` (the message may be lost). Tasks use ``acks_late`` and
``reject_on_worker_lost``: a worker process that dies mid-task puts its message back.

Celery is the ``scale`` extra: it is imported when this executor is built, never at import.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.config import ProjectConfig
from wildloop.domain.job_states import ACTIVE, TERMINAL
from wildloop.errors import BadInput
from wildloop.jobs import claims
from wildloop.jobs.local import StatusCallback
from wildloop.jobs.records import job_status
from wildloop.jobs.routing import route
from wildloop.jobs.worker import RECONNECT_SECONDS, finish_ready_jobs, run_claimed, settings_for
from wildloop.project import Project
from wildloop.store.tables import Job, JobChunk

log = logging.getLogger(__name__)

TASK_NAME = "wildloop.run_chunk"


def make_app(config: ProjectConfig) -> Any:
    """A Celery app for this project's broker, with the chunk task registered.

    ``worker_prefetch_multiplier=1`` with late acks: a worker holds one chunk at a time, so
    an urgent chunk is never stuck in the prefetch buffer of a worker busy with a reprocess.
    """
    try:
        from celery import Celery
    except ImportError as exc:  # the scale extra is optional
        raise BadInput(
            "jobs.executor = 'celery' needs Celery: pip install 'wildloop[scale]'"
        ) from exc
    url = config.jobs.broker()
    app = Celery("wildloop", broker=url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,  # queues by name: the defaults and jobs.routes
        task_queue_max_priority=10,  # RabbitMQ declares priority queues (x-max-priority)
        task_default_queue=route(config, "predict").queue,
        broker_transport_options={
            "priority_steps": list(range(10)),
            "queue_order_strategy": "priority",
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    app.task(name=TASK_NAME, acks_late=True, reject_on_worker_lost=True, ignore_result=True)(
        _run_chunk_task
    )
    return app


def broker_priority(config: ProjectConfig, priority: int) -> int:
    """Our priorities are RabbitMQ's (9 first); kombu's Redis transport reads 0 first."""
    return 9 - priority if config.jobs.broker().startswith("redis") else priority


# --- the worker side --------------------------------------------------------------------

_worker_root: str | None = None
_opened: dict[int, Project] = {}
_stopping = threading.Event()


def use_project(project: Project) -> None:
    """Make ``project`` the one this process's chunk tasks run against (what
    ``wildloop worker --celery`` does before it serves; a worker embedded in another program,
    such as a benchmark, calls it too)."""
    global _worker_root
    _worker_root = str(project.root)
    _opened[os.getpid()] = project


def _project() -> Project:
    """This process's project, opened once per process (a prefork child must not share its
    parent's database connections)."""
    pid = os.getpid()
    if pid not in _opened:
        if _worker_root is None:
            raise RuntimeError("no project: start Celery workers with `wildloop worker --celery`")
        _opened[pid] = Project.open(_worker_root, upgrade=False)
    return _opened[pid]


def _run_chunk_task(chunk_id: int) -> str:
    """Claim chunk ``chunk_id`` and run it; a chunk that is not queued any more (done, held
    by another worker, its job cancelled) is left alone."""
    return run_chunk_here(_project(), chunk_id, claims.worker_name("celery"), _stopping)


def run_chunk_here(project: Project, chunk_id: int, worker: str, stop: threading.Event) -> str:
    """What one delivery does; returns a word for the task's log line."""
    settings = settings_for(project)

    def reclaim_and_claim(session: Session) -> claims.Claim | None:
        # A chunk whose owner died on this host is freed at once, so the redelivered message
        # of a killed pool process can take it.
        claims.reclaim_stale(session, settings.stale_after_seconds, settings.max_attempts)
        return claims.claim_chunk(session, worker, chunk_id=chunk_id)

    claim = project.db.run(reclaim_and_claim, retry_for=RECONNECT_SECONDS)
    if claim is None:
        return "not claimed"
    stats = run_claimed(project, claim, worker, settings, stop)
    return "done" if stats.chunks_done else "released" if stats.chunks_released else "failed"


def run_celery_worker(
    project: Project,
    queues: list[str],
    *,
    concurrency: int = 1,
    pool: str = "prefork",
    loglevel: str = "INFO",
) -> None:
    """Serve ``queues`` until stopped (what ``wildloop worker --celery`` runs)."""
    use_project(project)
    app = make_app(project.config)
    from celery.signals import worker_shutting_down

    # Warm shutdown: a running chunk is handed back to the queue instead of finishing first.
    worker_shutting_down.connect(lambda **_: _stopping.set(), weak=False)
    app.worker_main(
        [
            "worker",
            f"--queues={','.join(queues)}",
            f"--concurrency={concurrency}",
            f"--pool={pool}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            f"--hostname=wildloop-{os.getpid()}@%h",
        ]
    )


# --- the dispatching side ---------------------------------------------------------------


@dataclass
class _Sent:
    claimed_at: datetime | None
    at: float


class Dispatcher:
    """Sends queued chunks to the broker (all active jobs, or ``scope`` and its children)."""

    def __init__(self, project: Project, app: Any, scope: set[int] | None = None) -> None:
        self.project, self.app, self.scope = project, app, scope
        self.sent: dict[int, _Sent] = {}
        self.settings = settings_for(project)

    def tick(self) -> int:
        """Reclaim dead workers' chunks, finish ready jobs, send what needs sending;
        returns how many tasks were sent."""
        resend = self.project.config.jobs.resend_after_seconds
        with self.project.db.session() as session:
            claims.reclaim_stale(
                session, self.settings.stale_after_seconds, self.settings.max_attempts
            )
            if self.scope is not None:
                self.scope.update(_children(session, self.scope))
            query = (
                select(JobChunk.id, JobChunk.claimed_at, Job.kind)
                .join(Job, Job.id == JobChunk.job_id)
                .where(JobChunk.state == "queued", Job.state.in_(ACTIVE))
                .order_by(JobChunk.job_id, JobChunk.seq)
            )
            if self.scope is not None:
                query = query.where(JobChunk.job_id.in_(list(self.scope)))
            rows = session.execute(query).all()
        finish_ready_jobs(self.project)
        now = time.monotonic()
        sent = 0
        for chunk_id, claimed_at, kind in rows:
            last = self.sent.get(chunk_id)
            if last and last.claimed_at == claimed_at and now - last.at < resend:
                continue
            self.send(chunk_id, kind)
            self.sent[chunk_id] = _Sent(claimed_at, now)
            sent += 1
        return sent

    def send(self, chunk_id: int, kind: str) -> None:
        config = self.project.config
        where = route(config, kind)
        self.app.send_task(
            TASK_NAME,
            args=[chunk_id],
            queue=where.queue,
            routing_key=where.queue,
            priority=broker_priority(config, where.priority),
        )


def _children(session: Any, job_ids: set[int]) -> set[int]:
    found: set[int] = set()
    for params in session.scalars(select(Job.params).where(Job.id.in_(list(job_ids)))):
        found.update(int(c) for c in ((params or {}).get("children") or {}).values())
    return found - job_ids


class CeleryExecutor:
    """Jobs run by Celery workers: this process only dispatches chunks and watches rows.

    ``workers`` and ``lanes`` mean nothing here (the broker's workers and queues replace
    them); they are accepted so both executors are built alike.
    """

    def __init__(
        self,
        project: Project,
        workers: int = 1,
        lanes: tuple[str, ...] = (),
        poll_seconds: float = 0.5,
    ) -> None:
        self.project = project
        self.poll_seconds = poll_seconds
        self._app: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def app(self) -> Any:
        if self._app is None:
            self._app = make_app(self.project.config)
        return self._app

    def start(self) -> None:
        """Dispatch every active job's chunks in a background thread (``wildloop serve``)."""
        dispatcher = Dispatcher(self.project, self.app)
        self._thread = threading.Thread(
            target=self._loop, args=(dispatcher,), name="wildloop-dispatch", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def run_job(self, job_id: int, progress: StatusCallback | None = None) -> dict[str, Any]:
        """Dispatch ``job_id`` and its children until it is finished; returns its status."""
        dispatcher = Dispatcher(self.project, self.app, scope={job_id})
        while True:
            _tick(dispatcher)
            with self.project.db.session() as session:
                status = job_status(session, job_id)
            if progress:
                progress(status)
            if status["state"] in TERMINAL:
                return status
            time.sleep(self.poll_seconds)

    def _loop(self, dispatcher: Dispatcher) -> None:
        while not self._stop.is_set():
            _tick(dispatcher)
            self._stop.wait(self.poll_seconds)


def _tick(dispatcher: Dispatcher) -> None:
    try:
        dispatcher.tick()
    except Exception:
        # A broker or database that is briefly away: the rows keep the work, try again.
        log.exception("dispatching chunks failed; trying again")
