"""The embedded executor: workers as threads of this process (the default, no broker).

``run_job`` drives one job to a final state and calls ``progress`` with its status while
it runs (the CLI draws a progress bar from it); ``LocalExecutor`` runs jobs in the
background for the web app. Separate ``wildloop worker`` processes can take chunks of the
same jobs at the same time: both claim through the same conditional UPDATEs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from wildloop.jobs import claims
from wildloop.jobs.records import TERMINAL, job_status
from wildloop.jobs.worker import WorkerSettings, run_worker, settings_for
from wildloop.project import Project

StatusCallback = Callable[[dict[str, Any]], None]


def run_job(
    project: Project,
    job_id: int,
    *,
    workers: int = 1,
    progress: StatusCallback | None = None,
    settings: WorkerSettings | None = None,
    poll_seconds: float = 0.5,
) -> dict[str, Any]:
    """Run ``job_id`` (and the child jobs it submits) in this process until it is
    finished; returns its final status.

    If another process holds some of its chunks, this waits for them (and takes them over
    once their heartbeat goes stale).
    """
    settings = settings or settings_for(project)
    stop = threading.Event()
    scope = {job_id}  # shared by the threads; grows by the children the job submits
    threads = [
        threading.Thread(
            target=run_worker,
            kwargs={
                "project": project,
                "worker": claims.worker_name(f"local{i}"),
                "job_ids": scope,
                "settings": settings,
                "stop": stop,
                "exit_when_idle": False,
            },
            name=f"wildloop-worker-{i}",
            daemon=True,
        )
        for i in range(max(1, workers))
    ]
    for thread in threads:
        thread.start()
    try:
        while True:
            with project.db.session() as session:
                status = job_status(session, job_id)
            if progress:
                progress(status)
            if status["state"] in TERMINAL:
                return status
            stop.wait(poll_seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join()


class LocalExecutor:
    """Background threads that run every queued job of a project (the web app's executor).

    ``workers`` threads take any job, oldest first. Each kind in ``lanes`` also gets a thread
    of its own that takes only that kind, so short interactive jobs (a comparison a page is
    waiting for) never queue behind a training that runs for hours.
    """

    def __init__(self, project: Project, workers: int = 1, lanes: tuple[str, ...] = ()) -> None:
        self.project = project
        self.workers = workers
        self.lanes = lanes
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        plan: list[tuple[str, list[str] | None]] = [(f"pool{i}", None) for i in range(self.workers)]
        plan += [(f"lane-{kind}", [kind]) for kind in self.lanes]
        for tag, kinds in plan:
            thread = threading.Thread(
                target=run_worker,
                kwargs={
                    "project": self.project,
                    "worker": claims.worker_name(tag),
                    "kinds": kinds,
                    "stop": self._stop,
                    "exit_when_idle": False,
                },
                name=f"wildloop-{tag}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def run_job(self, job_id: int, progress: StatusCallback | None = None) -> dict[str, Any]:
        """Run ``job_id`` in this process with ``workers`` threads (see :func:`run_job`)."""
        return run_job(self.project, job_id, workers=self.workers, progress=progress)

    def stop(self) -> None:
        """Stop taking chunks; a running chunk is handed back to the queue."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()
