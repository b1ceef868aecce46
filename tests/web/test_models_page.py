"""The Models page and the API behind it, over HTTP with logged-in clients: what it shows,
the comparison computed in the background, and every action with its permissions."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.support.loop import (
    ingest_frames,
    label_frames,
    promote_over_http,
    record_predictions,
)
from tests.support.models_page import ModelsSetup
from tests.support.review import add_users
from wildloop.datasets.snapshots import create_snapshot
from wildloop.evaluation.promotion import make_first_champion
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import AuditEntry, Job, ModelVersion
from wildloop.synthetic.scenes import SceneGenerator


def wait_for_comparison(client: TestClient, timeout: float = 60) -> str:
    """Poll the comparison fragment as the page does, until it is no longer computing."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/models/comparison", headers={"Accept": "text/html"})
        if response.status_code != 202:
            assert response.status_code == 200, response.text
            return response.text
        assert (
            'data-state="computing"' in response.text
            and "Computing the comparison" in response.text
        )
        assert time.monotonic() < deadline, "the comparison took too long"
        time.sleep(0.3)


def audit(setup: ModelsSetup, action: str) -> list[AuditEntry]:
    with setup.project.db.session() as session:
        entries = list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        session.expunge_all()
        return entries


def job_count(setup: ModelsSetup) -> int:
    """Jobs other than the comparisons that showing the page submits."""
    with setup.project.db.session() as session:
        query = select(func.count()).select_from(Job).where(Job.kind != "compare")
        return int(session.scalar(query) or 0)


def test_the_page_shows_registry_log_triggers_and_the_comparison(
    better_challenger: ModelsSetup, clients
) -> None:
    setup = better_challenger
    viewer = clients("vic")
    assert 'href="/models"' in viewer.get("/").text  # in the top navigation
    page = viewer.get("/models")
    assert page.status_code == 200
    html = page.text
    assert 'href="/models" class="active"' in html
    # Registry: both versions with their alias badges.
    rows = dict(re.findall(r'<tr data-version="(\d+)"[^>]*>(.*?)</tr>', html, re.S))
    assert set(rows) == {str(setup.champion), str(setup.challenger)}
    assert '<span class="badge champion">champion</span>' in rows[str(setup.champion)]
    assert '<span class="badge challenger">challenger</span>' in rows[str(setup.challenger)]
    assert "not evaluated" in rows[str(setup.challenger)]  # nothing scored yet
    # Triggers: the settings and the reviewed items since the last training.
    assert "after reviewed items</td><td>100" in html
    assert re.search(r'id="new-reviewed">\d+<', html)
    assert "checked every 60 s" in html
    # The comparison was started in the background; the page did not wait for it.
    assert "Computing the comparison" in html or 'id="verdict"' in html

    fragment = wait_for_comparison(viewer)
    assert "Gate: would promote" in fragment
    assert "mAP50-95" in fragment and "95% interval of the change" in fragment
    intervals = re.findall(r"\[([+-]\d\.\d{3}), ([+-]\d\.\d{3})\]", fragment)
    assert len(intervals) == 2  # mAP50 and mAP50-95
    assert 'class="delta up"' in fragment  # per-class gains are coloured
    figures = re.findall(r'<img src="(/models/figures/[^"]+)"', fragment)
    assert len(figures) == 5  # PR curves, reliability, two confusion matrices, class deltas
    image = viewer.get(figures[0])
    assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
    assert "immutable" in image.headers["cache-control"]

    status = viewer.get("/api/v1/comparison/status")
    assert status.status_code == 200 and status.json()["state"] == "done"
    compared = status.json()["comparison"]
    assert compared["challenger"]["model_version_id"] == setup.challenger
    assert compared["map50_difference_interval"]["low"] is not None

    # Both versions now have stored evaluations: the registry and the log show them, and the
    # chart is drawn once and cached under its own URL.
    html = viewer.get("/models").text
    assert "not evaluated" not in html and 'id="verdict"' in html
    chart_url = re.search(r'src="(/models/retraining-chart.png\?v=\w+)"', html)
    assert chart_url is not None
    chart = viewer.get(chart_url.group(1))
    assert chart.content[:4] == b"\x89PNG" and "immutable" in chart.headers["cache-control"]
    assert viewer.get("/models/retraining-chart.png").headers["cache-control"] == "no-cache"
    assert viewer.get("/models/figures/..%2F..%2Fwildloop.toml/x.png").status_code == 404
    api = viewer.get("/api/v1/models").json()
    assert api["champion"]["id"] == setup.champion
    assert api["versions"][0]["test"]["map50_95"] > api["versions"][1]["test"]["map50_95"]
    triggers = viewer.get("/api/v1/triggers").json()
    assert triggers["after_reviewed"] == 100 and triggers["schedule_stage"] == "detector"
    assert triggers["classifier_after_reviewed"] == 0
    assert triggers["classifier"]["new_reviewed"] == triggers["new_reviewed"] > 0
    assert 'id="classifier-new-reviewed"' in html and 'data-stage="detector"' in html


