"""The audio review API over real HTTP: windows, spectrograms, clips, labels as spans and
time-frequency boxes, the shared action and batch routes, roles and bad ids."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from tests.audio.window_support import (  # noqa: F401 (audio_project is a fixture)
    RATE,
    AudioReview,
    audio_project,
    audio_review,
)
from tests.support.review import add_users, logged_in_clients
from wildloop.audio.spectrogram import HEIGHT, PX_PER_S
from wildloop.project import Project
from wildloop.store.tables import LabelBox, LabelRevision
from wildloop.web.app import create_app

USERS = {"rita": "reviewer", "remy": "reviewer", "vic": "viewer"}


@pytest.fixture
def review(audio_project: Project, tmp_path: Path) -> AudioReview:  # noqa: F811
    project = audio_project
    setup = audio_review(project, tmp_path / "sounds")
    add_users(project, USERS)
    return setup


@pytest.fixture
def client(review: AudioReview) -> Iterator[Callable[..., TestClient]]:
    with logged_in_clients(create_app(review.project, secret="test-secret")) as make:
        yield make


def test_the_list_holds_windows_only_with_the_models_view(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    body = client("rita").get("/api/v1/windows?limit=100").json()
    assert [i["id"] for i in body["items"]] == [w.media_id for w in review.windows]
    first = body["items"][0]
    assert (first["class"], first["class_source"], first["score"]) == ("wren", "model", 0.9)
    assert (first["site"], first["t_start"], first["t_end"]) == ("pond", 0.0, 3.0)
    assert first["spectrogram"].startswith(f"/api/v1/windows/{first['id']}/spectrogram?view=window")
    owls = (
        client("rita")
        .get("/api/v1/windows?class=owl&min_score=0.5&time_from=20:00&time_to=05:00")
        .json()
    )
    assert [i["id"] for i in owls["items"]] == [
        w.media_id for w in review.night if 3.0 <= w.t_start <= 4.5
    ]


def test_detail_places_the_window_in_its_recording(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    window = review.dawn[1]
    d = client("rita").get(f"/api/v1/windows/{window.media_id}").json()
    assert (d["t_start"], d["t_end"], d["recording_id"]) == (1.5, 4.5, window.recording_id)
    assert (d["view_start"], d["view_end"]) == (-1.5, 7.5)  # one window either side
    assert (d["clip_start"], d["clip_end"], d["f_max"]) == (0.0, 7.5, RATE / 2)
    assert [(p["class"], p["span"]["t_start"], p["shown"]) for p in d["predictions"]] == [
        ("wren", 1.5, True),
        ("frog", 1.5, True),
    ]
    assert d["prev_id"] == review.dawn[0].media_id
    assert d["next_id"] == review.dawn[2].media_id
    assert [f["id"] for f in d["sequence"]] == [w.media_id for w in review.dawn]


def test_spectrogram_is_a_cached_png_of_the_window_and_its_neighbours(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    c = client("rita")
    window = review.dawn[0]
    d = c.get(f"/api/v1/windows/{window.media_id}").json()
    response = c.get(d["spectrogram"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert "immutable" in response.headers["cache-control"]
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.size == (9 * PX_PER_S, HEIGHT)  # -3..6 s
        pixels = np.asarray(image.convert("L"))
    wren_row = round((1 - 4000 / (RATE / 2)) * (HEIGHT - 1))
    assert pixels[wren_row, 4 * PX_PER_S + 50] < 60  # the call at 1..2 s (drawn from -3 s)
    cached = list((review.project.root / "thumbnails" / "spectrograms").rglob("*.png"))
    assert len(cached) == 1
    tile = c.get(f"/api/v1/windows/{window.media_id}/spectrogram?view=window")
    with Image.open(io.BytesIO(tile.content)) as image:
        assert image.size == (3 * PX_PER_S, HEIGHT)


def test_clip_is_wav_of_the_window_with_context(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    window = review.dawn[2]  # 3..6 s of a 9 s recording
    response = client("vic").get(f"/api/v1/windows/{window.media_id}/clip?context=1.5")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert float(response.headers["x-clip-start"]) == 1.5
    assert float(response.headers["x-clip-end"]) == 7.5
    data, rate = sf.read(io.BytesIO(response.content))
    assert (rate, len(data)) == (RATE, 6 * RATE)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/windows/999999",
        "/api/v1/windows/999999/spectrogram",
        "/api/v1/windows/999999/clip",
        "/api/v1/windows/{recording}",  # a recording is not a window
        "/api/v1/windows/{recording}/clip",
    ],
)
def test_bad_ids_are_404_json(
    review: AudioReview, client: Callable[..., TestClient], path: str
) -> None:
    response = client("rita").get(path.format(recording=review.dawn[0].recording_id))
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"


def test_bad_parameters_and_anonymous_requests_are_refused(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    media_id = review.dawn[0].media_id
    c = client("rita")
    assert c.get(f"/api/v1/windows/{media_id}/clip?context=60").status_code == 422
    assert c.get(f"/api/v1/windows/{media_id}/spectrogram?view=huge").status_code == 422
    assert c.get("/api/v1/windows?time_from=soon").status_code == 400
    assert client(None).get(f"/api/v1/windows/{media_id}/clip").status_code == 401
    assert client(None).get(f"/api/v1/windows/{media_id}/spectrogram").status_code == 401


def test_missing_sound_file_is_a_clear_404(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    Path(
        client("rita")
        .get(f"/api/v1/windows/{review.night[0].media_id}")
        .json()["path"]
        .split("#")[0]
    ).unlink()
    response = client("rita").get(f"/api/v1/windows/{review.night[0].media_id}/clip")
    assert response.status_code == 404
    assert "missing" in response.json()["error"]["message"]


def _labels(project: Project, media_id: int) -> list[tuple[object, ...]]:
    with project.db.session() as session:
        rev = session.scalars(
            select(LabelRevision)
            .where(LabelRevision.media_id == media_id)
            .order_by(LabelRevision.revision.desc())
            .limit(1)
        ).one()
        rows = session.execute(
            select(
                LabelBox.class_id,
                LabelBox.t_start,
                LabelBox.t_end,
                LabelBox.f_low,
                LabelBox.f_high,
                LabelBox.false_positive,
            )
            .where(LabelBox.revision_id == rev.id)
            .order_by(LabelBox.id)
        ).all()
    return [tuple(r) for r in rows]


def test_actions_and_batches_use_the_shared_routes(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    c = client("rita")
    first, second = review.dawn[0].media_id, review.dawn[1].media_id
    r = c.post(f"/api/v1/media/{first}/actions", json={"action": "accept", "expected_revision": 0})
    assert r.status_code == 200, r.text
    d = c.get(f"/api/v1/windows/{first}").json()
    assert [(b["class"], b["span"]["t_start"], b["box"]) for b in d["labels"]] == [
        ("wren", 0.0, None),
        ("frog", 0.0, None),
    ]
    assert c.get(f"/api/v1/media/{first}").status_code == 200  # the image route copes
    batch = c.post("/api/v1/batch", json={"ids": [second], "action": "set_class", "class": "owl"})
    assert batch.json()["applied"] == [second]
    owl = review.project.classes.id_of("owl")
    assert _labels(review.project, second)[0] == (owl, 1.5, 4.5, None, None, False)
    viewer = client("vic").post(f"/api/v1/media/{first}/actions", json={"action": "empty"})
    assert viewer.status_code == 403


def test_time_frequency_boxes_are_stored_as_labels(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    window = review.dawn[0]
    c = client("rita")
    shown = c.get(f"/api/v1/windows/{window.media_id}").json()["predictions"]
    wren_prediction = next(p["id"] for p in shown if p["class"] == "wren")
    body = {
        "expected_revision": 0,
        "boxes": [
            {"t_start": 0.0, "t_end": 3.0, "class": "wren", "prediction_id": wren_prediction},
            # drawn partly over the next window's audio: kept within the window
            {"t_start": 2.5, "t_end": 3.6, "f_low": 3500, "f_high": 99999, "class": "frog"},
        ],
    }
    r = c.put(f"/api/v1/windows/{window.media_id}/labels", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 1
    wren, frog = (review.project.classes.id_of(n) for n in ("wren", "frog"))
    assert _labels(review.project, window.media_id) == [
        (wren, 0.0, 3.0, None, None, False),
        (frog, 2.5, 3.0, 3500.0, RATE / 2, False),
        (None, 0.0, 3.0, None, None, True),  # the model's frog, not confirmed
    ]
    stale = c.put(f"/api/v1/windows/{window.media_id}/labels", json=body)
    assert stale.status_code == 409
    outside = {"expected_revision": 1, "boxes": [{"t_start": 5, "t_end": 6, "class": "owl"}]}
    refused = c.put(f"/api/v1/windows/{window.media_id}/labels", json=outside)
    assert refused.status_code == 400
    assert "outside the window" in refused.json()["error"]["message"]
    band = {
        "expected_revision": 1,
        "boxes": [{"t_start": 0, "t_end": 1, "f_low": 900, "f_high": 100, "class": "owl"}],
    }
    assert c.put(f"/api/v1/windows/{window.media_id}/labels", json=band).status_code == 400


def test_pages_render_for_windows_and_refuse_other_ids(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    c = client("rita")
    listing = c.get("/audio?reviewed=no&time_from=05:00&time_to=06:00")
    assert listing.status_code == 200
    assert listing.text.count('class="tile wtile') == len(review.dawn)
    assert 'href="/audio" class="active">Audio</a>' in listing.text  # the nav offers audio
    page = c.get(f"/audio/{review.dawn[0].media_id}")
    assert page.status_code == 200
    assert 'id="spectrogram"' in page.text and 'id="player"' in page.text
    assert "nothing &amp; next" in page.text  # the shortcut legend
    tiles = c.get("/audio/tiles?limit=2")
    assert tiles.status_code == 200
    missing = c.get(f"/audio/{review.dawn[0].recording_id}", headers={"Accept": "text/html"})
    assert missing.status_code == 404
    # The image review screen hands a window (linked from the grid) to the audio one.
    moved = c.get(f"/media/{review.dawn[0].media_id}?reviewed=no", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/audio/{review.dawn[0].media_id}?reviewed=no"


def test_batch_over_a_window_filter_touches_only_matching_windows(
    review: AudioReview, client: Callable[..., TestClient]
) -> None:
    body = {
        "filter": {"kind": "window", "camera": "wood", "min_score": "0.5"},
        "action": "accept",
    }
    r = client("rita").post("/api/v1/batch", json=body)
    assert r.status_code == 200, r.text
    owls = [w.media_id for w in review.night if 3.0 <= w.t_start <= 4.5]
    assert sorted(r.json()["applied"]) == owls
    owl = review.project.classes.id_of("owl")
    for media_id in owls:
        assert _labels(review.project, media_id) == [
            (owl, *_span(review, media_id), None, None, False)
        ]
    listed = client("rita").get("/api/v1/windows?reviewed=yes").json()["items"]
    assert [(i["id"], i["class"], i["class_source"]) for i in listed] == [
        (m, "owl", "human") for m in owls
    ]


def _span(review: AudioReview, media_id: int) -> tuple[float, float]:
    window = next(w for w in review.windows if w.media_id == media_id)
    return window.t_start, window.t_end
