"""Latency of the review API's grid and detail calls on a large archive.

Builds 1,000,000 media and ~2,200,000 predictions (bench/review_data.py, bulk inserts) on
SQLite and PostgreSQL, then calls the JSON API in-process and reads the server-side time from
each response's ``Server-Timing`` header. Prints p50/p95/max per query type, and a baseline:
the same grid pages fetched the straightforward way (OFFSET paging and an OR across labels and
predictions for the effective class), with the ratio.

    python bench/review_api_latency.py                 # both databases, 1M media
    python bench/review_api_latency.py --db sqlite --media 200000 --reuse
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import aliased

sys.path.insert(0, str(Path(__file__).parent))
import review_data
from wildloop.project import Project
from wildloop.review import grid
from wildloop.store.tables import Media, PredictionSet
from wildloop.users.roles import Actor, Role
from wildloop.users.tokens import create_token
from wildloop.web.app import create_app

RESULTS = Path(__file__).parent / "results"
PG_DB = "wildloop_bench_review"
TARGET_P95_MS = 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--requests", type=int, default=60, help="calls per query type")
    parser.add_argument("--reuse", action="store_true", help="keep/reuse the built archive")
    args = parser.parse_args()
    databases = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    print(f"review API latency: {args.media:,} media, {args.requests} calls per query type")
    print("server-side time from the Server-Timing header; the app runs in-process (TestClient)")
    failed = False
    for db in databases:
        project = open_archive(db, args.media, args.pg_url, args.reuse)
        try:
            failed |= measure(project, args.requests, args.media)
        finally:
            project.close()
    sys.exit(1 if failed else 0)


def open_archive(db: str, media: int, pg_url: str, reuse: bool) -> Project:
    root = RESULTS / f"review-{db}-{media}"
    if reuse and (root / "wildloop.toml").exists():
        print(f"\n[{db}] reusing the archive in {root}")
        return Project.open(root)
    if root.exists():
        shutil.rmtree(root)
    url = ""
    if db == "postgres":
        url = review_data.fresh_pg_database(pg_url, f"{PG_DB}_{media}")
    project = Project.init(root, "bench", review_data.CLASSES, database_url=url)
    start = time.perf_counter()
    counts = review_data.build(project.db.engine, media)
    print(
        f"\n[{db}] built in {time.perf_counter() - start:.0f} s: "
        + ", ".join(f"{n:,} {table}" for table, n in counts.items())
    )
    return project


def measure(project: Project, calls: int, media: int) -> bool:
    """Run every query type; print figures; return True if any p95 misses the target."""
    db = project.db.engine.dialect.name
    with project.db.session() as session:
        owner = Actor(id=1, username="bench", role=Role.REVIEWER)
        _, token = create_token(session, owner, f"bench-{time.time()}")
    app = create_app(project, secret="bench")
    rng = random.Random(5)
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        cursors = deep_cursors(project, media)
        cases = query_types(rng, media, cursors)
        rows = []
        for name, make_url in cases:
            for _ in range(3):  # warm-up
                call(client, make_url())
            times = [call(client, make_url()) for _ in range(calls)]
            rows.append((name, times))
        baseline = offset_baseline(project, media, calls)
    print(f"\n[{db}] {'query type':34s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
    missed = False
    for name, times in rows:
        p50, p95 = percentile(times, 50), percentile(times, 95)
        flag = "" if p95 < TARGET_P95_MS else "  <-- over 100 ms"
        missed |= p95 >= TARGET_P95_MS
        print(f"[{db}] {name:34s} {p50:8.1f} {p95:8.1f} {max(times):8.1f}{flag}")
    print(f"\n[{db}] baseline (OFFSET paging, OR for the effective class), same depth:")
    keyset = dict(rows)
    for name, times in baseline:
        ours = keyset[name.replace("offset: ", "")]
        ratio = percentile(times, 50) / max(percentile(ours, 50), 0.01)
        print(
            f"[{db}] {name:34s} {percentile(times, 50):8.1f} {percentile(times, 95):8.1f} "
            f"{max(times):8.1f}   keyset is {ratio:.0f}x faster (p50)"
        )
    return missed


def query_types(
    rng: random.Random, media: int, cursors: dict[str, str]
) -> list[tuple[str, Callable[[], str]]]:
    classes = review_data.CLASSES
    cams = [f"cam{i:02d}" for i in range(1, review_data.CAMERAS + 1)]

    def rid() -> int:
        return rng.randint(1, media)

    return [
        ("grid: first page", lambda: "/api/v1/media"),
        ("grid: deep page (90%)", lambda: f"/api/v1/media?cursor={cursors['id']}"),
        ("grid: unreviewed", lambda: "/api/v1/media?reviewed=no"),
        ("grid: class (effective)", lambda: f"/api/v1/media?class={rng.choice(classes)}"),
        ("grid: rare class (0.5%)", lambda: "/api/v1/media?class=fawn"),
        (
            "grid: rare class, deep page",
            lambda: f"/api/v1/media?class=fawn&cursor={cursors['fawn']}",
        ),
        (
            "grid: camera by time",
            lambda: f"/api/v1/media?camera={rng.choice(cams)}&sort=captured_at",
        ),
        ("grid: camera + class", lambda: f"/api/v1/media?camera={rng.choice(cams)}&class=doe"),
        ("grid: review queue (low score)", lambda: "/api/v1/media?reviewed=no&sort=score"),
        (
            "grid: class by score desc",
            lambda: f"/api/v1/media?class={rng.choice(classes)}&sort=-score",
        ),
        ("grid: confidence 0.3-0.5", lambda: "/api/v1/media?min_score=0.3&max_score=0.5"),
        (
            "grid: date range",
            lambda: "/api/v1/media?from=2023-03-01&to=2023-03-08&sort=captured_at",
        ),
        ("grid: marked", lambda: "/api/v1/media?marked=any"),
        ("grid: split test, newest", lambda: "/api/v1/media?split=test&sort=-id"),
        (
            "grid: reviewed + class",
            lambda: f"/api/v1/media?reviewed=yes&class={rng.choice(classes)}",
        ),
        ("detail", lambda: f"/api/v1/media/{rid()}"),
        ("detail in class filter", lambda: f"/api/v1/media/{rid()}?class={rng.choice(classes)}"),
        ("detail in review queue", lambda: f"/api/v1/media/{rid()}?reviewed=no&sort=score"),
        ("count (capped at 5,000)", lambda: f"/api/v1/media/count?class={rng.choice(classes)}"),
        ("marked list", lambda: "/api/v1/marked"),
    ]


def deep_cursors(project: Project, media: int) -> dict[str, str]:
    """Cursors 90% of the way through the archive, as a reviewer deep in a session has."""
    with project.db.session() as session:
        model = grid.champion_id(session)
        deep = grid.item_at(session, int(media * 0.9), model)
        fawn_ids = session.scalars(
            select(PredictionSet.media_id)
            .where(PredictionSet.top_class_id == review_data.CLASSES.index("fawn"))
            .order_by(PredictionSet.media_id)
        ).all()
        fawn = grid.item_at(session, fawn_ids[int(len(fawn_ids) * 0.9)], model)
    assert deep is not None and fawn is not None
    return {"id": grid.encode_cursor(deep, "id"), "fawn": grid.encode_cursor(fawn, "id")}


def offset_baseline(project: Project, media: int, calls: int) -> list[tuple[str, list[float]]]:
    """The straightforward queries: OFFSET to the same depth, OR for the effective class."""
    ps = aliased(PredictionSet)
    with project.db.session() as session:
        model = grid.champion_id(session)
    base = (
        select(Media.id, Media.sha256, Media.captured_at, ps.top_class_id, ps.top_score)
        .outerjoin(ps, and_(ps.media_id == Media.id, ps.model_version_id == model))
        .where(Media.status == "ok")
        .order_by(Media.id)
        .limit(60)
    )
    fawn = review_data.CLASSES.index("fawn")
    effective = or_(
        and_(Media.reviewed.is_(True), Media.label_class_id == fawn),
        and_(Media.reviewed.is_(False), ps.top_class_id == fawn),
    )
    fawn_total = int(media * 0.005)
    cases = [
        ("offset: grid: deep page (90%)", base.offset(int(media * 0.9))),
        (
            "offset: grid: rare class, deep page",
            base.where(effective).offset(int(fawn_total * 0.9)),
        ),
        ("offset: grid: rare class (0.5%)", base.where(effective)),
    ]
    out = []
    for name, query in cases:
        times = []
        for _ in range(max(3, calls // 6)):
            start = time.perf_counter()
            with project.db.session() as session:
                session.execute(query).all()
            times.append((time.perf_counter() - start) * 1000)
        out.append((name, times))
    return out


def call(client: TestClient, url: str) -> float:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.text[:300]}")
    timing = response.headers["server-timing"]
    return float(timing.split("dur=")[1])


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


if __name__ == "__main__":
    main()
