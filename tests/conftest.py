"""Shared fixtures: a real project per test, on SQLite or (with WILDLOOP_TEST_PG) PostgreSQL.

With ``WILDLOOP_TEST_PG=postgresql://127.0.0.1:5432/test`` every project gets a fresh
PostgreSQL database of its own, dropped after the test; otherwise a SQLite file in tmp_path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from wildloop.composition import register_job_kinds
from wildloop.jobs.local import LocalExecutor
from wildloop.project import Project
from wildloop.store.database import normalise_url
from wildloop.synthetic.scenes import Frame, SceneGenerator

# $WILDLOOP_SHARED_DATA points worktrees (which sit one level deeper) at the shared data.
SHARED_DATA = Path(
    os.environ.get("WILDLOOP_SHARED_DATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)
DEER_CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
PG_ENV = "WILDLOOP_TEST_PG"

os.environ.setdefault("YOLO_OFFLINE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under PostgreSQL, run only tests that use a project database."""
    if not os.environ.get(PG_ENV):
        return
    skip = pytest.mark.skip(reason="PostgreSQL run covers database tests only")
    for item in items:
        if "project" not in getattr(item, "fixturenames", ()) and "db_url" not in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def job_kinds() -> None:
    """The built-in job kinds, registered as the CLI's entry point and the web app do."""
    register_job_kinds()


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A database URL for one test: a fresh PostgreSQL database, or empty for SQLite."""
    server = os.environ.get(PG_ENV)
    if not server:
        yield ""
        return
    name = f"wl_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield normalise_url(server).rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def make_project(tmp_path: Path, db_url: str) -> Iterator[Callable[..., Project]]:
    opened: list[Project] = []

    def make(classes: list[str] | None = None, name: str = "test", sub: str = "project") -> Project:
        project = Project.init(tmp_path / sub, name, classes or DEER_CLASSES, database_url=db_url)
        opened.append(project)
        return project

    yield make
    for project in opened:
        project.close()


@pytest.fixture
def start_executor() -> Iterator[Callable[..., LocalExecutor]]:
    """``start_executor(project, workers=..., lanes=...)``: a started ``LocalExecutor`` that
    is stopped when the test ends, pass or fail (no worker thread outlives its test)."""
    started: list[LocalExecutor] = []

    def start(project: Project, workers: int = 1, lanes: tuple[str, ...] = ()) -> LocalExecutor:
        executor = LocalExecutor(project, workers=workers, lanes=lanes)
        started.append(executor)
        executor.start()
        return executor

    yield start
    for executor in reversed(started):
        executor.stop()


@pytest.fixture
def project(make_project: Callable[..., Project]) -> Project:
    return make_project()


@pytest.fixture
def scenes(tmp_path: Path) -> Callable[..., list[Frame]]:
    """Write generated camera-trap bursts to tmp_path/scenes and return their truth."""

    def write(bursts: int = 8, seed: int = 0, classes: list[str] | None = None) -> list[Frame]:
        generator = SceneGenerator(classes or DEER_CLASSES, seed=seed)
        return generator.write(tmp_path / "scenes", bursts)

    return write


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


# Fixtures shared across packages live in tests/support/ and are registered here, so every
# test folder mirrors a package of src/ instead of sitting next to the fixtures it needs.
from tests.support.detectors import (  # noqa: E402
    trained_pt,
    trained_scene_images,
    untrained_onnx,
    untrained_pt,
)
from tests.support.models_page import better_challenger, clients, weaker_challenger  # noqa: E402
from tests.support.real_photos import real_project  # noqa: E402
from tests.support.web import app_client, live_url, review_setup, scene_files  # noqa: E402

__all__ = [
    "app_client",
    "better_challenger",
    "clients",
    "live_url",
    "real_project",
    "review_setup",
    "scene_files",
    "trained_pt",
    "trained_scene_images",
    "untrained_onnx",
    "untrained_pt",
    "weaker_challenger",
]
