"""The loop's JSON API and the dashboard's button, over HTTP with logged-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.loop import ingest_frames, label_frames, model_from_truth, promote_over_http
from tests.support.review import add_users, logged_in_clients
from wildloop.datasets.snapshots import load_snapshot
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.web.app import create_app


@pytest.fixture
def client(
    project: Project, scenes, tmp_path: Path, start_executor
) -> Iterator[Callable[[str], TestClient]]:
    start_executor(project, workers=0, lanes=("compare",))  # as `wildloop serve` does
    frames = scenes(bursts=24, seed=5)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    add_users(project, {"ada": "admin", "rita": "reviewer"})
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        yield client


def test_snapshots_promotion_and_log_over_http(project: Project, client) -> None:
    admin, reviewer = client("ada"), client("rita")
    assert admin.get("/api/v1/snapshots").json() == []
    assert reviewer.post("/api/v1/snapshots", json={"purpose": "test"}).status_code == 403
    made = admin.post("/api/v1/snapshots", json={"purpose": "test"})
    assert made.status_code == 201 and made.json()["created"]
    assert not admin.post("/api/v1/snapshots", json={"purpose": "test"}).json()["created"]
    data = load_snapshot(project, made.json()["id"])
    model_from_truth(project, data, "good", keep=0.95, seed=1, source="trained")
    model_from_truth(project, data, "weak", keep=0.4, relabel=0.4, seed=2, source="trained")

    assert reviewer.post("/api/v1/promotion", json={"model": "good"}).status_code == 403
    first = promote_over_http(admin, {"model": "good", "reprocess": False})
    assert first.status_code == 200 and first.json()["promoted"]
    refused = promote_over_http(admin, {"model": "weak", "reprocess": False}).json()
    assert not refused["promoted"] and any("does not beat" in r for r in refused["reasons"])
    no_reason = admin.post("/api/v1/promotion", json={"model": "weak", "force": True})
    assert no_reason.status_code == 400 and "--force needs --reason" in no_reason.text
    kept = reviewer.get("/api/v1/comparison", params={"challenger": "weak"})
    assert kept.status_code == 200  # the promotion's comparison, computed by its job
    compared = kept.json()["comparison"]
    assert compared["champion"]["model"] == "good" and not compared["decision"]["promote"]
    assert [e["model"] for e in reviewer.get("/api/v1/evaluations?model=good").json()] == ["good"]
    log = reviewer.get("/api/v1/retrain-log").json()
    assert [r["version"] for r in log] == ["good", "weak"] and log[0]["champion"]


def test_the_loop_button_queues_one_loop_at_a_time(project: Project, client) -> None:
    admin, reviewer = client("ada"), client("rita")
    assert 'id="run-loop"' in admin.get("/").text
    assert 'id="run-loop"' not in reviewer.get("/").text
    assert reviewer.post("/api/v1/loop", json={}).status_code == 403
    queued = admin.post("/api/v1/loop", json={"epochs": 1, "imgsz": 64})
    assert queued.status_code == 202
    again = admin.post("/api/v1/loop", json={})
    assert again.status_code == 409 and "already running" in again.text
    training = admin.post("/api/v1/training", json={})
    assert training.status_code == 409 and "about to train" in training.text
    jobs = admin.get("/api/v1/jobs").json()
    assert jobs[0]["id"] == queued.json()["job_id"] and jobs[0]["kind"] == "loop"


@pytest.mark.slow
def test_the_loop_job_runs_every_step(project: Project, client) -> None:
    admin = client("ada")
    job_id = admin.post(
        "/api/v1/loop",
        json={"epochs": 1, "imgsz": 64, "batch": 16, "device": "cpu"},
    ).json()["job_id"]
    status = run_job(project, job_id)
    assert status["state"] == "succeeded", status["error"]
    steps = [s["step"] for s in status["result"]["steps"]]
    assert steps == ["snapshot", "train", "evaluate", "gate", "promote", "reprocess"]
    assert status["progress"]["done"] == 6
    assert admin.get("/api/v1/training").json() is None  # nothing left running