def test_actions_are_for_admins_and_need_the_csrf_token(
    better_challenger: ModelsSetup, clients
) -> None:
    setup = better_challenger
    admin_page = clients("ada").get("/models").text
    assert re.search(r'<button type="button" id="promote" class="primary" >', admin_page)
    for two_stage in ("train-classifier", "fast-loop"):
        assert re.search(rf'id="{two_stage}"\s+title', admin_page)
    # No runnable detector or crop classifier here (stored predictions only): nothing to pair.
    assert "No pipeline yet" in admin_page
    assert "Needs a runnable detector and a crop classifier" in admin_page
    assert re.search(r'id="pipeline-name"[^>]*disabled', admin_page)
    for name in ("rita", "vic"):
        client = clients(name)
        page = client.get("/models").text
        assert re.search(r'id="promote" class="primary" disabled', page)
        assert re.search(r'id="train-now" disabled', page) and re.search(
            r'id="loop-now" disabled', page
        )
        assert re.search(r'id="train-classifier" disabled', page)
        assert re.search(r'id="fast-loop" disabled', page)
        assert (
            f"Only admins can change models; you are {'reviewer' if name == 'rita' else 'viewer'}"
            in page
        )
        calls: list[tuple[str, dict[str, Any]]] = [
            ("/api/v1/promotion", {"model": "challenger"}),
            ("/api/v1/promotion", {"model": "challenger", "force": True, "reason": "x"}),
            ("/api/v1/rollback", {"reason": "x"}),
            ("/api/v1/training", {}),
            ("/api/v1/loop", {}),
            ("/api/v1/loop", {"stage": "classifier"}),
            ("/api/v1/training/classifier", {}),
            ("/api/v1/pipelines", {"name": "p", "detector": "v1", "classifier": "v2"}),
        ]
        for url, body in calls:
            refused = client.post(url, json=body)
            assert refused.status_code == 403, (name, url, refused.text)
            assert "only admins" in refused.json()["error"]["message"]
    admin = clients("ada")
    no_csrf = admin.headers.pop("X-CSRF-Token")
    for url, body in (
        ("/api/v1/promotion", {"model": "challenger"}),
        ("/api/v1/rollback", {"reason": "x"}),
        ("/api/v1/training", {}),
        ("/api/v1/loop", {}),
    ):
        refused = admin.post(url, json=body)
        assert refused.status_code == 403 and "CSRF" in refused.text, url
    admin.headers["X-CSRF-Token"] = no_csrf
    assert setup.champion_now() == setup.champion and job_count(setup) == 0
    assert audit(setup, "model.gate.pass") == []


def test_promotion_through_the_gate_then_rollback(better_challenger: ModelsSetup, clients) -> None:
    setup = better_challenger
    admin = clients("ada")
    out = promote_over_http(admin, {"model": "challenger"}).json()
    assert out["promoted"] and not out["forced"] and setup.champion_now() == setup.challenger
    assert [e.entity_id for e in audit(setup, "model.gate.pass")] == [str(setup.challenger)]
    page = admin.get("/models").text
    assert "is the champion: train a new challenger" in page
    assert "Rollback champion to v1" in page

    assert admin.post("/api/v1/rollback", json={"reason": "  "}).status_code == 400
    assert admin.post("/api/v1/rollback", json={}).status_code == 422
    back = admin.post("/api/v1/rollback", json={"reason": "misses fawns at night"})
    assert back.status_code == 200 and back.json()["champion"] == "v1"
    assert setup.champion_now() == setup.champion
    assert audit(setup, "model.rollback")[-1].reason == "misses fawns at night"
    again = admin.post("/api/v1/rollback", json={"reason": "once more"})
    assert again.status_code == 409 and "no earlier version" in again.text


