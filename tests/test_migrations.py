"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy.exc
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select

from wildloop.project import Project
from wildloop.store import migrate
from wildloop.store.tables import Base, RepeatDecision, RepeatDecisionFrame, User


def test_migrations_match_models(project: Project) -> None:
    with project.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_fresh_project_is_at_head_with_every_table(project: Project) -> None:
    assert migrate.is_current(project.db.engine)
    tables = set(inspect(project.db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_sqlite_project_runs_in_wal_mode(project: Project) -> None:
    if project.db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas only")
    with project.db.engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        busy = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    assert mode == "wal"
    assert busy and busy >= 5000


def test_migration_history_has_one_head() -> None:
    """Two heads mean two branches revise the same parent; `upgrade head` would refuse."""
    heads = ScriptDirectory.from_config(migrate.alembic_config()).get_heads()
    assert len(heads) == 1, f"migration heads {heads}: add a merge revision"


def test_the_role_check_admits_uploaders_and_a_downgrade_makes_them_viewers(
    project: Project,
) -> None:
    engine = project.db.engine

    def add(name: str, role: str) -> None:
        with project.db.session() as session:
            session.add(User(username=name, role=role))

    add("pi", "uploader")
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        add("nero", "emperor")
    cfg = migrate.alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0014_class_thresholds")
    with project.db.session() as session:
        assert session.scalar(select(User.role).where(User.username == "pi")) == "viewer"
    with pytest.raises(sqlalchemy.exc.IntegrityError):
        add("pi-2", "uploader")
    migrate.upgrade(engine)
    add("pi-2", "uploader")


def test_0018_moves_the_frames_a_repeat_decision_labelled_into_rows(project: Project) -> None:
    """Decisions made before 0018 kept their frames as a JSON list; the upgrade makes them
    rows (an undone decision's as restored) and a downgrade drops the rows' table."""
    engine = project.db.engine
    cfg = migrate.alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "0017_repeat_decisions")
    with engine.begin() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO users (id, username, role, disabled, created_at) "
                "VALUES (1, 'ada', 'admin', false, '2026-01-01 00:00:00')"
            )
        )
        for n, (labelled, undone) in enumerate(
            [("[[1, 2], [3, 4]]", None), ("[[5, 6]]", "2026-01-02 00:00:00")], start=1
        ):
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO repeat_decisions (id, camera, group_key, decision, x, y, w, h, "
                    "iou, labelled, created_by, created_at, undone_at) VALUES (:id, 'c', 1, "
                    "'false_positive', 0.1, 0.1, 0.1, 0.1, 0.85, :labelled, 1, "
                    "'2026-01-01 00:00:00', :undone)"
                ),
                {"id": n, "labelled": labelled, "undone": undone},
            )
        for media_id in (1, 3, 5):
            connection.execute(
                sqlalchemy.text(
                    "INSERT INTO media (id, path, kind, status, ingested_at, label_revision, "
                    "reviewed) VALUES (:id, :path, 'image', 'ok', '2026-01-01 00:00:00', 0, false)"
                ),
                {"id": media_id, "path": f"/m/{media_id}.jpg"},
            )
    migrate.upgrade(engine)
    with project.db.session() as session:
        rows = session.execute(
            select(
                RepeatDecisionFrame.decision_id,
                RepeatDecisionFrame.media_id,
                RepeatDecisionFrame.revision,
                RepeatDecisionFrame.undo_outcome,
            ).order_by(RepeatDecisionFrame.media_id)
        ).all()
        lists = session.scalars(select(RepeatDecision.labelled)).all()
    assert [tuple(r) for r in rows] == [(1, 1, 2, None), (1, 3, 4, None), (2, 5, 6, "restored")]
    assert lists == [[], []]
