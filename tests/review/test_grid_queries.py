"""Grid queries against a brute-force reference, and the query plans of the hot ones.

The data comes from the latency benchmark's builder (bench/review_data.py) at a small size:
3,000 media with skewed classes, 10% reviewed, 0.5% marked, one champion model.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, text

from wildloop.project import Project
from wildloop.review import grid, grid_paths
from wildloop.review.dashboard import class_counts
from wildloop.review.filters import FilterNames, GridFilter, parse_filter
from wildloop.review.marked import marked_counts
from wildloop.store.tables import Media, PredictionSet

BENCH = Path(__file__).resolve().parents[2] / "bench" / "review_data.py"


def _builder() -> Any:
    spec = importlib.util.spec_from_file_location("review_data", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["review_data"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def archive(make_project: Any) -> Project:
    data = _builder()
    project = make_project(classes=data.CLASSES, name="archive")
    data.build(project.db.engine, 3000)
    return project


def reference(project: Project, flt: GridFilter) -> list[int]:
    """The filter applied in plain Python over every row: what the grid must return."""
    with project.db.session() as session:
        champion = grid.champion_id(session)
        rows = session.execute(
            select(Media, PredictionSet.top_class_id, PredictionSet.top_score)
            .outerjoin(
                PredictionSet,
                (PredictionSet.media_id == Media.id) & (PredictionSet.model_version_id == champion),
            )
            .where(Media.status == "ok")
        ).all()
    keep = []
    for m, top_class, top_score in rows:
        effective = m.label_class_id if m.reviewed else top_class
        checks = [
            flt.camera_id is None or m.camera_id == flt.camera_id,
            flt.class_id is None or effective == flt.class_id,
            flt.reviewed is None or m.reviewed == flt.reviewed,
            flt.split is None or m.split == flt.split,
            flt.marked is None
            or (flt.marked == "any" and m.marked is not None)
            or (flt.marked == "none" and m.marked is None)
            or m.marked == flt.marked,
            flt.date_from is None or m.captured_at >= flt.date_from,
            flt.date_to is None or m.captured_at <= flt.date_to,
            flt.min_score is None or (top_score is not None and top_score >= flt.min_score),
            flt.max_score is None or (top_score is not None and top_score <= flt.max_score),
            flt.sort != "score" or top_score is not None,
        ]
        if all(checks):
            value = {"id": m.id, "captured_at": m.captured_at, "score": top_score}[flt.sort]
            keep.append(((value, m.id), m.id))
    keep.sort(reverse=flt.descending)
    return [i for _, i in keep]


def paged(project: Project, flt: GridFilter, limit: int) -> list[int]:
    ids: list[int] = []
    cursor = None
    with project.db.session() as session:
        while True:
            found = grid.page(session, flt, cursor=cursor, limit=limit)
            ids.extend(i.id for i in found.items)
            cursor = found.next_cursor
            if not cursor:
                return ids


FILTERS = [
    {},
    {"sort": "-id"},
    {"class": "doe"},
    {"class": "fawn"},
    {"class": "fawn", "sort": "captured_at"},
    {"class": "doe", "sort": "-score"},
    {"class": "buck", "reviewed": "yes"},
    {"class": "buck", "reviewed": "no", "sort": "score"},
    {"reviewed": "no", "sort": "score"},
    {"camera": "cam07", "sort": "captured_at"},
    {"camera": "cam07", "class": "doe"},
    {"min_score": "0.3", "max_score": "0.5"},
    {"min_score": "0.9", "sort": "-score"},
    {"marked": "any"},
    {"marked": "missed", "sort": "-captured_at"},
    {"marked": "none", "split": "test"},
    {"split": "val", "sort": "captured_at"},
    {"from": "2023-01-03", "to": "2023-01-09", "sort": "captured_at"},
    {"from": "2023-01-05", "class": "raccoon"},
]


def test_pages_match_the_reference(archive, monkeypatch):
    # A small cap makes the path choice behave as on a big archive (selective vs. not).
    monkeypatch.setattr(grid_paths, "PROBE_CAP", 60)
    with archive.db.session() as session:
        names = FilterNames.load(session)
    for params in FILTERS:
        flt = parse_filter(params, archive.classes, names)
        expected = reference(archive, flt)
        assert expected or params.get("marked"), params
        assert paged(archive, flt, limit=97) == expected, params
        with archive.db.session() as session:
            total, capped = grid.count(session, flt)
        assert (total, capped) == (len(expected), False), params


def test_random_filter_combinations_match_the_reference(archive, monkeypatch):
    monkeypatch.setattr(grid_paths, "PROBE_CAP", 60)
    rng = random.Random(11)
    with archive.db.session() as session:
        names = FilterNames.load(session)
    options = {
        "camera": ["cam03", "cam20"],
        "class": ["doe", "fawn", "pig"],
        "reviewed": ["yes", "no"],
        "marked": ["any", "none"],
        "split": ["train", "test"],
        "min_score": ["0.2", "0.6"],
        "from": ["2023-01-04"],
        "sort": ["id", "-id", "captured_at", "-captured_at", "score", "-score"],
    }
    for _ in range(25):
        params = {k: rng.choice(v) for k, v in options.items() if rng.random() < 0.4}
        flt = parse_filter(params, archive.classes, names)
        assert paged(archive, flt, limit=150) == reference(archive, flt), params


def test_neighbours_follow_the_filter_order(archive):
    with archive.db.session() as session:
        flt = parse_filter(
            {"class": "pig", "sort": "-captured_at"}, archive.classes, FilterNames.load(session)
        )
        model = grid.model_for(session, flt)
        order = reference(archive, flt)
        for i in (0, 1, len(order) // 2, len(order) - 1):
            item = grid.item_at(session, order[i], model)
            assert item is not None
            prev_id, next_id = grid.neighbours(session, flt, item, model)
            assert prev_id == (order[i - 1] if i else None)
            assert next_id == (order[i + 1] if i + 1 < len(order) else None)


def test_cursor_of_another_sort_is_refused(archive):
    with archive.db.session() as session:
        first = grid.page(session, GridFilter(sort="captured_at"), limit=5)
        with pytest.raises(Exception, match="another sort order"):
            grid.page(session, GridFilter(sort="id"), cursor=first.next_cursor)


HOT = [
    ({}, True),
    ({"reviewed": "no"}, True),
    ({"class": "doe"}, True),
    ({"class": "fawn"}, False),  # rare: walks its own index and sorts a few rows
    ({"camera": "cam07", "sort": "captured_at"}, True),
    ({"reviewed": "no", "sort": "score"}, True),
    ({"class": "doe", "sort": "-score"}, True),
    ({"min_score": "0.3", "max_score": "0.5"}, True),
    ({"from": "2023-01-03", "to": "2023-01-09", "sort": "captured_at"}, True),
    ({"split": "test", "sort": "-id"}, True),
    ({"marked": "missed"}, False),
]


def test_hot_queries_walk_an_index(archive, monkeypatch):
    """No full scan of media or predictions; a sort only where few rows match."""
    if archive.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL chooses its own plans from its statistics")
    monkeypatch.setattr(grid_paths, "PROBE_CAP", 60)
    with archive.db.session() as session:
        names = FilterNames.load(session)
    for params, ordered in HOT:
        plans = plans_of(archive, parse_filter(params, archive.classes, names))
        assert plans, params
        for plan in plans:
            text_plan = f"{params}:\n" + "\n".join(plan)
            # Sorting the merged union arms (at most ``limit`` rows each) is fine; a sort
            # inside an arm, over everything its index matched, is what must not happen.
            sorts = any(
                "TEMP B-TREE FOR ORDER BY" in p and not plan[i - 1].startswith("SCAN anon")
                for i, p in enumerate(plan)
            )
            scans = [p for p in plan if p.startswith("SCAN") and not p.startswith("SCAN anon")]
            # A scan is only allowed as a walk in rowid order that LIMIT stops early.
            assert not scans or (scans == ["SCAN media"] and not sorts), text_plan
            if ordered:
                assert not sorts, text_plan


def plans_of(project: Project, flt: GridFilter) -> list[list[str]]:
    """EXPLAIN QUERY PLAN of every page query one grid page runs."""
    statements: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        # The regions in force are read from repeat_decisions (a few rows per camera, in
        # decision order): not a page query.
        if "FROM repeat_decisions" in statement:
            return
        if "ORDER BY" in statement and "count(" not in statement:
            statements.append((statement, parameters))

    event.listen(project.db.engine, "before_cursor_execute", capture)
    try:
        with project.db.session() as session:
            grid.page(session, flt, limit=60)
    finally:
        event.remove(project.db.engine, "before_cursor_execute", capture)
    with project.db.engine.connect() as conn:
        return [
            [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params)]
            for sql, params in statements
        ]


def test_dashboard_counts_add_up(archive):
    with archive.db.session() as session:
        counts = class_counts(session, archive.classes)
        total = session.scalar(select(text("count(*)")).select_from(Media))
    assert sum(c["human"] + c["model"] for c in counts.values()) == total
    assert counts["fawn"]["model"] < counts["doe"]["model"]


def test_marked_count_uses_the_marked_index(archive):
    with archive.db.session() as session:
        counts = marked_counts(session)
        assert sum(counts.values()) == session.scalar(
            select(text("count(*)")).select_from(Media).where(Media.marked.is_not(None))
        )
    assert counts["missed"] > 0 and counts["false_positive"] > 0
