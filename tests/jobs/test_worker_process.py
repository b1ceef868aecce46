"""Real `wildloop worker` processes: SIGKILL mid-job then resume; a live champion switch."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

import wildloop
from tests.support.engine import good_media, ingest_dir, register, sets_per_media
from wildloop.jobs.records import job_status
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import JobChunk
from wildloop.synthetic.scenes import Frame

SRC = str(Path(wildloop.__file__).resolve().parents[1])


def _worker(project: Project, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": SRC, "YOLO_OFFLINE": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "wildloop", "worker", "--project", str(project.root), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _small_chunks(project: Project) -> None:
    project.config.inference.chunk_size = 6
    project.config.inference.batch_size = 3
    project.config.jobs.heartbeat_seconds = 0.3
    project.save_config()


def _wait(project: Project, job_id: int, until: Callable[[dict], bool], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with project.db.session() as session:
            status = job_status(session, job_id)
        if until(status):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not get there in {timeout}s: {status}")


def test_sigkilled_worker_resumes_with_no_duplicates_and_no_gaps(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=14, seed=3)
    ingest_dir(project, tmp_path / "scenes")
    _small_chunks(project)
    version = register(project, untrained_pt, "v1", imgsz=320, promote=True)
    submitted = submit_process(project)
    media = good_media(project)
    assert submitted.items == len(media) >= 50

    first = _worker(project, "--job", str(submitted.job_id), "--exit-when-idle")
    _wait(project, submitted.job_id, lambda s: s["progress"]["done"] >= 6, 60)
    time.sleep(random.uniform(0.0, 0.3))  # any instant: between, during or inside a write
    first.send_signal(signal.SIGKILL)
    first.wait()
    with project.db.session() as session:
        at_kill = job_status(session, submitted.job_id)
        running = session.scalars(
            select(JobChunk.claimed_by).where(JobChunk.state == "running")
        ).all()
    assert at_kill["state"] == "running", "the worker finished before it was killed"
    assert at_kill["progress"]["done"] < len(media)
    # Killed inside a chunk, its claim is left behind; killed between chunks, none is.
    assert running in ([], [f"{_host()}:{first.pid}"])

    second = _worker(project, "--job", str(submitted.job_id), "--exit-when-idle")
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out.decode()
    with project.db.session() as session:
        final = job_status(session, submitted.job_id)
    assert final["state"] == "succeeded"
    # Started once; +1 only when a dead worker's chunk had to be resumed (killed inside one).
    assert final["attempts"] == (2 if running else 1)
    counts = sets_per_media(project, version.id)
    assert set(counts) == media  # no gaps
    assert set(counts.values()) == {1}  # no duplicates
    assert final["progress"]["done"] == len(media)


def test_running_worker_picks_up_a_new_champion_without_restart(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=2, seed=5)
    ingest_dir(project, tmp_path / "scenes")
    v1 = register(project, untrained_pt, "v1", imgsz=160, promote=True)
    v2 = register(project, untrained_pt, "v2", imgsz=192, promote=False)
    worker = _worker(project, "--heartbeat", "0.3")
    try:
        first = submit_process(project)
        _wait(project, first.job_id, lambda s: s["state"] == "succeeded", 60)
        with project.db.session() as session:
            aliases.promote(session, v2.id, None, reason="better")
        second = submit_process(project)
        status = _wait(project, second.job_id, lambda s: s["state"] == "succeeded", 60)
    finally:
        worker.send_signal(signal.SIGTERM)
        out, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, out.decode()
    assert status["params"]["model_name"] == "v2"
    media = good_media(project)
    assert set(sets_per_media(project, v1.id)) == media
    assert set(sets_per_media(project, v2.id)) == media


def _host() -> str:
    import socket

    return socket.gethostname()


pytestmark = pytest.mark.timeout(300)
