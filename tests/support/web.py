"""Fixtures for the review web app: a project with generated bursts, a fake champion's
predictions, four users (admin, two reviewers, a viewer) and logged-in HTTP clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.support.review import (
    Item,
    add_champion,
    add_users,
    ingest_frames,
    logged_in_clients,
)
from wildloop.project import Project
from wildloop.synthetic.scenes import Frame, SceneGenerator
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
    add_users(project, USERS)
    return ReviewSetup(project=project, items=items, model_id=model_id)


@pytest.fixture
def app_client(review_setup: ReviewSetup) -> Iterator[Callable[..., TestClient]]:
    """``client(name)``: a TestClient logged in as that user (None: anonymous)."""
    with logged_in_clients(create_app(review_setup.project, secret="test-secret")) as client:
        yield client


@pytest.fixture
def live_url(review_setup: ReviewSetup) -> Iterator[str]:
    """The app served by a real Uvicorn on localhost (in a thread), as `wildloop serve` runs
    it: for what only a real socket shows (connection handling, a browser)."""
    with serve(create_app(review_setup.project, secret="test-secret")) as url:
        yield url


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """``app`` served by a real Uvicorn on a free localhost port, in a thread; yields its URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
