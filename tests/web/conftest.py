"""Fixtures for the review web app: a project with generated bursts, a fake champion's
predictions, four users (admin, two reviewers, a viewer) and logged-in HTTP clients."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.web.real_photos import real_project  # noqa: F401 (a fixture)
from tests.web.review_support import PASSWORD, Item, add_champion, ingest_frames, login
from wildloop.project import Project
from wildloop.store.tables import User
from wildloop.synthetic.scenes import Frame, SceneGenerator
from wildloop.users.accounts import create_user
from wildloop.users.passwords import hash_password
from wildloop.web.app import create_app

DEER_CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
USERS = {"ada": "admin", "rita": "reviewer", "remy": "reviewer", "vic": "viewer"}


@dataclass
class ReviewSetup:
    project: Project
    items: list[Item]
    model_id: int

    def ids(self) -> list[int]:
        return sorted(i.media_id for i in self.items)


@functools.cache
def password_hash() -> str:
    """One Argon2 hash per test session: hashing is slow on purpose (~0.1 s)."""
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
def scene_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Frame]]:
    """Generated bursts written once per test session (the tests only read them)."""
    root = tmp_path_factory.mktemp("review-scenes")
    return root, SceneGenerator(DEER_CLASSES, seed=3).write(root, 6)


@pytest.fixture
def review_setup(project: Project, scene_files: tuple[Path, list[Frame]]) -> ReviewSetup:
    root, frames = scene_files
    items = ingest_frames(project, root, frames)
    model_id = add_champion(project, items)
    with project.db.session() as session:
        for name, role in USERS.items():
            create_user(session, name, role, None)
            session.execute(
                update(User).where(User.username == name).values(password_hash=password_hash())
            )
    return ReviewSetup(project=project, items=items, model_id=model_id)


@pytest.fixture
def app_client(review_setup: ReviewSetup) -> Iterator[Callable[..., TestClient]]:
    """``client(name)``: a TestClient logged in as that user (None: anonymous)."""
    app = create_app(review_setup.project, secret="test-secret")
    opened: list[TestClient] = []

    def client(name: str | None = "rita") -> TestClient:
        c = TestClient(app, base_url="http://testserver")
        c.__enter__()
        opened.append(c)
        if name is not None:
            login(c, name)
        return c

    yield client
    for c in opened:
        c.__exit__(None, None, None)
