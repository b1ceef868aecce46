"""Search by example in the review UI: the nearest windows (real log-mel embeddings, the
persisted index) as a reviewable list, over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.audio.window_support import (  # noqa: F401 (audio_project is a fixture)
    AudioReview,
    audio_project,
    audio_review,
    write_recording,
)
from tests.support.review import add_users, logged_in_clients
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.search import update_index
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.web.app import create_app


@pytest.fixture
def review(audio_project: Project, tmp_path: Path) -> AudioReview:  # noqa: F811
    setup = audio_review(audio_project, tmp_path / "sounds")
    add_users(audio_project, {"rita": "reviewer"})
    return setup


@pytest.fixture
def client(review: AudioReview) -> Iterator[Callable[..., TestClient]]:
    with logged_in_clients(create_app(review.project, secret="test-secret")) as make:
        yield make


def _index(project: Project) -> None:
    submitted = submit_embed(project)
    assert run_job(project, submitted.job_id)["state"] == "succeeded"
    update_index(project)


def test_similar_windows_come_from_other_recordings_most_similar_first(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    c = client("rita")
    query = review.dawn[1].media_id  # the wren call at 1..2 s
    missing = c.get(f"/api/v1/windows/{query}/similar")
    assert missing.status_code == 400
    assert "wildloop audio index" in missing.json()["error"]["message"]
    _index(review.project)
    body = c.get(f"/api/v1/windows/{query}/similar?k=4").json()
    night = {w.media_id for w in review.night}
    assert len(body["items"]) == 4
    assert {i["id"] for i in body["items"]} <= night
    scores = [i["similarity"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)
    assert body["items"][0]["spectrogram"].startswith(f"/api/v1/windows/{body['items'][0]['id']}/")
    mine = c.get(f"/api/v1/windows/{query}/similar?k=2&same_recording=true").json()["items"]
    assert review.dawn[0].media_id in {i["id"] for i in mine}  # it holds the same call
    assert query not in {i["id"] for i in mine}
    page = c.get(f"/audio/{query}/similar?k=3")
    assert page.status_code == 200
    assert page.text.count('class="tile wtile') == 3
    # The shared batch bar, in its audio form: "nothing", no image reasons.
    assert "<kbd>e</kbd> nothing" in page.text and "wrong_species" not in page.text
    assert 'id="batchbar"' in c.get("/audio?kind=window").text
    assert c.get("/api/v1/windows/999999/similar").status_code == 404


def test_an_uploaded_clip_finds_the_windows_that_sound_like_it(
    review: AudioReview, client: Callable[..., TestClient], tmp_path: Path
) -> None:
    c = client("rita")
    _index(review.project)
    owl = write_recording(tmp_path / "owl.wav", 3.0, [(0.5, 1.5, 500.0)])
    body = c.post("/api/v1/windows/similar-to-clip?k=3", content=owl.read_bytes()).json()
    assert body["query_id"] is None and len(body["items"]) == 3
    hoots = {w.media_id for w in review.night if w.t_start <= 4.5 < w.t_end}
    assert body["items"][0]["id"] in hoots  # a window holding the owl's call comes first
    page = c.get("/audio/search")
    assert page.status_code == 200 and 'id="clip-file"' in page.text
    assert 'href="/audio/search"' in c.get("/audio").text
    refused = c.post("/api/v1/windows/similar-to-clip", content=b"these bytes are not sound")
    assert refused.status_code == 400 and "cannot be read as audio" in refused.text
