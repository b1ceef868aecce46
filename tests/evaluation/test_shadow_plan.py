"""The disagreement list pages by index: no scan of the table, no sort of every row
(SQLite's query plan, as the grid's hot queries are checked)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, insert, select

from tests.support.engine import ingest_dir
from wildloop.evaluation.shadow import OUTCOMES, disagreements
from wildloop.project import Project
from wildloop.store.tables import Media, ModelVersion, ShadowComparison
from wildloop.synthetic.scenes import Frame


def _plans(project: Project, pair: tuple[int, int], **page: Any) -> list[str]:
    statements: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:
        if "shadow_comparisons" in statement:
            statements.append((statement, parameters))

    event.listen(project.db.engine, "before_cursor_execute", capture)
    try:
        with project.db.session() as session:
            disagreements(session, *pair, limit=2, **page)
    finally:
        event.remove(project.db.engine, "before_cursor_execute", capture)
    with project.db.engine.connect() as conn:
        return [
            " | ".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p))
            for s, p in statements
        ]


def test_disagreement_pages_read_an_index(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    if project.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's query plan")
    scenes(bursts=3, seed=2)
    ingest_dir(project, tmp_path / "scenes")
    with project.db.session() as session:
        versions = [
            ModelVersion(name=n, source="external", classes=["doe"], params={}, metrics={})
            for n in ("a", "b")
        ]
        session.add_all(versions)
        session.flush()
        pair = (versions[0].id, versions[1].id)
        media = list(session.scalars(select(Media.id)))
        session.execute(
            insert(ShadowComparison),
            [
                {
                    "champion_version_id": pair[0],
                    "challenger_version_id": pair[1],
                    "media_id": m,
                    "outcome": OUTCOMES[i % len(OUTCOMES)],
                    "per_class": {},
                }
                for i, m in enumerate(media)
            ],
        )
    for page in ({}, {"after": media[3]}, {"outcome": "different_class"}):
        [plan] = _plans(project, pair, **page)
        assert "INDEX" in plan and "SCAN shadow_comparisons" not in plan, plan
        assert "TEMP B-TREE" not in plan, plan
