"""`POST /api/v1/models/{model}/quantize` only queues a `quantize` job (requests never
compute), for admins."""

from __future__ import annotations

from pathlib import Path

from tests.support.models_page import USERS
from tests.support.review import add_users
from wildloop.jobs.records import job_status
from wildloop.models.registration import register_model
from wildloop.project import Project


def test_quantize_queues_a_job_for_admins_only(
    project: Project, clients, untrained_onnx: Path
) -> None:
    add_users(project, USERS)
    parent = register_model(project, untrained_onnx, "v1", imgsz=160)
    url = "/api/v1/models/v1/quantize"
    refused = clients("rita").post(url, json={})
    assert refused.status_code == 403, refused.text
    answer = clients("ada").post(url, json={"method": "dynamic", "name": "v1-small"})
    assert answer.status_code == 202, answer.text
    with project.db.session() as session:
        status = job_status(session, answer.json()["job_id"])
    assert status["kind"] == "quantize"
    assert status["params"] == {
        "parent_id": parent.id,
        "name": "v1-small",
        "method": "dynamic",
        "calibration": 200,
    }
