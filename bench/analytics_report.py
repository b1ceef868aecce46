"""Analytics at a million media: the whole report (counts, diel, rates, occupancy) timed.

Builds a project whose database holds --media media rows (bulk executemany on SQLite, COPY on
PostgreSQL): 40 cameras at 20 sites over two years, bursts of 1-6 frames, --labelled of them
reviewed with an animal class, the rest unreviewed with a champion prediction set each (70%
with an animal). Then times ``activity_report`` from labels alone and from labels plus
predictions, and, as the baseline, the naive path: every labelled row loaded as an ORM object,
times as Python datetimes, events found with per-row datetime arithmetic. The machine is
shared with other engineers' work: figures vary run to run; the ratio is the point.
Target: < 1 s at 1,000,000 media.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text

sys.path.insert(0, str(Path(__file__).parent))
import review_data
from wildloop.analytics.report import AnalyticsQuery, Source, activity_report
from wildloop.project import Project
from wildloop.store.database import normalise_url
from wildloop.store.tables import Camera, Media

RESULTS = Path(__file__).parent / "results"
CLASSES = ["deer", "boar", "fox", "badger", "hare", "marten"]
CAMERAS = 40
NOW = "2026-01-01 00:00:00"
TARGET_S = 1.0
PG_DB = "wildloop_bench_analytics"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=int, default=1_000_000)
    parser.add_argument("--labelled", type=float, default=0.5, help="share reviewed, animal")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    project = open_archive(args)
    try:
        failed = measure(project, args.runs)
    finally:
        project.close()
    sys.exit(1 if failed else 0)


def open_archive(args: argparse.Namespace) -> Project:
    root = RESULTS / f"analytics-{args.db}-{args.media}-{args.labelled}"
    if args.reuse and (root / "wildloop.toml").exists():
        print(f"reusing {root}")
        return Project.open(root)
    if root.exists():
        shutil.rmtree(root)
    url = ""
    if args.db == "postgres":
        url = normalise_url(args.pg_url).rsplit("/", 1)[0] + f"/{PG_DB}"
        admin = create_engine(normalise_url(args.pg_url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
        admin.dispose()
    project = Project.init(root, "bench", CLASSES, database_url=url)
    start = time.perf_counter()
    build(project.db.engine, args.media, args.labelled)
    print(f"built {args.media:,} media in {time.perf_counter() - start:.0f} s ({args.db})")
    return project


def build(engine: Engine, media: int, labelled: float, seed: int = 11) -> None:
    rng = random.Random(seed)
    write = review_data._writer(engine)
    write(
        "users",
        ["id", "username", "role", "disabled", "created_at"],
        [(1, "b", "admin", False, NOW)],
    )
    write(
        "cameras",
        ["id", "name", "location", "clock_offset_seconds", "created_at"],
        [(i + 1, f"cam{i + 1:02d}", f"site{i // 2 + 1:02d}", 0, NOW) for i in range(CAMERAS)],
    )
    write(
        "model_versions",
        ["id", "name", "task", "source", "classes", "params", "metrics", "retired", "created_at"],
        [(1, "bench-v1", "detect", "registered", '["deer"]', "{}", "{}", False, NOW)],
    )
    write("model_aliases", ["alias", "model_version_id", "updated_at"], [("champion", 1, NOW)])
    columns = ["id", "path", "sha256", "kind", "status", "captured_at", "camera_id", "split"]
    columns += ["ingested_at", "label_revision", "reviewed", "label_class_id"]
    pset_columns = ["id", "media_id", "model_version_id", "status", "top_class_id", "top_score"]
    pset_columns += ["count", "created_at"]
    per_camera = media // CAMERAS
    media_id = 0
    for cam in range(1, CAMERAS + 1):
        rows: list[tuple[Any, ...]] = []
        psets: list[tuple[Any, ...]] = []
        clock = datetime(2024, 1, 1) + timedelta(hours=cam)
        n = per_camera if cam < CAMERAS else media - media_id
        while len(rows) < n:
            clock += timedelta(minutes=rng.randint(5, 120))
            cls = rng.randrange(len(CLASSES))
            reviewed = rng.random() < labelled
            for frame in range(min(rng.randint(1, 6), n - len(rows))):
                media_id += 1
                when = clock + timedelta(seconds=2 * frame)
                path, sha = f"/a/{cam}/{media_id}.jpg", f"{media_id:064x}"
                label = cls if reviewed else None
                rows.append(
                    (
                        media_id,
                        path,
                        sha,
                        "image",
                        "ok",
                        when,
                        cam,
                        "train",
                        NOW,
                        int(reviewed),
                        reviewed,
                        label,
                    )
                )
                if not reviewed:
                    animal = rng.random() < 0.7
                    score = round(rng.random(), 3) if animal else None
                    top = cls if animal else None
                    psets.append((media_id, media_id, 1, "ok", top, score, int(animal), NOW))
        write("media", columns, rows)
        write("prediction_sets", pset_columns, psets)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


def measure(project: Project, runs: int) -> bool:
    db = project.db.engine.dialect.name
    with project.db.session() as session:
        labelled = session.scalar(
            select(text("count(*)")).select_from(Media).where(Media.label_class_id.is_not(None))
        )
        total = session.scalar(select(text("count(*)")).select_from(Media))
    print(f"[{db}] {total:,} media, {labelled:,} labelled with an animal class")
    figures = {}
    for source in (Source.LABELS, Source.LABELS_AND_PREDICTIONS):
        times, cpu = [], []
        for _ in range(runs):
            start, start_cpu = time.perf_counter(), time.process_time()
            with project.db.session() as session:
                report = activity_report(
                    session,
                    project.classes,
                    project.config.thresholds,
                    AnalyticsQuery(source=source),
                )
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        figures[source] = statistics.median(times)
        print(
            f"[{db}] report from {source:20s} wall median {figures[source]:.3f} s "
            f"(min {min(times):.3f}), CPU median {statistics.median(cpu):.3f} s over {runs} "
            f"runs: {report.media:,} photos ({report.media_predicted:,} predicted), "
            f"{report.events:,} events"
        )
    start, start_cpu = time.perf_counter(), time.process_time()
    events = naive_events(project)
    naive = time.perf_counter() - start
    naive_cpu = time.process_time() - start_cpu
    print(
        f"[{db}] baseline: naive per-row ORM + datetime path (events only) wall {naive:.3f} s, "
        f"CPU {naive_cpu:.3f} s ({events:,} events)"
    )
    ours = figures[Source.LABELS]
    print(f"[{db}] labels report is {naive / ours:.1f}x faster than the baseline")
    verdict = "met" if ours < TARGET_S else "MISSED"
    print(f"[{db}] target < {TARGET_S:.0f} s wall from labels: {verdict} (shared, loaded machine)")
    return ours >= TARGET_S


def naive_events(project: Project) -> int:
    """What a first version would do: ORM objects, Python datetimes, a dict of lists."""
    with project.db.session() as session:
        items = session.scalars(
            select(Media).where(Media.label_class_id.is_not(None), Media.status == "ok")
        ).all()
        cameras = {c.id: c for c in session.scalars(select(Camera))}
    series: dict[tuple[str, int], list[datetime]] = defaultdict(list)
    for m in items:
        if m.captured_at and m.camera_id:
            series[(cameras[m.camera_id].name, m.label_class_id or 0)].append(m.captured_at)
    events = 0
    for times in series.values():
        times.sort()
        last = None
        for t in times:
            if last is None or t - last > timedelta(minutes=30):
                events += 1
            last = t
    return events


if __name__ == "__main__":
    main()
