"""Analytics at a million media: the whole report (counts, diel, rates, occupancy) timed.

Builds a project whose database holds --media media rows (bulk executemany on SQLite, COPY on
PostgreSQL): 40 cameras at 20 sites over two years, bursts of 1-6 frames, --labelled of them
reviewed with an animal class (a label revision with 1-3 boxes of it, and in one photo in ten
a box of a second species too), the rest unreviewed with a champion prediction set each (70%
with an animal). The maintained sums are filled by ``tallies.maintained.rebuild`` (timed).

Then times, in the same run:
- the report as served (labels, default query): read from the maintained sums;
- the report before this change: every labelled photo read from the covering index
  ``ix_media_labelled_camera_time`` (main class only) and grouped into events per request;
- the exact fallbacks: a non-default interval (grouped from ``analytics_detections``), the
  exact path from the labels themselves, per event (sequences), and labels+predictions;
- the cost a save pays to keep the sums (save_labels on labelled photos, committed);
- as the baseline, the naive path: every labelled row loaded as an ORM object, times as
  Python datetimes, events found with per-row datetime arithmetic.
The machine is shared with other engineers' work: figures vary run to run; the load average
is printed with each. Target: < 1 s at 1,000,000 media for the report as served.
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
from wildloop.analytics.detections import camera_spans, individual_sightings
from wildloop.analytics.report import (
    AnalyticsQuery,
    Per,
    Source,
    activity_report,
    build_report,
    tally,
)
from wildloop.domain.activity import independent_events
from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store import hints
from wildloop.store.database import normalise_url
from wildloop.store.epoch import epoch_seconds
from wildloop.store.raw_read import raw_rows
from wildloop.store.tables import Camera, Media
from wildloop.tallies import maintained

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
    start = time.perf_counter()
    with project.db.session() as session:
        stored = maintained.rebuild(session)
    print(
        f"rebuilt the maintained sums from {stored:,} detections in "
        f"{time.perf_counter() - start:.1f} s (one-off: `wildloop analytics rebuild`) {_load()}"
    )
    return project


def _load() -> str:
    return "[load " + " ".join(Path("/proc/loadavg").read_text().split()[:3]) + "]"


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
    columns += ["ingested_at", "label_revision", "reviewed", "label_class_id", "sequence_id"]
    sequence_columns = ["id", "camera_id", "key", "started_at", "ended_at", "split"]
    pset_columns = ["id", "media_id", "model_version_id", "status", "top_class_id", "top_score"]
    pset_columns += ["count", "created_at"]
    revision_columns = ["id", "media_id", "revision", "author_id", "created_at", "empty"]
    revision_columns += ["source", "content_hash"]
    box_columns = ["id", "revision_id", "class_id", "x", "y", "w", "h", "missed"]
    box_columns += ["false_positive"]
    per_camera = media // CAMERAS
    media_id = 0
    box_id = 0
    for cam in range(1, CAMERAS + 1):
        rows: list[tuple[Any, ...]] = []
        psets: list[tuple[Any, ...]] = []
        revisions: list[tuple[Any, ...]] = []
        boxes: list[tuple[Any, ...]] = []
        sequences: list[tuple[Any, ...]] = []
        clock = datetime(2024, 1, 1) + timedelta(hours=cam)
        n = per_camera if cam < CAMERAS else media - media_id
        while len(rows) < n:
            clock += timedelta(minutes=rng.randint(5, 120))
            cls = rng.randrange(len(CLASSES))
            reviewed = rng.random() < labelled
            frames = min(rng.randint(1, 6), n - len(rows))
            sequence = media_id + 1  # a burst is a sequence, numbered by its first frame
            end = clock + timedelta(seconds=2 * (frames - 1))
            sequences.append((sequence, cam, f"b{sequence}", clock, end, "train"))
            for frame in range(frames):
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
                        sequence,
                    )
                )
                if reviewed:
                    revisions.append((media_id, media_id, 1, 1, NOW, False, "review", "x"))
                    classes = [cls] * rng.randint(1, 3)
                    if rng.random() < 0.1:
                        classes.append((cls + 1 + rng.randrange(len(CLASSES) - 1)) % len(CLASSES))
                    for i, c in enumerate(classes):
                        box_id += 1
                        x = 0.05 + 0.2 * i
                        boxes.append((box_id, media_id, c, x, 0.1, 0.1, 0.1, False, False))
                else:
                    animal = rng.random() < 0.7
                    score = round(rng.random(), 3) if animal else None
                    top = cls if animal else None
                    psets.append((media_id, media_id, 1, "ok", top, score, int(animal), NOW))
        write("sequences", sequence_columns, sequences)
        write("media", columns, rows)
        write("prediction_sets", pset_columns, psets)
        write("label_revisions", revision_columns, revisions)
        write("label_boxes", box_columns, boxes)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # COPY wrote ids: move the sequences on
            for table in ("users", "media", "sequences", "label_revisions", "label_boxes"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    )
                )
        conn.execute(text("ANALYZE"))


def measure(project: Project, runs: int) -> bool:
    db = project.db.engine.dialect.name
    with project.db.session() as session:
        labelled = session.scalar(
            select(text("count(*)")).select_from(Media).where(Media.label_class_id.is_not(None))
        )
        total = session.scalar(select(text("count(*)")).select_from(Media))
    print(f"[{db}] {total:,} media, {labelled:,} labelled with an animal class {_load()}")
    served = _time(project, db, "as served (maintained sums)", runs, AnalyticsQuery())
    before = _time_before(project, db, runs)
    _time(
        project,
        db,
        "interval 60 min (exact, kept detections)",
        2,
        AnalyticsQuery(interval_minutes=60),
    )
    _time(project, db, "exact from the labels", 2, AnalyticsQuery(), exact=True)
    _time(project, db, "per event (sequences, exact)", 2, AnalyticsQuery(per=Per.EVENT))
    _time(
        project,
        db,
        "labels+predictions (exact)",
        2,
        AnalyticsQuery(source=Source.LABELS_AND_PREDICTIONS),
    )
    _time_saves(project, db)
    start, start_cpu = time.perf_counter(), time.process_time()
    events = naive_events(project)
    naive = time.perf_counter() - start
    naive_cpu = time.process_time() - start_cpu
    print(
        f"[{db}] baseline: naive per-row ORM + datetime path (events only) wall {naive:.3f} s, "
        f"CPU {naive_cpu:.3f} s ({events:,} events) {_load()}"
    )
    print(f"[{db}] report as served is {before / served:.1f}x faster than before this change")
    print(f"[{db}] report as served is {naive / served:.1f}x faster than the naive baseline")
    verdict = "met" if served < TARGET_S else "MISSED"
    print(f"[{db}] target < {TARGET_S:.0f} s wall as served: {verdict} (shared, loaded machine)")
    return served >= TARGET_S


def _time(
    project: Project, db: str, what: str, runs: int, query: AnalyticsQuery, exact: bool = False
) -> float:
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        with project.db.session() as session:
            report = activity_report(
                session, project.classes, project.config.thresholds, query, exact=exact
            )
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    wall = statistics.median(times)
    print(
        f"[{db}] report {what:42s} wall median {wall:.3f} s (min {min(times):.3f}), CPU "
        f"median {statistics.median(cpu):.3f} s over {runs} runs: {report.media:,} detections "
        f"({report.media_predicted:,} predicted), {report.events:,} events, computed "
        f"{report.computed} {_load()}"
    )
    return wall


def _time_before(project: Project, db: str, runs: int) -> float:
    """The report as computed before the maintained sums: the main class of every labelled
    photo read from the covering index, events grouped on each request."""
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        with project.db.session() as session:
            query = (
                select(
                    Media.camera_id,
                    Media.label_class_id,
                    epoch_seconds(Media.captured_at),
                    text("0"),
                    text("1"),
                )
                .where(
                    Media.label_class_id.is_not(None),
                    Media.camera_id.is_not(None),
                    Media.captured_at.is_not(None),
                    Media.status == "ok",
                )
                .order_by(Media.camera_id, Media.captured_at)
            )
            rows = raw_rows(session, hints.use_index(query, Media, "ix_media_labelled_camera_time"))
            events = independent_events(rows, 30 * 60)  # type: ignore[arg-type]
            report = build_report(
                tally(rows, events),
                camera_spans(session),
                project.classes,
                AnalyticsQuery(),
                individual_sightings(session),
            )
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    wall = statistics.median(times)
    print(
        f"[{db}] report {'before (index read, events per request)':42s} wall median "
        f"{wall:.3f} s (min {min(times):.3f}), CPU median {statistics.median(cpu):.3f} s over "
        f"{runs} runs: {report.media:,} photos, {report.events:,} events {_load()}"
    )
    return wall


def _time_saves(project: Project, db: str, n: int = 200) -> None:
    """What a save pays to keep the sums: relabel labelled photos, one commit each."""
    rng = random.Random(5)
    with project.db.session() as session:
        ids = list(
            session.scalars(select(Media.id).where(Media.label_class_id.is_not(None)).limit(50_000))
        )
    chosen = rng.sample(ids, n)
    timed = {}
    for keep in (False, True):
        start = time.perf_counter()
        for i, media_id in enumerate(chosen):
            labels = LabelSet(
                boxes=tuple(
                    LabelBoxValue(Box(0.1 + 0.2 * j, 0.1, 0.1, 0.1), (i + j + keep) % 3 + 1)
                    for j in range(1 + i % 2)
                )
            )
            with project.db.session() as session:
                if not keep:
                    session.info[maintained.DEFERRED] = set()  # collected, never applied
                save_labels(
                    session,
                    media_id,
                    labels,
                    author_id=1,
                    classes=project.classes,
                    expected_revision=None,
                )
                session.info.pop(maintained.DEFERRED, None)
        timed[keep] = (time.perf_counter() - start) / n * 1000
    print(
        f"[{db}] save_labels: {timed[True]:.1f} ms per save keeping the sums, "
        f"{timed[False]:.1f} ms without (mean of {n}, committed each) {_load()}"
    )
    # The sums stayed exact through the saves (the bench would be measuring a wrong thing).
    with project.db.session() as session:
        fast = activity_report(
            session, project.classes, project.config.thresholds, AnalyticsQuery()
        )
        exact = activity_report(
            session, project.classes, project.config.thresholds, AnalyticsQuery(), exact=True
        )
    same = fast.counts == exact.counts and fast.diel == exact.diel and fast.rates == exact.rates
    print(f"[{db}] maintained report equals the exact one after the saves: {same}")


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
