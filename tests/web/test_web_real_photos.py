"""The review app on real camera-trap photos (mct-real: Reconyx frames, mostly infrared
night): grid, thumbnails, review page and accepting boxes that came from their labels."""

from __future__ import annotations

from io import BytesIO

from fastapi.testclient import TestClient
from PIL import Image

from tests.support.real_photos import FRAMES, SEQUENCES
from tests.support.review import login
from wildloop.web.app import create_app


def test_real_photos_render_in_grid_thumbnails_and_review(real_project):
    project, _root = real_project
    with TestClient(create_app(project, secret="real")) as client:
        login(client, "rita")
        grid = client.get("/api/v1/media").json()["items"]
        assert len(grid) == len(SEQUENCES) * FRAMES
        assert {i["class"] for i in grid if i["class"]} <= set(project.classes.names)
        first = grid[0]
        thumb = client.get(first["thumb"])
        assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
        assert "immutable" in thumb.headers["cache-control"]
        with Image.open(BytesIO(thumb.content)) as image:
            assert max(image.size) == 320
        cached = list(project.path("thumbnails").rglob("*-320.jpg"))
        assert len(cached) == 1 and cached[0].name.startswith(first["thumb"].split("v=")[1])
        page = client.get(f"/media/{first['id']}")
        assert page.status_code == 200 and "Great_Tinamou" in page.text
        detail = client.get(f"/api/v1/media/{first['id']}").json()
        assert len(detail["sequence"]) == FRAMES
        assert client.get(detail["image"]).status_code == 200
        original = client.get(detail["original"])
        assert original.status_code == 200 and len(original.content) > 10_000
        accepted = client.post(
            f"/api/v1/media/{first['id']}/actions",
            json={"action": "accept", "expected_revision": 0},
        )
        assert accepted.status_code == 200, accepted.text
        labels = client.get(f"/api/v1/media/{first['id']}").json()["labels"]
        assert [b["class"] for b in labels] == [p["class"] for p in detail["predictions"]]
