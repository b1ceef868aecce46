"""Review API latency on PostgreSQL while 0 and then 4 workers write predictions.

Builds an archive (bench/review_data.py: ``--media`` media with predictions) in a PostgreSQL
database of its own, then calls the review API through the app (in-process TestClient, real
HTTP handling, a real token) with no writer, and again while 4 writer processes store
prediction sets the way a reprocess chunk does (``processing.writer.write_results``: 256
items per transaction, insert-or-skip, each writer a new model version, as 4 workers each
reprocessing with a different model would). Prints p50/p95 per call type for both phases,
the ratio (the baseline is the phase without writers), and the writers' rate.

Writers run at ``--rate`` sets/s each (default 200: a 16-core CPU worker's pace, see
docs/scale-out.md; 0 = as fast as they can, the worst case). On a small machine the writers
also take CPU from the app; the CPU seconds printed beside the wall time say how much.

    python bench/pg_review_latency.py [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
        [--media 50000] [--requests 40] [--rate 200]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import random
import resource
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).parent))
import review_data
from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.processing.writer import write_results
from wildloop.project import Project
from wildloop.store.database import Database
from wildloop.store.tables import Media, ModelVersion
from wildloop.store.types import utcnow
from wildloop.users.roles import Actor, Role
from wildloop.users.tokens import create_token
from wildloop.web.app import create_app

RESULTS = Path(__file__).parent / "results"
PG_DB = "wildloop_bench_pglat"
WRITERS = 4
BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--media", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=40, help="calls per call type")
    parser.add_argument("--rate", type=float, default=200.0, help="sets/s per writer; 0 = max")
    args = parser.parse_args()
    project = build(args.pg_url, args.media)
    print(
        f"review API on PostgreSQL, {args.media:,} media; {args.requests} calls per type; "
        f"writers at {args.rate or 'max'} sets/s each; pool: SQLAlchemy QueuePool 5 + 10 "
        "overflow per process, pre-ping on"
    )
    try:
        quiet = measure(project, args.requests)
        ctx = mp.get_context("spawn")
        stop, written = ctx.Event(), ctx.Array("q", WRITERS)
        versions = new_versions(project, WRITERS)
        writers = [
            ctx.Process(
                target=write_forever,
                args=(project.db.url, v, args.media, args.rate, stop, written, i),
            )
            for i, v in enumerate(versions)
        ]
        for proc in writers:
            proc.start()
        while min(written[:]) == 0:  # every writer is writing before we measure
            time.sleep(0.1)
        start, before = time.monotonic(), sum(written[:])
        busy = measure(project, args.requests)
        rate = (sum(written[:]) - before) / (time.monotonic() - start)
        stop.set()
        for proc in writers:
            proc.join()
    finally:
        project.close()
    report(quiet, busy, rate)


def build(pg_url: str, media: int) -> Project:
    root = RESULTS / f"pglat-{media}"
    url = review_data.fresh_pg_database(pg_url, f"{PG_DB}_{media}")
    if root.exists():
        shutil.rmtree(root)
    project = Project.init(root, "bench", review_data.CLASSES, database_url=url)
    started = time.perf_counter()
    review_data.build(project.db.engine, media)
    print(f"built {media:,} media in {time.perf_counter() - started:.0f} s")
    return project


def new_versions(project: Project, n: int) -> list[int]:
    with project.db.session() as session:
        top = session.scalar(select(func.max(ModelVersion.id))) or 0
        rows = [
            {
                "id": top + i + 1,
                "name": f"writer-{i}",
                "task": "detect",
                "source": "registered",
                "classes": review_data.CLASSES,
                "class_ids": list(range(len(review_data.CLASSES))),
                "params": {},
                "metrics": {},
                "retired": False,
                "created_at": utcnow(),
            }
            for i in range(n)
        ]
        session.execute(insert(ModelVersion), rows)
        session.execute(
            text("SELECT setval('model_versions_id_seq', (SELECT max(id) FROM model_versions))")
        )
    return [r["id"] for r in rows]


def write_forever(
    url: str, version: int, media: int, rate: float, stop: Any, written: Any, slot: int
) -> None:
    """A worker's write path, round after round over the archive (later rounds skip)."""
    db = Database(url)
    rng = random.Random(slot)
    classes = review_data.CLASSES
    with db.session() as session:
        ids = list(session.scalars(select(Media.id).order_by(Media.id)))
    position = 0
    while not stop.is_set():
        began = time.monotonic()
        batch = ids[position : position + BATCH] or ids[:BATCH]
        position = (position + BATCH) % len(ids)
        results = [
            ItemResult(
                key=m,
                detections=tuple(
                    Detection(rng.randrange(len(classes)), rng.random(), 0.1, 0.1, 0.2, 0.2)
                    for _ in range(rng.randint(0, 4))
                ),
            )
            for m in batch
        ]
        with db.session() as session:
            write_results(session, version, classes, list(range(len(classes))), results)
        written[slot] += len(batch)
        if rate:
            time.sleep(max(0.0, len(batch) / rate - (time.monotonic() - began)))
    db.dispose()


def measure(project: Project, calls: int) -> dict[str, list[float]]:
    """Client-side ms per call type, through the app with a bearer token."""
    with project.db.session() as session:
        owner = Actor(id=1, username="bench", role=Role.REVIEWER)
        _, token = create_token(session, owner, f"bench-{time.time()}")
    rng = random.Random(3)
    with project.db.session() as session:
        media = session.scalar(select(func.max(Media.id))) or 1
    cases: list[tuple[str, Callable[[], str]]] = [
        ("grid: first page", lambda: "/api/v1/media"),
        ("grid: review queue (low score)", lambda: "/api/v1/media?reviewed=no&sort=score"),
        ("grid: class", lambda: f"/api/v1/media?class={rng.choice(review_data.CLASSES)}"),
        ("detail", lambda: f"/api/v1/media/{rng.randint(1, media)}"),
    ]
    times: dict[str, list[float]] = {}
    with TestClient(create_app(project, secret="bench")) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for name, make in cases:
            for _ in range(3):
                client.get(make())
            times[name] = []
            for _ in range(calls):
                began = time.perf_counter()
                response = client.get(make())
                times[name].append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(quiet: dict[str, list[float]], busy: dict[str, list[float]], rate: float) -> None:
    head = f"{'0 writers p50/p95 ms':>22s} {'4 writers p50/p95 ms':>22s} {'p95 x':>7s}"
    print(f"\n{'call':32s} {head}")
    for name in quiet:
        q, b = quiet[name], busy[name]
        print(
            f"{name:32s} {pct(q, 50):10.1f} {pct(q, 95):10.1f} {pct(b, 50):10.1f} "
            f"{pct(b, 95):10.1f} {pct(b, 95) / max(pct(q, 95), 0.01):7.2f}"
        )
    every_q = [t for ts in quiet.values() for t in ts]
    every_b = [t for ts in busy.values() for t in ts]
    print(
        f"{'all calls':32s} {pct(every_q, 50):10.1f} {pct(every_q, 95):10.1f} "
        f"{pct(every_b, 50):10.1f} {pct(every_b, 95):10.1f} "
        f"{pct(every_b, 95) / max(pct(every_q, 95), 0.01):7.2f}"
    )
    print(f"\nwriters stored {rate:,.0f} prediction sets/s together while the API was measured")
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"CPU s: this process {own.ru_utime + own.ru_stime:.1f}, "
        f"writers {kids.ru_utime + kids.ru_stime:.1f}"
    )


if __name__ == "__main__":
    main()
