"""Real Celery workers for tests: brokers checked before use, worker processes started in
their own process group (so one SIGKILL takes a whole worker), and "another machine": a
project folder of its own that shares only the database, the broker and the artifact store.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import wildloop
from wildloop.config import save_config
from wildloop.jobs.celery_executor import Dispatcher
from wildloop.jobs.records import job_status
from wildloop.project import Project

SRC = str(Path(wildloop.__file__).resolve().parents[1])
BROKERS = {
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/{db}"),
    "amqp": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672//"),
}


def is_up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` (observable state, not a sleep) until it holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout}s")


def broker_url(name: str) -> str:
    """The shared broker's URL (a Redis db of this process's own), or a skip with the reason."""
    host, port, url = BROKERS[name]
    if not is_up(host, port):
        pytest.skip(f"{name} broker not reachable at {host}:{port} (start it; see .ci/run)")
    pytest.importorskip("celery", reason="the scale extra (celery) is not installed")
    return url.format(db=(os.getpid() % 14) + 1)


def use_celery(project: Project, broker: str) -> None:
    """Fast heartbeats and small chunks, so faults show within seconds."""
    jobs = project.config.jobs
    jobs.executor, jobs.broker_url = "celery", broker
    jobs.heartbeat_seconds, jobs.stale_after_seconds = 0.3, 3.0
    jobs.resend_after_seconds = 4.0
    project.config.inference.chunk_size = 6
    project.config.inference.batch_size = 3
    project.save_config()


def machine(project: Project, root: Path, **storage: Any) -> Path:
    """Another machine's project folder: the server's settings and database, and its own
    ``storage`` settings (cache_dir, media_roots); returns the folder."""
    config = project.config.model_copy(deep=True)
    config.database.url = project.config.database_url(project.root)
    for key, value in storage.items():
        setattr(config.storage, key, value)
    root.mkdir(parents=True, exist_ok=True)
    save_config(root, config)
    return root


def start_worker(
    root: Path,
    started: list[subprocess.Popen[bytes]],
    *,
    queues: str = "infer-cpu",
    pool: str = "threads",
    env: dict[str, str] | None = None,
    log: Path | None = None,
) -> int:
    """``wildloop worker --celery`` on the project at ``root``; returns its pid."""
    out = log.open("wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wildloop",
            "worker",
            "--celery",
            "--queues",
            queues,
            "--pool",
            pool,
            "--project",
            str(root),
        ],
        env={**os.environ, "PYTHONPATH": SRC, "YOLO_OFFLINE": "1", **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a SIGKILL takes the whole worker
    )
    started.append(proc)
    return proc.pid


def drive(
    project: Project,
    dispatcher: Dispatcher,
    job_id: int,
    until: Callable[[dict[str, Any]], bool],
    timeout: float,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Dispatch (as `wildloop serve` does) until ``until(status)``; each status goes to
    ``seen`` when given."""
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        dispatcher.tick()
        with project.db.session() as session:
            status = job_status(session, job_id)
        if seen is not None:
            seen.append(status)
        if until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout}s: {status}")
