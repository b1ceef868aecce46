"""Job kinds: what runs for each chunk of a job, and how a handler reports back.

A kind is a name plus a chunk handler and an optional finaliser (which computes the job's
stored result once every chunk is done). Kinds are found by name when a worker needs them:
either registered at run time with :func:`register_kind`, or listed in ``BUILTIN`` as
``"module:attribute"`` and imported on first use, so importing wildloop registers nothing
and a separate worker process finds the same kinds.

A training job is a kind like any other: submit it with one chunk, call
``ctx.set_total(epochs)`` and ``ctx.progress(epoch, message=...)`` from the handler, and
return the result from ``finalize``.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import select

from wildloop.errors import NotFound
from wildloop.project import Project
from wildloop.store.tables import Job

# name -> "module:attribute" of a JobKind, imported when first needed.
BUILTIN: dict[str, str] = {
    "predict": "wildloop.processing.predict_job:PREDICT_KIND",
    "train": "wildloop.training.job:TRAIN_KIND",
    "loop": "wildloop.training.loop_job:LOOP_KIND",
    "compare": "wildloop.evaluation.compare_job:COMPARE_KIND",
    "audio-embed": "wildloop.audio.embed_job:EMBED_KIND",
    "audio-index": "wildloop.audio.search:INDEX_KIND",
}


class JobCancelled(Exception):
    """Raised inside a handler (by ``ctx.check_cancelled``) when the job was cancelled."""


class ChunkLost(Exception):
    """Raised inside a handler when another worker reclaimed this chunk."""


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

    def check_cancelled(self) -> None:
        """Stop the handler if the job was cancelled or the chunk taken over; call it often."""
        if self.cancelled.is_set():
            raise JobCancelled(f"job {self.job_id} was cancelled")
        if self.lost.is_set():
            raise ChunkLost(f"chunk {self.chunk_id} was reclaimed by another worker")


ChunkHandler = Callable[[ChunkContext], ChunkOutcome]
Finaliser = Callable[[Project, int], dict[str, Any] | None]


def stored_result(project: Project, job_id: int) -> dict[str, Any] | None:
    """The finaliser of kinds whose chunk writes the job's result itself: finishing a job
    stores what the finaliser returns, so it hands back what is there."""
    with project.db.session() as session:
        return session.scalar(select(Job.result).where(Job.id == job_id))


@dataclass(frozen=True)
class JobKind:
    """A kind of job: ``run_chunk`` must be idempotent (a chunk may run again after a crash)."""

    name: str
    run_chunk: ChunkHandler
    finalize: Finaliser | None = None
    max_attempts: int = 3


_registered: dict[str, JobKind] = {}
_lock = threading.Lock()


def register_kind(kind: JobKind) -> None:
    """Make ``kind`` available to workers in this process (replaces one of the same name)."""
    with _lock:
        _registered[kind.name] = kind


def get_kind(name: str) -> JobKind:
    with _lock:
        kind = _registered.get(name)
    if kind is not None:
        return kind
    target = BUILTIN.get(name)
    if target is None:
        raise NotFound(f"unknown job kind {name!r}; known kinds: {', '.join(known_kinds())}")
    module_name, attribute = target.split(":")
    kind = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(kind, JobKind):
        raise TypeError(f"{target} is not a JobKind")
    register_kind(kind)
    return kind


def known_kinds() -> list[str]:
    with _lock:
        return sorted(set(_registered) | set(BUILTIN))
