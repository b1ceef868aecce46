"""The Celery executor's cost and scale-out on this machine, against the local executor.

1. Per-chunk overhead: a job of ``--chunks`` no-op chunks run by the local executor (one
   thread) and by one Celery worker (threads pool of 1, in this process, real broker; the solo
   pool on RabbitMQ waits seconds between late-acked messages, measured 4 s);
   the difference per chunk is what the broker round trip, the claim by id and the
   dispatcher cost.
2. Scale-out: the same real reprocess (random YOLOv8n-sized weights, imgsz 640, the shared
   camtrap photos replicated to ``--count`` files) by one and by two ``wildloop worker
   --celery`` processes; prints img/s and the ratio, and the workers a 10-million-images-an-
   hour reprocess needs at the measured per-process rate.

Usage: python bench/celery_scaleout.py [--broker redis://127.0.0.1:6379/15] [--count 96]
Needs the scale extra (celery) and a running broker; PostgreSQL with --db URL.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from celery.contrib.testing.worker import start_worker

from reprocess_throughput import SAMPLES, replicate
from wildloop.composition import register_job_kinds
from wildloop.inference.ultralytics_adapter import build_untrained
from wildloop.jobs.celery_executor import CeleryExecutor, use_project
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, register_kind
from wildloop.jobs.local import run_job
from wildloop.jobs.records import submit_job
from wildloop.media.ingest import ingest_paths
from wildloop.models.registration import register_model
from wildloop.processing import predict_job
from wildloop.project import Project
from wildloop.registry import aliases

CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
PER_HOUR = 10_000_000
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _noop(ctx: ChunkContext) -> ChunkOutcome:
    return ChunkOutcome(done=1)


def overhead(project: Project, chunks: int) -> tuple[float, float]:
    """ms per chunk: (local, celery)."""
    register_kind(JobKind("bench.noop", _noop))
    rates = []
    for executor in ("local", "celery"):
        with project.db.session() as session:
            job_id = submit_job(session, "bench.noop", {}, [{} for _ in range(chunks)])
        started = time.perf_counter()
        if executor == "local":
            status = run_job(project, job_id, workers=1, poll_seconds=0.02)
        else:
            celery = CeleryExecutor(project, poll_seconds=0.02)
            use_project(project)
            celery.app.control.purge()
            with start_worker(
                celery.app,
                pool="threads",
                concurrency=1,
                perform_ping_check=False,
                shutdown_timeout=30,
            ):
                started = time.perf_counter()  # the worker is up: count only the chunks
                status = celery.run_job(job_id)
        assert status["state"] == "succeeded", status
        rates.append(1000 * (time.perf_counter() - started) / chunks)
    return rates[0], rates[1]


def _workers(project: Project, n: int) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [
        subprocess.Popen(
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
            start_new_session=True,
        )
        for _ in range(n)
    ]
    app = CeleryExecutor(project).app
    for _ in range(120):
        if len(app.control.ping(timeout=0.5)) >= n:
            return procs
    raise RuntimeError(f"{n} Celery workers did not answer a ping in 60 s")


def reprocess_rate(project: Project, weights: Path, workers: int, tag: str) -> float:
    version = register_model(project, weights, f"bench-{tag}", imgsz=640)
    with project.db.session() as session:
        aliases.promote(session, version.id, None)
    procs = _workers(project, workers)
    try:
        submitted = predict_job.submit_reprocess(project, model=version.name, scope="all")
        started = time.perf_counter()
        status = CeleryExecutor(project, poll_seconds=0.1).run_job(submitted.job_id)
        seconds = time.perf_counter() - started
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    assert status["state"] == "succeeded", status
    return submitted.items / seconds


def main() -> None:
    register_job_kinds()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--db", default="", help="database URL (default: SQLite)")
    parser.add_argument("--chunks", type=int, default=200, help="no-op chunks (overhead)")
    parser.add_argument("--count", type=int, default=96, help="photos (scale-out)")
    parser.add_argument("--chunk-size", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wildloop-celery-bench-"))
    try:
        project = Project.init(work / "project", "bench", CLASSES, database_url=args.db)
        jobs = project.config.jobs
        jobs.executor, jobs.broker_url = "celery", args.broker
        project.config.inference.chunk_size = args.chunk_size
        project.save_config()
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start "
            f"(shared with other developers), broker {args.broker}, "
            f"db {project.db.engine.dialect.name}"
        )
        local_ms, celery_ms = overhead(project, args.chunks)
        print(
            f"per-chunk cost ({args.chunks} no-op chunks): local executor {local_ms:.1f} ms, "
            f"Celery executor {celery_ms:.1f} ms; overhead {celery_ms - local_ms:.1f} ms/chunk "
            f"({celery_ms / local_ms:.2f}x the local executor)"
        )
        files = replicate(SAMPLES, work / "images", args.count)
        ingest_paths(project, [work / "images"])
        weights = build_untrained(work / "yolov8n-random.pt", CLASSES, imgsz=640)
        one = reprocess_rate(project, weights, 1, "one")
        two = reprocess_rate(project, weights, 2, "two")
        print(
            f"reprocess of {len(files)} photos (imgsz 640, chunks of {args.chunk_size}): "
            f"1 worker process {one:.1f} img/s, 2 worker processes {two:.1f} img/s; "
            f"ratio {two / one:.2f}x"
        )
        need = PER_HOUR / 3600
        print(
            f"10M images/hour = {need:.0f} img/s: {math.ceil(need / one)} worker processes "
            f"at this machine's measured {one:.1f} img/s per process (all its cores)"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
