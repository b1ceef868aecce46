"""SQLite bulk prediction write rate: wildloop's batched writer against one row per commit.

The seed system's reprocessing was bound by one database write per detection. This writes
``--items`` prediction sets with ``--boxes`` predictions each through
``processing.writer.write_results`` (insert-or-skip of sets with RETURNING, then one
executemany of predictions, ``--batch`` items per transaction) and, as the baseline in the
same script, a slice of the same rows inserted one per transaction the way the seed did.

Usage: python bench/sqlite_write_rate.py [--items 20000] [--boxes 5] [--batch 256]
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from wildloop.inference.pipeline import Detection, ItemResult
from wildloop.processing.writer import write_results
from wildloop.project import Project
from wildloop.store.tables import Media, ModelVersion, Prediction, PredictionSet
from wildloop.store.types import utcnow

CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--boxes", type=int, default=5, help="predictions per item")
    parser.add_argument("--batch", type=int, default=256, help="items per transaction")
    parser.add_argument("--baseline-items", type=int, default=1000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wildloop-sqlite-bench-"))
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _results(ids: list[int], boxes: int, rng: random.Random) -> list[ItemResult]:
    return [
        ItemResult(
            media_id,
            tuple(
                Detection(rng.randrange(len(CLASSES)), rng.random(), 0.1, 0.2, 0.3, 0.4)
                for _ in range(boxes)
            ),
        )
        for media_id in ids
    ]


def run(args: argparse.Namespace, work: Path) -> None:
    project = Project.init(work / "project", "bench", CLASSES)
    total = args.items + args.baseline_items
    with project.db.session() as session:
        now = utcnow()
        session.execute(
            insert(Media),
            [
                {"path": f"/x/{i}.jpg", "sha256": f"{i:064d}", "ingested_at": now}
                for i in range(total)
            ],
        )
        version = ModelVersion(name="bench", source="external", classes=CLASSES)
        session.add(version)
        session.flush()
        version_id = version.id
    class_ids = project.classes.ids_of(CLASSES)
    rng = random.Random(0)
    ids = list(range(1, args.items + 1))

    started = time.perf_counter()
    for i in range(0, len(ids), args.batch):
        batch = _results(ids[i : i + args.batch], args.boxes, rng)
        with project.db.session() as session:
            write_results(session, version_id, CLASSES, class_ids, batch)
    bulk_s = time.perf_counter() - started
    bulk_rows = args.items * (1 + args.boxes)

    # Baseline: the seed's pattern, one INSERT and one commit per row.
    base_ids = list(range(args.items + 1, total + 1))
    started = time.perf_counter()
    for result in _results(base_ids, args.boxes, rng):
        with project.db.session() as session:
            ps = PredictionSet(media_id=result.key, model_version_id=version_id, count=args.boxes)
            session.add(ps)
            session.flush()
            set_id = ps.id
        for d in result.detections:
            with project.db.session() as session:
                session.add(
                    Prediction(
                        prediction_set_id=set_id,
                        class_id=class_ids[d.class_index],
                        class_name=CLASSES[d.class_index],
                        score=d.score,
                        x=d.x,
                        y=d.y,
                        w=d.w,
                        h=d.h,
                    )
                )
    base_s = time.perf_counter() - started
    base_rows = args.baseline_items * (1 + args.boxes)

    bulk_rate, base_rate = bulk_rows / bulk_s, base_rows / base_s
    print(f"SQLite (WAL, synchronous=NORMAL) at {project.db.url}")
    print(
        f"bulk writer: {bulk_rows} rows ({args.items} sets x {1 + args.boxes}) in {bulk_s:.2f}s "
        f"= {bulk_rate:,.0f} rows/s = {args.items / bulk_s:,.0f} images/s of predictions"
    )
    print(
        f"baseline one row per commit: {base_rows} rows in {base_s:.2f}s = {base_rate:,.0f} rows/s"
    )
    print(f"ratio: {bulk_rate / base_rate:.1f}x")
    print(
        f"the writer could keep up with {args.items / bulk_s:,.0f} images/s at {args.boxes} "
        "boxes each: far above what the model stage produces on this machine"
    )
    project.close()


if __name__ == "__main__":
    main()
