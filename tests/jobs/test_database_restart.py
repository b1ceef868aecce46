"""The database restarted mid-job: a worker process waits for it, reconnects and goes on.

The test runs on a private PostgreSQL (tests/support/private_services.py), never the shared
one. The database stays down until the worker has observably hit the outage (its log says
so), so the reconnect path is exercised whatever the timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.celery import SRC, wait_until
from tests.support.engine import reprocess_job, sets_per_media
from tests.support.private_services import PrivatePostgres
from wildloop.jobs.records import job_status
from wildloop.project import Project
from wildloop.synthetic.scenes import Frame

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _status(project: Project, job_id: int) -> dict:
    with project.db.session() as session:
        return job_status(session, job_id)


def test_a_worker_reconnects_after_the_database_restarts_mid_job(
    private_pg: PrivatePostgres,
    pg_project: Project,
    scenes: Callable[..., list[Frame]],
    untrained_pt: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    project = pg_project
    project.config.inference.chunk_size = 6
    project.config.inference.batch_size = 3
    project.save_config()
    job_id, media, version_id = reprocess_job(
        project, scenes, untrained_pt, tmp_path / "scenes", bursts=12
    )
    log = tmp_path / "worker.log"
    processes.append(
        subprocess.Popen(
            [
                *(sys.executable, "-m", "wildloop", "worker", "--heartbeat", "0.3"),
                *("--stale-after", "30", "--project", str(project.root)),
            ],
            env={**os.environ, "PYTHONPATH": SRC, "YOLO_OFFLINE": "1"},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    wait_until(lambda: _status(project, job_id)["progress"]["done"] >= 6, 120, "a chunk")
    before = _status(project, job_id)
    assert before["progress"]["done"] < len(media), "restart while the job still runs"

    project.db.dispose()
    private_pg.stop()
    try:
        wait_until(lambda: b"database unreachable" in log.read_bytes(), 60, "the worker saw it")
    finally:
        private_pg.start()

    wait_until(lambda: _status(project, job_id)["finished_at"] is not None, 180, "the end")
    final = _status(project, job_id)
    assert final["state"] == "succeeded", final["error"]
    counts = sets_per_media(project, version_id)
    assert set(counts) == media  # no gaps
    assert set(counts.values()) == {1}  # no duplicates
    assert final["progress"]["done"] == final["progress"]["total"] == len(media)
    assert final["progress"]["done"] >= before["progress"]["done"]
