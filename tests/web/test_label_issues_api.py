"""The label-issues API over real HTTP: both opinions listed, the second-reviewer rule, a
stale screen's 409, audited decisions, and the refresh job."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.support.label_issues import plant_issue
from tests.support.web import ReviewSetup
from wildloop.curation.empty_frames import MIN_SCORE
from wildloop.jobs.local import run_job
from wildloop.review.labels import current_labels
from wildloop.store.tables import AuditEntry, Job, Prediction, PredictionSet

URL = "/api/v1/label-issues"


def test_a_second_reviewer_keeps_or_changes_labels_and_it_is_audited(
    review_setup: ReviewSetup, app_client: Callable[..., TestClient]
) -> None:
    project = review_setup.project
    ids = review_setup.ids()
    first = plant_issue(project, ids[0], "remy", rank=1)
    second = plant_issue(project, ids[1], "remy", rank=2)
    rita, remy, vic, ada = (app_client(n) for n in ("rita", "remy", "vic", "ada"))
    listed = vic.get(URL)
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()] == [first, second]
    top = listed.json()[0]
    assert (top["given_class"], top["labelled_by"], top["suggested_class"]) == (
        "doe",
        "remy",
        "buck",
    )
    assert top["suggested_probability"] > top["given_probability"] and not top["stale"]

    decision = f"{URL}/{first}/decision"
    assert vic.post(decision, json={"decision": "keep"}).status_code == 403
    own = remy.post(decision, json={"decision": "change"})
    assert own.status_code == 403 and "second reviewer" in own.json()["error"]["message"]
    stale = rita.post(decision, json={"decision": "change", "expected_revision": 0})
    assert stale.status_code == 409, stale.text
    changed = rita.post(
        decision, json={"decision": "change", "expected_revision": top["current_revision"]}
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["status"], changed.json()["decided_by"]) == ("changed", "rita")
    assert rita.post(decision, json={"decision": "keep"}).status_code == 409
    with project.db.session() as session:
        labels = current_labels(session, ids[0])
        assert labels is not None and labels.boxes[0].class_id == project.classes.id_of("buck")
        audited = session.execute(
            select(AuditEntry.action, AuditEntry.after).where(AuditEntry.entity == "label_issue")
        ).all()
    assert [(a, after["decision"], after["own_label"]) for a, after in audited] == [
        ("label_issues.decide", "change", False)
    ]

    # Someone saves the second frame after the list was loaded: the screen is stale.
    body = {"boxes": [], "empty": True, "expected_revision": 1}
    assert rita.put(f"/api/v1/media/{ids[1]}/labels", json=body).status_code == 200
    late = ada.post(f"{URL}/{second}/decision", json={"decision": "keep"})
    assert late.status_code == 409 and "revision" in late.json()["error"]["message"]
    assert rita.get(URL).json()[0]["stale"] is True


def test_an_admin_may_decide_their_own_label_and_the_audit_says_so(
    review_setup: ReviewSetup, app_client: Callable[..., TestClient]
) -> None:
    project = review_setup.project
    issue = plant_issue(project, review_setup.ids()[2], "ada", rank=1)
    kept = app_client("ada").post(f"{URL}/{issue}/decision", json={"decision": "keep"})
    assert kept.status_code == 200, kept.text
    assert app_client("rita").get(f"{URL}?status=kept").json()[0]["id"] == issue
    with project.db.session() as session:
        after = session.scalar(select(AuditEntry.after).where(AuditEntry.entity == "label_issue"))
    assert after is not None and after["own_label"] is True


def test_refresh_queues_one_job_that_runs(
    review_setup: ReviewSetup, app_client: Callable[..., TestClient]
) -> None:
    rita = app_client("rita")
    assert app_client("vic").post(f"{URL}/refresh").status_code == 403
    queued = rita.post(f"{URL}/refresh")
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    assert rita.post(f"{URL}/refresh").json()["job_id"] == job_id  # one at a time
    status = run_job(review_setup.project, job_id)
    assert status["state"] == "succeeded", status
    assert status["result"]["boxes"] == 0 and status["result"]["issues"] == 0
    with review_setup.project.db.session() as session:
        assert session.get_one(Job, job_id).created_by == review_setup.project.author("rita")


def test_an_empty_frame_the_champion_is_sure_of_is_an_issue_and_change_adds_its_box(
    review_setup: ReviewSetup, app_client: Callable[..., TestClient]
) -> None:
    project = review_setup.project
    with project.db.session() as session:
        sure, prediction_id, class_id = session.execute(
            select(PredictionSet.media_id, Prediction.id, Prediction.class_id)
            .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
            .where(
                PredictionSet.model_version_id == review_setup.model_id,
                Prediction.score >= MIN_SCORE,
            )
            .order_by(Prediction.score.desc())
            .limit(1)
        ).one()
        unsure = session.scalar(
            select(PredictionSet.media_id).where(
                PredictionSet.model_version_id == review_setup.model_id,
                PredictionSet.top_score < 0.5,
            )
        )
    remy, rita = app_client("remy"), app_client("rita")
    for media_id in (sure, unsure):
        empty = {"boxes": [], "empty": True, "expected_revision": 0}
        assert remy.put(f"/api/v1/media/{media_id}/labels", json=empty).status_code == 200
    status = run_job(project, rita.post(f"{URL}/refresh").json()["job_id"])
    assert status["state"] == "succeeded" and status["result"]["empty_frames"] == 1, status
    [issue] = rita.get(URL).json()
    assert (issue["kind"], issue["media_id"], issue["given_class"]) == ("empty", sure, None)
    assert issue["prediction_id"] == prediction_id and issue["labelled_by"] == "remy"
    assert issue["suggested_probability"] >= MIN_SCORE
    decision = f"{URL}/{issue['id']}/decision"
    assert remy.post(decision, json={"decision": "change"}).status_code == 403
    changed = rita.post(decision, json={"decision": "change"})
    assert changed.status_code == 200, changed.text
    with project.db.session() as session:
        labels = current_labels(session, sure)
    assert labels is not None and not labels.empty
    [box] = [b for b in labels.boxes if b.trainable]
    assert (box.class_id, box.corrects_prediction_id) == (class_id, prediction_id)
    # Decided at that revision: a refresh does not raise the frame again.
    run_job(project, rita.post(f"{URL}/refresh").json()["job_id"])
    assert rita.get(URL).json() == []
