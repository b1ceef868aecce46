"""Executors: who runs the chunks of a job, chosen by ``jobs.executor`` in wildloop.toml.

``local`` runs them in threads of this process (the embedded default); ``celery`` hands them
to a broker's workers on any number of machines. Both share the job rows and claims, so a
job submitted under one can be finished under the other.
"""

from __future__ import annotations

from typing import Any, Protocol

from wildloop.jobs.celery_executor import CeleryExecutor
from wildloop.jobs.local import LocalExecutor, StatusCallback
from wildloop.project import Project


class Executor(Protocol):
    def start(self) -> None:
        """Run (or dispatch) every queued job in the background until ``stop``."""

    def stop(self) -> None: ...

    def run_job(self, job_id: int, progress: StatusCallback | None = None) -> dict[str, Any]:
        """Drive one job (and its children) to a final state; returns its status."""


_EXECUTORS: dict[str, type[LocalExecutor] | type[CeleryExecutor]] = {
    "local": LocalExecutor,
    "celery": CeleryExecutor,
}


def executor_for(
    project: Project, *, workers: int | None = None, lanes: tuple[str, ...] = ()
) -> Executor:
    """The configured executor; ``workers`` (default ``jobs.local_workers``) and ``lanes``
    size the local one's threads."""
    jobs = project.config.jobs
    build = _EXECUTORS[jobs.executor]
    return build(project, workers=jobs.local_workers if workers is None else workers, lanes=lanes)


def run_job(
    project: Project,
    job_id: int,
    *,
    workers: int | None = None,
    progress: StatusCallback | None = None,
) -> dict[str, Any]:
    """Run ``job_id`` to a final state with the configured executor."""
    return executor_for(project, workers=workers).run_job(job_id, progress)
