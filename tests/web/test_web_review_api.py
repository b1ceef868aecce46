"""The review JSON API over real HTTP handling (TestClient) and a real database: every action,
the optimistic conflict check, batches, bursts, marks, the audit trail."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.support.review import db_state, first_with_boxes, first_without_boxes
from wildloop.store.tables import AuditEntry, Job, LabelRevision, Media, Prediction, PredictionSet
from wildloop.store.types import utcnow


def detail(client: Any, media_id: int, query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/media/{media_id}{query}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def act(client: Any, media_id: int, status: int = 200, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/media/{media_id}/actions", json=body)
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def all_pages(client: Any, query: str, limit: int = 7) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        sep = "&" if query else ""
        url = f"/api/v1/media?{query}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_grid_pages_cover_every_item_once_in_order(app_client, review_setup):
    client = app_client("rita")
    ids = [i["id"] for i in all_pages(client, "")]
    assert ids == review_setup.ids()
    newest = [i["id"] for i in all_pages(client, "sort=-id", limit=5)]
    assert newest == list(reversed(review_setup.ids()))
    by_time = all_pages(client, "sort=captured_at", limit=4)
    times = [(i["captured_at"], i["id"]) for i in by_time]
    assert times == sorted(times) and len(times) == len(ids)


def test_accept_turns_the_shown_predictions_into_labels(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    before = detail(client, media_id)
    shown = [p for p in before["predictions"] if p["shown"]]
    result = act(client, media_id, action="accept", expected_revision=0)
    assert result["revision"] == 1 and result["reviewed"]
    after = detail(client, media_id)
    assert [b["prediction_id"] for b in after["labels"]] == [p["id"] for p in shown]
    assert [b["class"] for b in after["labels"]] == [p["class"] for p in shown]
    assert after["history"][0]["author"] == "rita"
    with review_setup.project.db.session() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "media", AuditEntry.entity_id == str(media_id)
            )
        ).one()
    assert entry.action == "labels.accept" and entry.before is None
    assert entry.after is not None and len(entry.after["boxes"]) == len(shown)


def test_set_class_relabels_every_box_or_only_the_chosen_one(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id, minimum=2)
    act(client, media_id, action="set_class", **{"class": "doe"}, expected_revision=0)
    labels = detail(client, media_id)["labels"]
    assert {b["class"] for b in labels} == {"doe"} and len(labels) >= 2
    act(client, media_id, action="set_class", **{"class": "fawn"}, box=1, expected_revision=1)
    assert [b["class"] for b in detail(client, media_id)["labels"]][:2] == ["doe", "fawn"]
    with review_setup.project.db.session() as session:
        assert session.get(Media, media_id).label_class_id == 1  # doe: the most boxes


def test_invalid_marks_boxes_with_a_reason(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    act(client, media_id, action="invalid", reason="rear_end", expected_revision=0)
    labels = detail(client, media_id)["labels"]
    assert labels and all(b["invalid_reason"] == "rear_end" for b in labels)
    # A new species fixes "wrong species" but not "rear end".
    act(client, media_id, action="set_class", **{"class": "pig"}, expected_revision=1)
    assert all(b["invalid_reason"] == "rear_end" for b in detail(client, media_id)["labels"])


def test_empty_records_each_shown_prediction_as_a_false_positive(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    shown = [p["id"] for p in detail(client, media_id)["predictions"] if p["shown"]]
    act(client, media_id, action="empty", expected_revision=0)
    after = detail(client, media_id)
    assert after["empty"] and after["label_class"] is None
    assert [(b["prediction_id"], b["false_positive"]) for b in after["labels"]] == [
        (i, True) for i in shown
    ]


def test_note_is_kept_with_the_labels(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    act(client, media_id, action="note", note="two animals, one hidden", expected_revision=0)
    after = detail(client, media_id)
    assert after["note"] == "two animals, one hidden" and after["history"][0]["note"]


def test_undo_brings_back_the_previous_labels_then_unreviewed(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    act(client, media_id, action="accept", expected_revision=0)
    first = detail(client, media_id)["labels"]
    act(client, media_id, action="set_class", **{"class": "raccoon"}, expected_revision=1)
    act(client, media_id, action="undo", expected_revision=2)  # undoes revision 2
    restored = detail(client, media_id)
    assert restored["labels"] == first and restored["label_revision"] == 3
    act(client, media_id, action="undo", revision=1, expected_revision=3)
    back = detail(client, media_id)
    assert not back["reviewed"] and back["labels"] is None and back["label_revision"] == 4
    assert client.get("/api/v1/media?reviewed=no&limit=500").json()["items"]
    with review_setup.project.db.session() as session:
        revisions = session.scalars(
            select(LabelRevision.revision).where(LabelRevision.media_id == media_id)
        ).all()
    assert sorted(revisions) == [1, 2, 3, 4]  # append-only: nothing deleted
    act(client, media_id, action="undo", revision=5, expected_revision=4, status=400)


def test_an_action_that_changes_nothing_writes_nothing(app_client, review_setup):
    """Accepting again, the same note, the same class, a batch over reviewed items, a user
    given the role they have: no new revision, no audit entry; a stale revision still
    conflicts, and a real change is still written."""
    client, admin = app_client("rita"), app_client("ada")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    act(client, media_id, action="accept", note="ok", expected_revision=0)
    first_class = detail(client, media_id)["labels"][0]["class"]
    before = db_state(review_setup.project)
    assert act(client, media_id, action="accept", expected_revision=1)["revision"] == 1
    act(client, media_id, action="note", note="ok", expected_revision=1)
    act(client, media_id, action="set_class", box=0, expected_revision=1, **{"class": first_class})
    batch = client.post("/api/v1/batch", json={"ids": [media_id], "action": "accept"})
    assert batch.status_code == 200 and batch.json()["applied"] == [media_id]
    same_role = admin.patch("/api/v1/users/rita", json={"role": "reviewer"})
    assert same_role.status_code == 200, same_role.text
    assert db_state(review_setup.project) == before
    act(client, media_id, action="accept", expected_revision=0, status=409)
    assert (
        act(client, media_id, action="note", note="changed", expected_revision=1)["revision"] == 2
    )


def test_mark_for_retraining_lists_counts_and_unmarks(app_client, review_setup):
    client = app_client("rita")
    a, b = review_setup.ids()[:2]
    act(client, a, action="mark", kind="missed")
    act(client, b, action="mark", kind="false_positive")
    listed = client.get("/api/v1/marked?limit=1").json()
    assert listed["total"] == 2 and listed["counts"] == {"missed": 1, "false_positive": 1}
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    assert listed["items"][0]["marked_by"] == "rita"
    second = client.get(f"/api/v1/marked?limit=1&cursor={listed['next_cursor']}").json()
    assert {listed["items"][0]["id"], second["items"][0]["id"]} == {a, b}
    assert client.get("/api/v1/marked?kind=missed").json()["items"][0]["id"] == a
    act(client, a, action="unmark")
    assert client.get("/api/v1/marked").json()["total"] == 1
    actions = [e["action"] for e in client.get(f"/api/v1/media/{a}/history").json()]
    assert actions == ["media.unmark", "media.mark"]
    assert client.get("/api/v1/media?marked=any").json()["items"][0]["id"] == b


def test_hand_edited_boxes_keep_confirmed_and_record_deleted_as_false_positive(
    app_client, review_setup
):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id, minimum=2)
    shown = [p for p in detail(client, media_id)["predictions"] if p["shown"]]
    kept, deleted = shown[0], shown[1]
    moved = dict(kept["box"], x=kept["box"]["x"] * 0.9)
    body = {
        "expected_revision": 0,
        "boxes": [
            {**moved, "class": kept["class"], "prediction_id": kept["id"]},
            {"x": 0.6, "y": 0.1, "w": 0.2, "h": 0.15, "class": "fawn", "missed": True},
        ],
    }
    response = client.put(f"/api/v1/media/{media_id}/labels", json=body)
    assert response.status_code == 200, response.text
    labels = detail(client, media_id)["labels"]
    assert labels[0]["prediction_id"] == kept["id"] and labels[0]["box"]["x"] < kept["box"]["x"]
    assert labels[1]["missed"] and labels[1]["class"] == "fawn"
    rejected = [b for b in labels if b["false_positive"]]
    assert deleted["id"] in {b["prediction_id"] for b in rejected}


def test_second_reviewer_saving_the_same_item_gets_a_conflict(app_client, review_setup):
    rita, remy = app_client("rita"), app_client("remy")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    seen_by_both = detail(rita, media_id)["label_revision"]
    assert detail(remy, media_id)["label_revision"] == seen_by_both == 0
    act(rita, media_id, action="accept", expected_revision=seen_by_both)
    refused = remy.post(
        f"/api/v1/media/{media_id}/actions",
        json={"action": "set_class", "class": "pig", "expected_revision": seen_by_both},
    )
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["type"] == "Conflict" and "rita" in error["message"]
    assert "reload" in error["message"]
    put = remy.put(
        f"/api/v1/media/{media_id}/labels",
        json={"expected_revision": 0, "boxes": [], "empty": True},
    )
    assert put.status_code == 409
    with review_setup.project.db.session() as session:
        count = session.scalars(
            select(LabelRevision.id).where(LabelRevision.media_id == media_id)
        ).all()
    assert len(count) == 1  # rita's save only: nothing overwritten


def test_batch_applies_to_a_selection_and_lists_what_it_skipped(app_client, review_setup):
    client = app_client("rita")
    with_boxes = first_with_boxes(review_setup.project, review_setup.model_id)
    without = first_without_boxes(review_setup.project, review_setup.model_id)
    response = client.post(
        "/api/v1/batch",
        json={"ids": [with_boxes, without], "action": "set_class", "class": "cattle"},
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["applied"] == [with_boxes]
    assert result["skipped"][0]["media_id"] == without
    assert "no box" in result["skipped"][0]["reason"]
    assert {b["class"] for b in detail(client, with_boxes)["labels"]} == {"cattle"}


def test_batch_on_everything_in_a_filter(app_client, review_setup):
    client = app_client("rita")
    cam01 = [i["id"] for i in all_pages(client, "camera=cam01")]
    response = client.post(
        "/api/v1/batch", json={"filter": {"camera": "cam01"}, "action": "mark", "kind": "missed"}
    )
    assert response.status_code == 200, response.text
    assert sorted(response.json()["applied"]) == sorted(cam01)
    marked = [i["id"] for i in all_pages(client, "marked=missed")]
    assert sorted(marked) == sorted(cam01)


def test_a_burst_is_labelled_as_a_unit_keeping_its_empty_frames(app_client, review_setup):
    client = app_client("rita")
    bursts: dict[str, list[int]] = {}
    for item in review_setup.items:
        bursts.setdefault(item.frame.sequence_key, []).append(item.media_id)
    project, model = review_setup.project, review_setup.model_id
    without = {first_without_boxes(project, model)}
    key = next(k for k, ids in bursts.items() if set(ids) & without and len(ids) > 2)
    frames = bursts[key]
    start = next(i for i in frames if i not in without)
    result = act(
        client, start, action="set_class", **{"class": "doe"}, scope="sequence", expected_revision=0
    )
    assert sorted(result["applied"]) == sorted(frames)
    for media_id in frames:
        d = detail(client, media_id)
        assert d["reviewed"]
        if media_id in without:
            assert d["empty"]
        else:
            assert {b["class"] for b in d["labels"] if not b["false_positive"]} <= {"doe"}


def test_detail_navigates_within_the_filter(app_client, review_setup):
    client = app_client("rita")
    ids = [i["id"] for i in all_pages(client, "class=doe")]
    assert len(ids) >= 3
    middle = detail(client, ids[1], "?class=doe")
    assert (middle["prev_id"], middle["next_id"]) == (ids[0], ids[2])
    act(client, ids[1], action="accept", expected_revision=0)
    first = detail(client, ids[0], "?class=doe")
    assert first["next_unreviewed_id"] == ids[2]  # skips the reviewed one
    strip = [f["id"] for f in middle["sequence"]]
    assert ids[1] in strip and len(strip) >= 2


def test_effective_class_uses_the_human_label_once_reviewed(app_client, review_setup):
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    model_class = detail(client, media_id)["predictions"][0]["class"]
    other = "raccoon" if model_class != "raccoon" else "buck"
    act(client, media_id, action="set_class", **{"class": other}, expected_revision=0)
    in_other = [i["id"] for i in all_pages(client, f"class={other}")]
    in_model = [i["id"] for i in all_pages(client, f"class={model_class}")]
    assert media_id in in_other and media_id not in in_model
    tile = next(i for i in all_pages(client, f"class={other}") if i["id"] == media_id)
    assert tile["class_source"] == "human"


def test_dashboard_counts_and_live_job_progress(app_client, review_setup):
    client = app_client("vic")
    with review_setup.project.db.session() as session:
        session.add(
            Job(
                kind="reprocess",
                state="running",
                progress_done=250,
                progress_total=1000,
                rate=12.5,
                eta_seconds=60,
                message="chunk 3 of 12",
                started_at=utcnow(),
            )
        )
    jobs = client.get("/api/v1/jobs?active=true").json()
    assert jobs[0]["percent"] == 25.0 and jobs[0]["message"] == "chunk 3 of 12"
    board = client.get("/api/v1/dashboard").json()
    assert board["media"] == len(review_setup.items) and board["champion"] == "fake-v1"
    assert sum(c["model"] for c in board["classes"].values()) == len(review_setup.items)
    assert board["jobs"][0]["kind"] == "reprocess"
    page = client.get("/")
    assert "chunk 3 of 12" in page.text and "fake-v1" in page.text


def test_predictions_below_the_threshold_are_shown_but_not_proposed(app_client, review_setup):
    project = review_setup.project
    media_id = first_with_boxes(project, review_setup.model_id)
    with project.db.session() as session:
        pset = session.scalar(select(PredictionSet.id).where(PredictionSet.media_id == media_id))
        session.add(
            Prediction(
                prediction_set_id=pset,
                class_id=2,
                class_name="fawn",
                score=0.1,
                x=0.5,
                y=0.5,
                w=0.1,
                h=0.1,
            )
        )
    client = app_client("rita")
    weak = [p for p in detail(client, media_id)["predictions"] if p["score"] == 0.1]
    assert weak and not weak[0]["shown"]
    act(client, media_id, action="accept", expected_revision=0)
    assert weak[0]["id"] not in {b["prediction_id"] for b in detail(client, media_id)["labels"]}


def test_openapi_documents_the_api(app_client, review_setup):
    client = app_client(None)
    spec = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/media", "/api/v1/media/{media_id}/actions", "/api/v1/batch"):
        assert path in spec["paths"]
    assert client.get("/api/docs").status_code == 200


def test_reads_change_nothing(app_client, review_setup):
    client = app_client("rita")
    before = db_state(review_setup.project)
    for url in ("/api/v1/media", "/api/v1/dashboard", "/api/v1/marked", "/grid", "/"):
        assert client.get(url).status_code == 200
    assert db_state(review_setup.project) == before


def test_review_page_embeds_the_item_the_api_answers(app_client, review_setup):
    """One MediaDetailOut for the page and the API: the page's initial JSON is the API's."""
    client = app_client("rita")
    media_id = first_with_boxes(review_setup.project, review_setup.model_id)
    page = client.get(f"/media/{media_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    start = page.text.index('<script id="initial" type="application/json">')
    embedded = page.text[page.text.index(">", start) + 1 : page.text.index("</script>", start)]
    api = detail(client, media_id)
    assert json.loads(embedded) == api
    assert api["image"].startswith(f"/files/{media_id}/preview?v=")
    assert api["predictions"] and all("class" in p for p in api["predictions"])
