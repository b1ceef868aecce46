"""Job kinds: what runs for each chunk of a job, and how a handler reports back.

A kind is a name plus a chunk handler and an optional finaliser (which computes the job's
stored result once every chunk is done). Kinds are found by name when a worker needs them,
among those registered with :func:`register_kind`: the job mechanism imports no kind; the
composition root (``wildloop.composition``) lists the built-in ones and the edges register
them, so importing wildloop registers nothing.

A training job is a kind like any other: submit it with one chunk, call
``ctx.set_total(epochs)`` and ``ctx.progress(epoch, message=...)`` from the handler, and
return the result from ``finalize``.

A job that needs other jobs (the loop: train, compare, reprocess) submits them as children
with ``ctx.child(key, submit)`` and waits with ``ctx.wait_for(ids)``, never by running them
itself: while a child runs, ``wait_for`` hands the parent's chunk back to the queue, so the
parent holds no worker and any worker (another thread, a ``wildloop worker`` process) can
take the children. The handler runs again from the top when the children are done, so it
must be written as steps that find their earlier results (see docs/adr/0012).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wildloop.domain.job_states import TERMINAL
from wildloop.errors import NotFound
from wildloop.project import Project
from wildloop.store.tables import Job


class JobCancelled(Exception):
    """Raised inside a handler (by ``ctx.check_cancelled``) when the job was cancelled."""


class ChunkLost(Exception):
    """Raised inside a handler when another worker reclaimed this chunk."""


class WaitingForJobs(Exception):
    """Raised by ``ctx.wait_for`` while child jobs are unfinished: the worker hands the
    chunk back to the queue and takes it up again later."""

    def __init__(self, job_ids: list[int]) -> None:
        self.job_ids = job_ids
        super().__init__(f"waiting for job {', '.join(str(i) for i in job_ids)}")


@dataclass(frozen=True)
class ChunkOutcome:
    """What a handler did with its chunk: items that succeeded and items that failed."""

    done: int
    failed: int = 0


class Reporter(Protocol):
    def progress(self, done: int | None, failed: int | None, message: str | None) -> None: ...
    def set_total(self, total: int) -> None: ...


@dataclass
class ChunkContext:
    """Everything a handler needs for one chunk, and its only way to report back."""

    project: Project
    job_id: int
    chunk_id: int
    seq: int
    params: dict[str, Any]
    payload: dict[str, Any]
    worker: str
    reporter: Reporter
    cancelled: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)

    def progress(self, done: int, failed: int = 0, message: str | None = None) -> None:
        """Items finished in this chunk so far (absolute, not a delta); updates job progress,
        rate and ETA. Also a cancellation point."""
        self.reporter.progress(done, failed, message)
        self.check_cancelled()

    def set_total(self, total: int) -> None:
        """Set the job's total item count (for one-chunk jobs whose size is known late)."""
        self.reporter.set_total(total)

    def message(self, text: str) -> None:
        """Show a line of status on the job (``wildloop jobs``, the dashboard)."""
        self.reporter.progress(None, None, text)

    def child(self, key: str, submit: Callable[[], int]) -> int:
        """The child job recorded under ``key`` in this job's params, or a new one from
        ``submit()`` (which returns its id), recorded there before it is used: a handler that
        runs again after a crash or a wait finds its children instead of duplicating them."""
        with self.project.db.session() as session:
            known = _children(session, self.job_id).get(key)
        if known is not None:
            return int(known)
        job_id = submit()
        with self.project.db.session() as session:
            params = dict(session.scalar(select(Job.params).where(Job.id == self.job_id)) or {})
            params["children"] = {**(params.get("children") or {}), key: job_id}
            session.execute(update(Job).where(Job.id == self.job_id).values(params=params))
        self.params["children"] = params["children"]
        return job_id

    def wait_for(self, job_ids: list[int]) -> dict[int, Job]:
        """The rows of ``job_ids`` once every one has finished; until then this raises
        ``WaitingForJobs`` (the worker requeues the chunk and runs it again later)."""
        self.check_cancelled()
        with self.project.db.session() as session:
            jobs = {j.id: j for j in session.scalars(select(Job).where(Job.id.in_(job_ids)))}
        missing = set(job_ids) - set(jobs)
        if missing:
            raise NotFound(f"child job(s) {sorted(missing)} of job {self.job_id} are gone")
        waiting = [i for i in job_ids if jobs[i].state not in TERMINAL]
        if waiting:
            raise WaitingForJobs(waiting)
        return jobs

    def check_cancelled(self) -> None:
        """Stop the handler if the job was cancelled or the chunk taken over; call it often."""
        if self.cancelled.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")
        if self.lost.is_set():
            raise ChunkLost(f"chunk {self.chunk_id} was reclaimed by another worker")


ChunkHandler = Callable[[ChunkContext], ChunkOutcome]
Finaliser = Callable[[Project, int], dict[str, Any] | None]


def _children(session: Session, job_id: int) -> dict[str, int]:
    params = session.scalar(select(Job.params).where(Job.id == job_id)) or {}
    return dict(params.get("children") or {})


def stored_result(project: Project, job_id: int) -> dict[str, Any] | None:
    """The finaliser of kinds whose chunk writes the job's result itself: finishing a job
    stores what the finaliser returns, so it hands back what is there."""
    with project.db.session() as session:
        return session.scalar(select(Job.result).where(Job.id == job_id))


@dataclass(frozen=True)
class JobKind:
    """A kind of job: ``run_chunk`` must be idempotent (a chunk may run again after a crash).

    A ``background`` kind's chunks are claimed only when no other kind's chunk is queued
    (a shadow run never delays the champion's predictions or a training)."""

    name: str
    run_chunk: ChunkHandler
    finalize: Finaliser | None = None
    max_attempts: int = 3
    background: bool = False


_registered: dict[str, JobKind] = {}
_lock = threading.Lock()


def register_kind(kind: JobKind) -> None:
    """Make ``kind`` available to workers in this process (replaces one of the same name)."""
    with _lock:
        _registered[kind.name] = kind


def get_kind(name: str) -> JobKind:
    """The kind registered under ``name``; ``NotFound`` when this process does not know it."""
    with _lock:
        kind = _registered.get(name)
    if kind is None:
        raise NotFound(f"unknown job kind {name!r}; known kinds: {', '.join(known_kinds())}")
    return kind


def known_kinds() -> list[str]:
    with _lock:
        return sorted(_registered)


def background_kinds() -> list[str]:
    """The registered kinds claimed last (see ``JobKind.background``)."""
    with _lock:
        return sorted(name for name, kind in _registered.items() if kind.background)
