"""Real Celery workers (separate processes) on a real broker: a reprocess survives a worker
SIGKILLed mid-job and a broker restarted mid-job, with one prediction set per item and no gap.

Skips with the reason when the broker is down; every process started here is killed (by its
process group) when the test ends, pass or fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

import wildloop
from tests.support.engine import good_media, ingest_dir, register, sets_per_media
from wildloop.jobs.celery_executor import Dispatcher, make_app
from wildloop.jobs.records import held_chunks, job_status
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.store.tables import JobChunk
from wildloop.synthetic.scenes import Frame

SRC = str(Path(wildloop.__file__).resolve().parents[1])
BROKERS = {
    "redis": ("127.0.0.1", 6379, "redis://127.0.0.1:6379/{db}"),
    "amqp": ("127.0.0.1", 5672, "amqp://guest:guest@127.0.0.1:5672//"),
}

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _up(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _broker_url(name: str) -> str:
    host, port, url = BROKERS[name]
    if not _up(host, port):
        pytest.skip(f"{name} broker not reachable at {host}:{port} (start it; see .ci/run)")
    pytest.importorskip("celery", reason="the scale extra (celery) is not installed")
    return url.format(db=(os.getpid() % 14) + 1)  # a Redis db of its own, not other users'


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _celery_project(project: Project, broker: str) -> None:
    jobs = project.config.jobs
    jobs.executor, jobs.broker_url = "celery", broker
    jobs.heartbeat_seconds, jobs.stale_after_seconds = 0.3, 3.0
    jobs.resend_after_seconds = 4.0
    project.config.inference.chunk_size = 6
    project.config.inference.batch_size = 3
    project.save_config()


def _start_worker(project: Project, started: list[subprocess.Popen[bytes]]) -> int:
    env = {**os.environ, "PYTHONPATH": SRC, "YOLO_OFFLINE": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wildloop",
            "worker",
            "--celery",
            "--queues",
            "infer-cpu",
            "--pool",
            "threads",
            "--project",
            str(project.root),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: a SIGKILL takes the whole worker
    )
    started.append(proc)
    return proc.pid


def _drive(
    project: Project,
    dispatcher: Dispatcher,
    job_id: int,
    until: Callable[[dict], bool],
    timeout: float,
) -> dict:
    """Dispatch (as `wildloop serve` does) until ``until(status)``."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        dispatcher.tick()
        with project.db.session() as session:
            status = job_status(session, job_id)
        if until(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not get there in {timeout}s: {status}")


def _reprocess_setup(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> tuple[int, set[int], int]:
    scenes(bursts=6, seed=3)
    ingest_dir(project, tmp_path / "scenes")
    version = register(project, untrained_pt, "v1", imgsz=160, promote=True)
    submitted = submit_process(project)
    media = good_media(project)
    assert submitted.items == len(media) >= 18
    return submitted.job_id, media, version.id


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
    _celery_project(project, _broker_url(broker))
    job_id, media, version_id = _reprocess_setup(project, scenes, untrained_pt, tmp_path)
    app = make_app(project.config)
    app.control.purge()  # nothing left over from an earlier run on this broker
    workers = [_start_worker(project, processes), _start_worker(project, processes)]
    dispatcher = Dispatcher(project, app)
    holders: list[int] = []

    def a_worker_holds_a_chunk(status: dict) -> bool:
        # Whichever worker takes a chunk first is the victim: the other may still be starting.
        with project.db.session() as session:
            held = [c["worker"] or "" for c in held_chunks(session)]
        holders[:] = [pid for pid in workers if any(f":{pid}:" in w for w in held)]
        return bool(holders)

    _drive(project, dispatcher, job_id, a_worker_holds_a_chunk, 90)
    victim = holders[0]
    os.killpg(victim, signal.SIGKILL)
    with project.db.session() as session:
        at_kill = job_status(session, job_id)
    assert at_kill["state"] == "running"
    assert at_kill["progress"]["done"] < len(media)

    _drive(project, dispatcher, job_id, lambda s: s["state"] != "running", 120)
    final = _assert_complete(project, job_id, media, version_id)
    assert final["attempts"] >= 2, "the killed worker's chunk was resumed"
    with project.db.session() as session:
        owners = set(session.scalars(select(JobChunk.claimed_by).where(JobChunk.job_id == job_id)))
    assert any(f":{victim}:" not in (o or "") for o in owners), "the survivor did the rest"


def test_redis_restarted_mid_job(
    project: Project,
    scenes: Callable[..., list[Frame]],
    untrained_pt: Path,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    url = _broker_url("redis")
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        pytest.skip("redis-server/redis-cli not installed: cannot restart the broker")
    _celery_project(project, url)
    job_id, media, version_id = _reprocess_setup(project, scenes, untrained_pt, tmp_path)
    app = make_app(project.config)
    app.control.purge()
    _start_worker(project, processes)
    dispatcher = Dispatcher(project, app)
    _drive(project, dispatcher, job_id, lambda s: s["progress"]["done"] >= 6, 90)

    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], check=False)
    subprocess.run(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        check=True,
    )
    for _ in range(50):
        if _up("127.0.0.1", 6379):
            break
        time.sleep(0.1)
    # Every message was in the restarted broker's memory; the rows still hold the work.
    _drive(project, dispatcher, job_id, lambda s: s["state"] != "running", 150)
    _assert_complete(project, job_id, media, version_id)
