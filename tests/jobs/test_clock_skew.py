"""A worker whose clock is an hour behind: its chunks are not judged dead while it runs.

Staleness compares a heartbeat written by one machine with "now" on another; both come from
the database server's clock (``store.types.database_now``), so a worker's clock takes no
part. The worker here runs under libfaketime (its wall clock an hour behind; monotonic
clocks untouched), the dispatcher in this process with the true clock reclaims stale chunks
every tick, and the database is PostgreSQL of the test's own: SQLite lives inside one
machine's processes, where there is only one clock.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.celery import broker_url, drive, start_worker, use_celery
from tests.support.engine import reprocess_job, sets_per_media
from wildloop.jobs.celery_executor import Dispatcher, make_app
from wildloop.project import Project
from wildloop.store.tables import JobChunk
from wildloop.synthetic.scenes import Frame

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")


def test_a_worker_an_hour_behind_keeps_its_chunks(
    pg_project: Project,
    scenes: Callable[..., list[Frame]],
    untrained_pt: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    if not FAKETIME.is_file():
        pytest.skip(f"libfaketime not installed ({FAKETIME}; apt-get install faketime)")
    project = pg_project
    use_celery(project, broker_url("redis"))
    # Stale after 30 s: ample for a loaded machine, and an hour of skew is far beyond.
    project.config.jobs.stale_after_seconds = 30.0
    project.save_config()
    job_id, media, version_id = reprocess_job(project, scenes, untrained_pt, tmp_path / "scenes")
    app = make_app(project.config)
    app.control.purge()
    behind = {"LD_PRELOAD": str(FAKETIME), "FAKETIME": "-1h", "DONT_FAKE_MONOTONIC": "1"}
    start_worker(project.root, processes, env=behind)

    final = drive(project, Dispatcher(project, app), job_id, lambda s: s["finished_at"], 180)
    assert final["state"] == "succeeded", final["error"]
    assert final["attempts"] == 1, f"a chunk was taken from the live worker: {final}"
    with project.db.session() as session:
        chunks = select(JobChunk.attempts).where(JobChunk.job_id == job_id)
        assert set(session.scalars(chunks)) == {1}
    counts = sets_per_media(project, version_id)
    assert set(counts) == media and set(counts.values()) == {1}
