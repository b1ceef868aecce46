"""The repeat-decision API over real HTTP: roles, one decision, its undo."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.review import plant_static_box
from tests.support.web import ReviewSetup
from wildloop.review import repeat_decisions

RULE = "min_frames=5&min_bursts=2"


def test_reviewers_decide_a_group_viewers_cannot_and_undo_restores_it(
    review_setup: ReviewSetup, app_client: Callable[..., TestClient]
) -> None:
    plant_static_box(review_setup.project, review_setup.model_id)
    rita, vic = app_client("rita"), app_client("vic")
    listed = vic.get(f"/api/v1/repeats?{RULE}")
    assert listed.status_code == 200
    [group] = listed.json()
    assert group["frames"] >= 5 and group["bursts"] >= 2 and group["examples"]
    body = {"decision": "false_positive", "min_frames": 5, "min_bursts": 2}
    url = f"/api/v1/repeats/{group['group']}/decision"
    refused = vic.post(url, json=body)
    assert refused.status_code == 403, refused.text
    assert rita.get(f"/api/v1/repeats?{RULE}").json() == [group]  # nothing changed
    done = rita.post(url, json=body)
    assert done.status_code == 200, done.text
    assert done.json()["labelled"] == group["frames"]
    assert rita.get(f"/api/v1/repeats?{RULE}").json() == []
    again = rita.post(url, json=body)
    assert again.status_code == 404
    undo = f"/api/v1/repeats/decisions/{done.json()['decision_id']}/undo"
    assert vic.post(undo).status_code == 403
    undone = rita.post(undo)
    assert undone.status_code == 200, undone.text
    assert len(undone.json()["restored"]) == group["frames"]
    assert rita.get(f"/api/v1/repeats?{RULE}").json() == [group]
    assert rita.post(undo).status_code == 409


def test_a_large_decision_answers_202_and_its_job_labels_the_frames(
    review_setup: ReviewSetup,
    app_client: Callable[..., TestClient],
    start_executor: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over SYNC_FRAMES frames (lowered here, as the job's size is what is tested) the
    decision is stored at once and a job writes the hard negatives; the undo likewise."""
    monkeypatch.setattr(repeat_decisions, "SYNC_FRAMES", 3)
    monkeypatch.setattr(repeat_decisions, "CHUNK_FRAMES", 2)
    plant_static_box(review_setup.project, review_setup.model_id)
    rita = app_client("rita")
    [group] = rita.get(f"/api/v1/repeats?{RULE}").json()
    body = {"decision": "false_positive", "min_frames": 5, "min_bursts": 2}
    accepted = rita.post(f"/api/v1/repeats/{group['group']}/decision", json=body)
    assert accepted.status_code == 202, accepted.text
    out = accepted.json()
    assert out["job_id"] and out["labelled"] == 0
    assert out["status_url"] == f"/api/v1/repeats/decisions/{out['decision_id']}"
    assert rita.get(f"/api/v1/repeats?{RULE}").json() == []  # decided at once
    start_executor(review_setup.project)
    status = _until_done(rita, out["status_url"], "job")
    assert status["job"]["state"] == "succeeded" and status["labelled"] == group["frames"]
    assert status["job"]["done"] == status["job"]["total"] == group["frames"]

    undone = rita.post(f"/api/v1/repeats/decisions/{out['decision_id']}/undo")
    assert undone.status_code == 202, undone.text
    status = _until_done(rita, undone.json()["status_url"], "undo_job")
    assert status["undone"] and status["undo_job"]["state"] == "succeeded"
    assert rita.get(f"/api/v1/repeats?{RULE}").json() == [group]
    assert rita.get("/api/v1/repeats/decisions/999999").status_code == 404


def _until_done(client: TestClient, url: str, job: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(url).json()
        if status[job]["state"] in ("succeeded", "failed", "cancelled"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"{url}: the {job} did not finish in {timeout} s")
