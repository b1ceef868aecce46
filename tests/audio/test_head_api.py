"""Training from the API in an audio project starts a head training (the same endpoint as
detectors), and a second request while it runs is refused with 409."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.audio.head_support import labelled_project
from tests.audio.window_support import AUDIO_CLASSES
from tests.support.review import add_users, logged_in_clients
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.web.app import create_app


@pytest.fixture
def audio_project(make_project: Callable[..., Project], tmp_path: Path) -> Project:
    project = make_project(AUDIO_CLASSES, name="sounds")
    project.config.modality = "audio"
    labelled_project(project, tmp_path / "audio")
    add_users(project, {"ada": "admin", "rita": "reviewer"})
    return project


def test_training_endpoint_trains_a_head(audio_project: Project) -> None:
    with logged_in_clients(create_app(audio_project, secret="test-secret")) as client:
        admin = client("ada")
        assert client("rita").post("/api/v1/training", json={}).status_code == 403
        first = admin.post("/api/v1/training", json={"epochs": 50})
        assert first.status_code == 202, first.text
        assert first.json()["embedder"] == "test-v1"
        second = admin.post("/api/v1/training", json={})
        assert second.status_code == 409 and "already in progress" in second.text
        status = run_job(audio_project, first.json()["job_id"])
        assert status["state"] == "succeeded"
        assert status["result"]["task"] == "audio-head" and status["result"]["epochs_run"] <= 50
