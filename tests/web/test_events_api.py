"""Events and "more like this" through the JSON API and the pages, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from tests.crops.test_crop_storage import _process
from tests.support.engine import ingest_dir
from tests.support.review import add_users, db_state, logged_in_clients
from tests.support.web import USERS, ReviewSetup
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import CropEmbedding, Job, Media, Prediction
from wildloop.synthetic.scenes import Frame
from wildloop.web.app import create_app


def test_the_event_api_labels_every_frame_and_refuses_a_stale_one(
    app_client: Callable[..., object], review_setup: ReviewSetup
) -> None:
    project = review_setup.project
    rita, remy, vic = app_client("rita"), app_client("remy"), app_client("vic")
    listed = rita.get("/api/v1/events?unreviewed=true&limit=2").json()  # type: ignore[attr-defined]
    assert len(listed["items"]) == 2 and listed["next_cursor"] == listed["items"][1]["id"]
    event_id = listed["items"][0]["id"]
    event = rita.get(f"/api/v1/events/{event_id}").json()  # type: ignore[attr-defined]
    with project.db.session() as session:
        frames = list(
            session.scalars(
                select(Media.id)
                .where(Media.sequence_id == event_id)
                .order_by(Media.captured_at, Media.id)
            )
        )
    assert [f["id"] for f in event["frames"]] == frames
    assert event["suggestion_text"].startswith("suggested: ")
    assert all("class" in b and b["score"] is not None for f in event["frames"] for b in f["boxes"])
    expected = {str(f["id"]): f["label_revision"] for f in event["frames"]}

    # A viewer may look, not label; nothing is written.
    before = db_state(project)
    denied = vic.post(  # type: ignore[attr-defined]
        f"/api/v1/events/{event_id}/actions",
        json={"action": "set_class", "class": "doe", "expected_revisions": expected},
    )
    assert denied.status_code == 403 and db_state(project) == before

    # remy labels one frame meanwhile: rita's whole action is refused, nothing half done.
    first = event["frames"][0]["id"]
    saved = remy.post(  # type: ignore[attr-defined]
        f"/api/v1/media/{first}/actions", json={"action": "empty", "expected_revision": 0}
    )
    assert saved.status_code == 200
    before = db_state(project)
    stale = rita.post(  # type: ignore[attr-defined]
        f"/api/v1/events/{event_id}/actions",
        json={"action": "set_class", "class": "doe", "expected_revisions": expected},
    )
    assert stale.status_code == 409, stale.text
    assert f"media {first} (now revision 1)" in stale.json()["error"]["message"]
    assert db_state(project) == before

    # Reloaded, the same key lands on every frame, one revision each.
    event = rita.get(f"/api/v1/events/{event_id}").json()  # type: ignore[attr-defined]
    expected = {str(f["id"]): f["label_revision"] for f in event["frames"]}
    done = rita.post(  # type: ignore[attr-defined]
        f"/api/v1/events/{event_id}/actions",
        json={"action": "set_class", "class": "doe", "expected_revisions": expected},
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert {int(k): v for k, v in body["revisions"].items()} == {
        int(k): v + 1 for k, v in expected.items()
    } | {first: 1}  # remy's empty frame has no box to classify: it stays empty
    boxed = [f for f in event["frames"][1:] if f["boxes"]]
    if boxed:
        assert body["counts"] == {"doe": max(len(f["boxes"]) for f in boxed)}
    after = rita.get(f"/api/v1/events/{event_id}").json()  # type: ignore[attr-defined]
    assert after["reviewed_frames"] == len(frames) and after["counts"] == body["counts"]
    page = rita.get(f"/events/{event_id}")  # type: ignore[attr-defined]
    assert page.status_code == 200 and after["suggestion_text"] in page.text.replace("\\u00d7", "×")


def test_more_like_this_serves_frames_from_the_crop_index_as_a_batch(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    scenes(bursts=4, seed=5)
    ingest_dir(project, tmp_path / "scenes")
    project.config.crops.embed = True
    project.config.crops.min_score = 0.3
    _process(project)
    add_users(project, USERS)
    with project.db.session() as session:
        rows = session.execute(
            select(CropEmbedding.media_id, CropEmbedding.prediction_id, Prediction.score)
            .join(Prediction, Prediction.id == CropEmbedding.prediction_id)
            .order_by(CropEmbedding.media_id, Prediction.score.desc())
        ).all()
    embedded = sorted({r.media_id for r in rows})
    assert len(embedded) >= 4
    query = embedded[0]
    other_box = next(r.prediction_id for r in rows if r.media_id == embedded[1])
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        rita = client("rita")
        # No index yet: the request builds nothing, it submits the index job and says so.
        missing = rita.get(f"/api/v1/media/{query}/similar")
        assert missing.status_code == 503, missing.text
        with project.db.session() as session:
            jobs = session.scalars(select(Job).where(Job.kind == "crop-index")).all()
        assert len(jobs) == 1 and f"job {jobs[0].id}" in missing.json()["error"]["message"]
        assert rita.get(f"/api/v1/media/{query}/similar").status_code == 503
        with project.db.session() as session:  # asked twice, still one job
            assert len(session.scalars(select(Job).where(Job.kind == "crop-index")).all()) == 1
        assert run_job(project, jobs[0].id)["state"] == "succeeded"

        found = rita.get(f"/api/v1/media/{query}/similar?k=3").json()
        best_box = next(r.prediction_id for r in rows if r.media_id == query)
        assert found["query_id"] == query and found["prediction_id"] == best_box
        ids = [i["id"] for i in found["items"]]
        scores = [i["similarity"] for i in found["items"]]
        assert len(ids) == 3 and query not in ids and len(set(ids)) == 3
        assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1.0001 for s in scores)
        everything = rita.get(f"/api/v1/media/{query}/similar?k=200").json()["items"]
        assert {i["id"] for i in everything} == set(embedded) - {query}

        # Like finds like: a frame's nearest frame is mostly one of its own burst (the same
        # animal and background; chance would be about one in the number of bursts).
        with project.db.session() as session:
            burst = dict(session.execute(select(Media.id, Media.sequence_id)).all())
        same = sum(
            burst[rita.get(f"/api/v1/media/{m}/similar?k=1").json()["items"][0]["id"]] == burst[m]
            for m in embedded
        )
        assert same >= 0.75 * len(embedded) and len(set(burst.values())) >= 3

        # From a chosen box; a box of another frame is refused.
        chosen = rita.get(f"/api/v1/media/{embedded[1]}/similar?prediction={other_box}").json()
        assert chosen["prediction_id"] == other_box
        wrong = rita.get(f"/api/v1/media/{query}/similar?prediction={other_box}")
        assert wrong.status_code == 404 and "crop embedding" in wrong.json()["error"]["message"]

        # The page lists them as grid tiles, and the grid's batch labels them.
        page = rita.get(f"/media/{query}/similar?k=3")
        assert page.status_code == 200
        assert all(f'data-id="{i}"' in page.text for i in ids)
        batch = rita.post("/api/v1/batch", json={"ids": ids, "action": "empty"})
        assert batch.status_code == 200 and batch.json()["applied"] == ids
