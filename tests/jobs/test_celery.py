"""Real Celery workers (separate processes) on a real broker: a reprocess survives a worker
SIGKILLed mid-job and a broker restarted mid-job, with one prediction set per item and no gap.

Skips with the reason when a broker is down or cannot be started; a broker is only restarted
when it is this test's own (the shared ones serve other tests); every process started here
is killed (by its process group) when the test ends, pass or fail.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.celery import broker_url, drive, start_worker, use_celery
from tests.support.engine import reprocess_job, sets_per_media
from tests.support.private_services import PrivateRabbit, PrivateRedis
from wildloop.jobs.celery_executor import Dispatcher, make_app
from wildloop.jobs.records import held_chunks, job_status
from wildloop.project import Project
from wildloop.store.tables import JobChunk
from wildloop.synthetic.scenes import Frame

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _assert_complete(project: Project, job_id: int, media: set[int], version_id: int) -> dict:
    with project.db.session() as session:
        final = job_status(session, job_id)
    assert final["state"] == "succeeded", final
    counts = sets_per_media(project, version_id)
    assert set(counts) == media  # no gaps
    assert set(counts.values()) == {1}  # no duplicates
    assert final["progress"]["done"] == len(media)
    return final


@pytest.mark.parametrize("broker", ["redis", "amqp"])
def test_two_celery_workers_one_sigkilled_mid_job(
    broker: str,
    project: Project,
    scenes: Callable[..., list[Frame]],
    untrained_pt: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    use_celery(project, broker_url(broker))
    # 16 bursts (about 64 items): long enough that the fault lands while the job still runs,
    # however fast the worker is on the host (6 bursts once finished before the restart).
    job_id, media, version_id = reprocess_job(
        project, scenes, untrained_pt, tmp_path / "scenes", bursts=16
    )
    app = make_app(project.config)
    app.control.purge()  # nothing left over from an earlier run on this broker
    workers = [start_worker(project.root, processes), start_worker(project.root, processes)]
    dispatcher = Dispatcher(project, app)
    holders: list[int] = []

    def a_worker_holds_a_chunk(status: dict) -> bool:
        # Whichever worker takes a chunk first is the victim: the other may still be starting.
        with project.db.session() as session:
            held = [c["worker"] or "" for c in held_chunks(session)]
        holders[:] = [pid for pid in workers if any(f":{pid}:" in w for w in held)]
        return bool(holders)

    drive(project, dispatcher, job_id, a_worker_holds_a_chunk, 90)
    victim = holders[0]
    os.killpg(victim, signal.SIGKILL)
    with project.db.session() as session:
        at_kill = job_status(session, job_id)
    assert at_kill["state"] == "running"
    assert at_kill["progress"]["done"] < len(media)

    drive(project, dispatcher, job_id, lambda s: s["state"] != "running", 120)
    final = _assert_complete(project, job_id, media, version_id)
    assert final["attempts"] >= 2, "the killed worker's chunk was resumed"
    with project.db.session() as session:
        owners = set(session.scalars(select(JobChunk.claimed_by).where(JobChunk.job_id == job_id)))
    assert any(f":{victim}:" not in (o or "") for o in owners), "the survivor did the rest"


@pytest.fixture
def private_broker(request: pytest.FixtureRequest) -> Iterator[PrivateRedis | PrivateRabbit]:
    """A broker of this test's own (the shared ones serve other tests meanwhile)."""
    pytest.importorskip("celery", reason="the scale extra (celery) is not installed")
    broker = PrivateRedis() if request.param == "redis" else PrivateRabbit()
    yield broker
    broker.close()


@pytest.mark.parametrize("private_broker", ["redis", "amqp"], indirect=True)
def test_broker_restarted_mid_job(
    private_broker: PrivateRedis | PrivateRabbit,
    project: Project,
    scenes: Callable[..., list[Frame]],
    untrained_pt: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    use_celery(project, private_broker.url)
    # 16 bursts (about 64 items): long enough that the fault lands while the job still runs,
    # however fast the worker is on the host (6 bursts once finished before the restart).
    job_id, media, version_id = reprocess_job(
        project, scenes, untrained_pt, tmp_path / "scenes", bursts=16
    )
    app = make_app(project.config)
    start_worker(project.root, processes)
    dispatcher = Dispatcher(project, app)
    before = drive(project, dispatcher, job_id, lambda s: s["progress"]["done"] >= 6, 90)
    assert before["progress"]["done"] < len(media), "restart while the job still runs"

    # Redis forgets its messages (no persistence); RabbitMQ keeps the durable ones and
    # redelivers those its consumers had not acked. Either way the rows hold the work.
    private_broker.stop()
    private_broker.start()
    drive(project, dispatcher, job_id, lambda s: s["state"] != "running", 150)
    _assert_complete(project, job_id, media, version_id)