def test_a_weaker_challenger_is_refused_and_force_needs_a_reason(
    weaker_challenger: ModelsSetup, clients
) -> None:
    setup = weaker_challenger
    admin = clients("ada")
    fragment = wait_for_comparison_started(admin)
    assert "Gate: would refuse" in fragment and "does not beat the champion" in fragment
    assert 'class="delta bad"' in fragment or 'class="delta down"' in fragment

    refused = admin.post("/api/v1/promotion", json={"model": "challenger"})
    assert refused.status_code == 200 and not refused.json()["promoted"]
    assert any("does not beat" in r for r in refused.json()["reasons"])
    assert setup.champion_now() == setup.champion
    for reason in (None, "", "   "):
        body = {"model": "challenger", "force": True, "reason": reason}
        no_reason = admin.post("/api/v1/promotion", json=body)
        assert no_reason.status_code == 400 and "needs --reason" in no_reason.text
    assert setup.champion_now() == setup.champion
    forced = admin.post(
        "/api/v1/promotion",
        json={"model": "challenger", "force": True, "reason": "new site, accepted knowingly"},
    ).json()
    assert forced["promoted"] and forced["forced"] and setup.champion_now() == setup.challenger
    [override] = audit(setup, "model.gate.override")
    assert override.reason == "new site, accepted knowingly"
    log = admin.get("/models").text
    assert "promoted by override" in log and "override reason: new site" in log


def wait_for_comparison_started(client: TestClient) -> str:
    assert client.get("/models").status_code == 200  # starts it
    return wait_for_comparison(client)


def test_train_now_and_the_loop_refuse_a_second_training(
    better_challenger: ModelsSetup, clients
) -> None:
    admin = clients("ada")
    started = admin.post("/api/v1/training", json={"epochs": 2})
    assert started.status_code == 202, started.text
    job_id = started.json()["job_id"]
    again = admin.post("/api/v1/training", json={})
    assert again.status_code == 409 and "already in progress" in again.json()["error"]["message"]
    loop = admin.post("/api/v1/loop", json={})
    assert loop.status_code == 409 and "already in progress" in loop.json()["error"]["message"]
    page = admin.get("/models").text
    assert f"<b>#{job_id} train</b>" in page  # the live panel starts with it
    live = admin.get("/api/v1/jobs?active=true").json()
    # Showing the page also submitted the comparison, which runs in its own lane.
    assert [(j["id"], j["kind"]) for j in live if j["kind"] != "compare"] == [(job_id, "train")]
    assert admin.get("/api/v1/training").json()["params"]["train"]["epochs"] == 2


def test_a_newer_test_snapshot_makes_the_kept_comparison_stale(
    better_challenger: ModelsSetup, clients, tmp_path: Path
) -> None:
    setup = better_challenger
    viewer = clients("vic")
    first = viewer.get("/api/v1/comparison/status")
    assert first.status_code in (200, 202)
    assert "test-0001" in wait_for_comparison(viewer)
    kept = viewer.get("/api/v1/comparison/status").json()
    assert viewer.get("/api/v1/comparison/status").json()["started_at"] == kept["started_at"]
    more = SceneGenerator(setup.project.classes.names, seed=41).write(tmp_path / "more", 12)
    new_ids = ingest_frames(setup.project, more, tmp_path / "more")
    label_frames(setup.project, more, new_ids)
    for model in (setup.champion, setup.challenger):  # these models only have stored output
        record_predictions(setup.project, model, {i: [] for i in new_ids.values()})
    create_snapshot(setup.project, "test")
    assert viewer.get("/api/v1/comparison/status").status_code == 202  # computing again
    assert "test-0002" in wait_for_comparison(viewer)


def test_a_comparison_that_cannot_run_says_why(project: Project, clients) -> None:
    """No reviewed test items: the panel explains instead of spinning forever."""
    add_users(project, {"ada": "admin"})
    with project.db.session() as session:
        first = ModelVersion(name="m1", source="trained", classes=["doe"], params={}, metrics={})
        second = ModelVersion(name="m2", source="trained", classes=["doe"], params={}, metrics={})
        session.add_all([first, second])
        session.flush()
        make_first_champion(session, first.id, None, classes=project.classes)
        aliases.move_alias(session, "challenger", second.id, None)
    admin = clients("ada")
    assert admin.get("/models").status_code == 200
    fragment = wait_for_comparison(admin)
    assert "could not be computed" in fragment and "test snapshot is empty" in fragment
    assert "Try again" in fragment
    # Polling shows the failure (no retry loop); "Try again" asks for a new run.
    failed = admin.get("/api/v1/comparison/status").json()
    assert failed["state"] == "failed"
    assert admin.get("/api/v1/comparison/status").json()["started_at"] == failed["started_at"]
    retried = admin.get("/api/v1/comparison/status?refresh=true").json()
    assert retried["started_at"] != failed["started_at"]
    assert admin.get("/models/retraining-chart.png").status_code == 404
