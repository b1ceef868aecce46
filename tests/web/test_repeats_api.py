"""The repeat-decision API over real HTTP: roles, one decision, its undo."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.support.review import plant_static_box
from tests.support.web import ReviewSetup

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
