"""Fixtures for the review web app: a project with generated bursts, a fake champion's
predictions, three users (admin, reviewer, viewer) and logged-in HTTP clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from review_support import Item, add_champion, ingest_frames

from wildloop.project import Project
from wildloop.synthetic.scenes import Frame
from wildloop.users.accounts import create_user
from wildloop.web.app import create_app

PASSWORD = "correct horse battery"
USERS = {"ada": "admin", "rita": "reviewer", "remy": "reviewer", "vic": "viewer"}


@dataclass
class ReviewSetup:
    project: Project
    items: list[Item]
    model_id: int

    def ids(self) -> list[int]:
        return sorted(i.media_id for i in self.items)


@pytest.fixture
def review_setup(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> ReviewSetup:
    frames = scenes(bursts=6, seed=3)
    items = ingest_frames(project, tmp_path / "scenes", frames)
    model_id = add_champion(project, items)
    with project.db.session() as session:
        for name, role in USERS.items():
            create_user(session, name, role, PASSWORD)
    return ReviewSetup(project=project, items=items, model_id=model_id)


@pytest.fixture
def app_client(review_setup: ReviewSetup) -> Iterator[Callable[[str | None], TestClient]]:
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


def login(client: TestClient, name: str, password: str = PASSWORD) -> None:
    page = client.get("/login")
    token = csrf_of(page.text)
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]
