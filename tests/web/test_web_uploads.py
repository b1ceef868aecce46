"""Field devices: resumable uploads by content hash, the champion pulled as ONNX with an
ETag, and the uploader role that may do nothing else. Real HTTP through the app (TestClient,
and a real Uvicorn for the stdlib client script), a real database, the real demo detector."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, insert, select, update

from tests.support.review import PASSWORD, add_users, csrf_of
from tests.support.web import serve
from wildloop.cli.demo_cmds import DEMO_CLASSES, DEMO_DETECTOR
from wildloop.evaluation.promotion import make_first_champion
from wildloop.jobs.local import run_job
from wildloop.models.registration import register_model
from wildloop.processing.shadow import set_share
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import Provenance
from wildloop.store.tables import (
    Camera,
    Job,
    JobChunk,
    Media,
    ModelAlias,
    ModelVersion,
    PredictionSet,
    User,
)
from wildloop.synthetic.scenes import SceneGenerator
from wildloop.users.accounts import load_actor
from wildloop.users.tokens import create_token
from wildloop.web import (
    api_analytics,
    audio_pages,
    camera_pages,
    files,
    individual_pages,
    models_page,
    pages,
)
from wildloop.web.app import create_app
from wildloop.web.middleware import MAX_BODY_BYTES

SCRIPT = Path(__file__).parents[2] / "scripts" / "edge_client.py"
ROLES = {"ada": "admin", "rita": "reviewer", "vic": "viewer", "pi": "uploader"}
EXIF_TIME = datetime(2024, 5, 1, 6, 12, 30)
RACE_ROUNDS = 4
RACE_SENDS = 4  # photos sent to one new camera at once


@dataclass
class Edge:
    project: Project
    champion_id: int
    tokens: dict[str, str]
    photos: list[bytes]  # distinct JPEGs with an EXIF capture time

    def client(self, app: Any, name: str) -> TestClient:
        client = TestClient(app, base_url="http://testserver")
        client.headers["Authorization"] = f"Bearer {self.tokens[name]}"
        return client


def with_exif(jpeg: bytes, when: datetime) -> bytes:
    image = Image.open(io.BytesIO(jpeg))
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif)
    return out.getvalue()


@pytest.fixture
def edge(make_project: Callable[..., Project], tmp_path: Path) -> Edge:
    """A project whose champion is the demo ONNX detector, four accounts with tokens."""
    project = make_project(classes=DEMO_CLASSES)
    version = register_model(
        project, DEMO_DETECTOR, "demo-detector", provenance=Provenance(source="registered")
    )
    add_users(project, ROLES)
    tokens = {}
    with project.db.session() as session:
        make_first_champion(session, version.id, None, "test", classes=project.classes)
        for name in ROLES:
            user_id = session.scalar(select(User.id).where(User.username == name))
            actor = load_actor(session, user_id)
            assert actor is not None
            tokens[name] = create_token(session, actor, f"{name} device")[1]
    frames = SceneGenerator(DEMO_CLASSES, seed=5, size=(640, 480)).write(tmp_path / "scenes", 1)
    photos = [with_exif(f.jpeg, EXIF_TIME) for f in frames[:3]]
    return Edge(project, version.id, tokens, photos)


@pytest.fixture
def app(edge: Edge) -> Any:
    return create_app(edge.project, secret="test-secret")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def media_rows(project: Project, digest: str) -> list[Any]:
    with project.db.session() as session:
        return list(
            session.execute(
                select(Media.id, Media.path, Media.status, Media.captured_at, Camera.name)
                .join(Camera, Camera.id == Media.camera_id)
                .where(Media.sha256 == digest)
            )
        )


def test_upload_resumes_after_an_interruption_then_the_item_is_processed(edge, app):
    photo = edge.photos[0]
    digest, size = sha(photo), len(photo)
    url = f"/api/v1/uploads/{digest}"
    query = {"camera": "north ridge", "name": "IMG_0001.JPG"}
    first = edge.client(app, "pi")
    assert first.head(url).headers["Upload-Offset"] == "0"
    cut = size // 3
    part = first.put(
        url,
        params=query,
        content=photo[:cut],
        headers={"Content-Range": f"bytes 0-{cut - 1}/{size}"},
    )
    assert part.status_code == 202 and part.json() == {
        "state": "partial",
        "sha256": digest,
        "offset": cut,
        "media_id": None,
        "job_id": None,
        "processing": None,
    }
    # The connection drops; a new one asks where the upload stands and goes on from there.
    second = edge.client(app, "pi")
    state = second.get(url)
    assert state.json()["offset"] == cut and second.head(url).headers["Upload-Offset"] == str(cut)
    again = second.put(
        url,
        params=query,
        content=photo[:cut],
        headers={"Content-Range": f"bytes 0-{cut - 1}/{size}"},
    )
    assert again.status_code == 409 and f"holds {cut} bytes" in again.json()["error"]["message"]
    assert media_rows(edge.project, digest) == []
    done = second.put(
        url,
        params=query,
        content=photo[cut:],
        headers={"Content-Range": f"bytes {cut}-{size - 1}/{size}"},
    )
    assert done.status_code == 201, done.text
    body = done.json()
    assert body["state"] == "created" and body["offset"] == size and body["job_id"]
    [row] = media_rows(edge.project, digest)
    assert row.id == body["media_id"] and row.status == "ok" and row.name == "north ridge"
    assert row.captured_at == EXIF_TIME  # from the file's EXIF: the device sent no time
    stored = edge.project.root / "uploads" / "north ridge" / "IMG_0001.JPG"
    assert Path(row.path) == stored and stored.read_bytes() == photo
    assert not list((edge.project.root / "uploads" / ".partial").iterdir())
    # Processing on arrival is the ordinary predict job over exactly the new item.
    with edge.project.db.session() as session:
        job = session.get(Job, body["job_id"])
        assert job is not None and job.kind == "predict" and job.params["model"] == "champion"
        chunks = session.scalars(select(JobChunk.payload).where(JobChunk.job_id == job.id)).all()
    assert chunks == [{"media_ids": [row.id]}]
    assert run_job(edge.project, body["job_id"])["state"] == "succeeded"
    with edge.project.db.session() as session:
        made = session.scalars(
            select(PredictionSet.model_version_id).where(PredictionSet.media_id == row.id)
        ).all()
    assert made == [edge.champion_id]


def test_the_same_bytes_twice_are_one_media_item(edge, app):
    client = edge.client(app, "pi")
    photo = edge.photos[1]
    url = f"/api/v1/uploads/{sha(photo)}"
    created = client.put(url, params={"name": "a.jpg"}, content=photo)
    assert created.status_code == 201, created.text
    with edge.project.db.session() as session:
        jobs = session.scalar(select(func.count()).select_from(Job))
    again = client.put(url, params={"name": "other-name.jpg", "camera": "elsewhere"}, content=photo)
    assert again.status_code == 200
    assert (
        again.json()["state"] == "exists" and again.json()["media_id"] == created.json()["media_id"]
    )
    assert again.headers["X-Media-Id"] == str(created.json()["media_id"])
    assert client.get(url).json()["state"] == "exists"
    [row] = media_rows(edge.project, sha(photo))
    assert row.name == "pi"  # no camera given the first time: the device account's name
    with edge.project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == jobs  # no second job


def test_frames_of_a_burst_uploaded_one_by_one_share_a_sequence(edge, app):
    """The device's capture times (not the files' EXIF) group frames sent in separate
    requests into one sequence with one frozen split, as ingest groups a folder."""
    client = edge.client(app, "pi")
    ids = []
    for i, photo in enumerate(edge.photos):
        when = f"2024-06-02T21:00:0{2 * i}"
        put = client.put(
            f"/api/v1/uploads/{sha(photo)}",
            params={"camera": "gate", "captured_at": when},
            content=photo,
        )
        assert put.status_code == 201
        ids.append(put.json()["media_id"])
    with edge.project.db.session() as session:
        rows = session.execute(
            select(Media.captured_at, Media.sequence_id, Media.split).where(Media.id.in_(ids))
        ).all()
    assert sorted(r.captured_at for r in rows) == [
        datetime(2024, 6, 2, 21, 0, s) for s in (0, 2, 4)
    ]
    assert len({(r.sequence_id, r.split) for r in rows}) == 1 and rows[0].sequence_id


def test_a_hash_mismatch_discards_the_upload_with_a_clear_error(edge, app):
    client = edge.client(app, "pi")
    good, other = edge.photos[0], edge.photos[1]
    url = f"/api/v1/uploads/{sha(good)}"
    size = len(other)
    half = client.put(url, content=other[:1000], headers={"Content-Range": f"bytes 0-999/{size}"})
    assert half.status_code == 202
    bad = client.put(
        url, content=other[1000:], headers={"Content-Range": f"bytes 1000-{size - 1}/{size}"}
    )
    assert bad.status_code == 400
    message = bad.json()["error"]["message"]
    assert f"hash to {sha(other)}" in message and "upload the file again" in message
    assert client.get(url).json() == {
        "state": "partial",
        "sha256": sha(good),
        "offset": 0,
        "media_id": None,
        "job_id": None,
        "processing": None,
    }
    assert media_rows(edge.project, sha(other)) == media_rows(edge.project, sha(good)) == []


def test_a_chunk_over_the_body_limit_is_refused_before_anything_is_written(edge, app):
    client = edge.client(app, "pi")
    chunk = bytes(MAX_BODY_BYTES + 1)
    url = f"/api/v1/uploads/{'cd' * 32}"
    size = 3 * MAX_BODY_BYTES
    response = client.put(
        url, content=chunk, headers={"Content-Range": f"bytes 0-{MAX_BODY_BYTES}/{size}"}
    )
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]
    assert client.get(url).json()["offset"] == 0


def test_intact_bytes_that_are_not_an_image_fail_alone_with_the_reason(edge, app):
    client = edge.client(app, "pi")
    junk = b"not a photo at all"
    response = client.put(f"/api/v1/uploads/{sha(junk)}", params={"name": "x.jpg"}, content=junk)
    assert response.status_code == 400
    assert "cannot be ingested: not an image" in response.json()["error"]["message"]
    [row] = media_rows(edge.project, sha(junk))
    assert row.status == "failed"  # recorded as ingest records any bad file
    fine = client.put(f"/api/v1/uploads/{sha(edge.photos[2])}", content=edge.photos[2])
    assert fine.status_code == 201


def test_odd_names_and_cameras_stay_inside_the_uploads_folder(edge, app):
    client = edge.client(app, "pi")
    photo = edge.photos[0]
    query = {"camera": "../../etc", "name": "../" + "é" * 150 + ".jpg"}
    response = client.put(f"/api/v1/uploads/{sha(photo)}", params=query, content=photo)
    assert response.status_code == 201, response.text
    [row] = media_rows(edge.project, sha(photo))
    stored = Path(row.path)
    assert stored.parent == edge.project.root / "uploads" / "_.._.._etc"
    assert len(stored.name.encode()) <= 200 and stored.suffix == ".jpg"
    assert row.name == "../../etc"  # the camera's name is kept as given, as ingest keeps it


def test_a_different_file_under_a_name_already_used_keeps_both(edge, app):
    client = edge.client(app, "pi")
    first, second = edge.photos[0], edge.photos[1]
    for photo in (first, second):
        put = client.put(
            f"/api/v1/uploads/{sha(photo)}", params={"name": "IMG_0001.JPG"}, content=photo
        )
        assert put.status_code == 201
    folder = edge.project.root / "uploads" / "pi"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["IMG_0001-" + sha(second)[:12] + ".JPG", "IMG_0001.JPG"]


def test_the_champion_is_pulled_once_then_answered_304(edge, app):
    client = edge.client(app, "pi")
    response = client.get("/api/v1/models/champion.onnx")
    assert response.status_code == 200
    digest = sha(response.content)
    with edge.project.db.session() as session:
        version = session.get(ModelVersion, edge.champion_id)
        assert version is not None and version.onnx_sha256 == digest
    assert response.headers["ETag"] == f'"{digest}"'
    assert response.headers["X-Model-Sha256"] == digest
    assert response.headers["X-Model-Version"] == "demo-detector"
    assert (
        response.headers["X-Model-Classes"] == '["buck", "doe", "fawn", "cattle", "pig", "raccoon"]'
    )
    unchanged = client.get("/api/v1/models/champion.onnx", headers={"If-None-Match": f'"{digest}"'})
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert unchanged.headers["ETag"] == f'"{digest}"'
    stale = client.get("/api/v1/models/champion.onnx", headers={"If-None-Match": '"0000"'})
    assert stale.status_code == 200 and sha(stale.content) == digest
    by_id = client.get(f"/api/v1/models/{edge.champion_id}.onnx")
    assert by_id.status_code == 200 and sha(by_id.content) == digest


def test_a_pipeline_champion_is_refused_with_the_reason(edge, app):
    with edge.project.db.session() as session:
        classifier_id = session.execute(
            insert(ModelVersion)
            .values(name="crops", task="crop-classifier", source="trained", classes=["doe"])
            .returning(ModelVersion.id)
        ).scalar_one()
        pipeline_id = session.execute(
            insert(ModelVersion)
            .values(
                name="two-stage",
                task="pipeline",
                source="registered",
                classes=["doe"],
                detector_id=edge.champion_id,
                classifier_id=classifier_id,
            )
            .returning(ModelVersion.id)
        ).scalar_one()
        session.execute(
            update(ModelAlias)
            .where(ModelAlias.alias == "champion")
            .values(model_version_id=pipeline_id)
        )
    client = edge.client(app, "pi")
    refused = client.get("/api/v1/models/champion.onnx")
    assert refused.status_code == 409
    assert "is a pipeline" in refused.json()["error"]["message"]
    detector = client.get("/api/v1/models/demo-detector.onnx")  # what the message points to
    assert detector.status_code == 200


# One request a device's token must never get through: reads and writes, API and pages.
REFUSED = [
    ("GET", "/api/v1/media", None),
    ("GET", "/api/v1/media/{m}", None),
    ("POST", "/api/v1/media/{m}/actions", {"action": "accept", "expected_revision": 0}),
    ("PUT", "/api/v1/media/{m}/labels", {"expected_revision": 0, "boxes": []}),
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"username": "x", "role": "admin", "password": "p" * 12}),
    ("POST", "/api/v1/tokens", {"name": "another"}),
    ("GET", "/api/v1/me", None),
    ("GET", "/api/v1/models", None),
    ("POST", "/api/v1/rollback", {"reason": "x"}),
    ("GET", "/api/v1/jobs", None),
    ("GET", "/files/{m}/thumb", None),
    ("GET", "/", None),
    ("GET", "/grid", None),
    ("GET", "/models", None),
]


def test_an_uploader_token_is_refused_everywhere_else(edge, app):
    """Every request in REFUSED is 403 for the device's token and not refused for its role
    when an admin's token sends it; each failure is listed."""
    photo = edge.photos[0]
    pi, ada = edge.client(app, "pi"), edge.client(app, "ada")
    media_id = pi.put(f"/api/v1/uploads/{sha(photo)}", content=photo).json()["media_id"]
    failures = []
    for method, path, body in REFUSED:
        url = path.replace("{m}", str(media_id))
        refused = pi.request(method, url, json=body)
        if refused.status_code != 403 or "uploader role" not in refused.text:
            failures.append(f"{method} {url}: {refused.status_code} {refused.text[:200]}")
        if ada.request(method, url, json=body).status_code in (401, 403):
            failures.append(f"{method} {url}: refused to the admin too")
    assert not failures, "\n".join(failures)


PAGE_ROUTERS = [
    pages.router,
    models_page.router,
    audio_pages.router,
    individual_pages.router,
    camera_pages.router,
    api_analytics.pages,
    files.router,
]
# Routes an uploader may call, or that need no login at all.
OPEN_TO_UPLOADERS = {
    "/api/v1/uploads/{sha256}",
    "/api/v1/models/{ref}.onnx",
    "/api/v1",
    "/login",
    "/logout",
}


def test_every_route_of_the_app_refuses_an_uploader(edge, app):
    """Every API route (from the OpenAPI document) and every page, whatever its method,
    answers an uploader's token 403: the role check comes before any parameter is read.
    Each exception is listed."""
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    for router in PAGE_ROUTERS:
        routes |= {(m, r.path) for r in router.routes for m in getattr(r, "methods", ())}
    assert len(routes) > 80
    pi = edge.client(app, "pi")
    failures = []
    for method, path in sorted(routes):
        if path in OPEN_TO_UPLOADERS:
            continue
        response = pi.request(method, re.sub(r"{[^}]+}", "1", path))
        if response.status_code != 403 or "uploader role" not in response.text:
            failures.append(f"{method} {path}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_an_uploader_logged_in_with_a_password_sees_no_page(edge, app):
    client = TestClient(app, base_url="http://testserver")
    form = {
        "username": "pi",
        "password": PASSWORD,
        "csrf_token": csrf_of(client.get("/login").text),
    }
    logged_in = client.post("/login", data=form, follow_redirects=False)
    assert logged_in.status_code == 303
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 403 and "uploader role" in page.text


def test_who_may_upload_and_pull(edge, app):
    photo = edge.photos[2]
    url = f"/api/v1/uploads/{sha(photo)}"
    viewer = edge.client(app, "vic")
    refused = viewer.put(url, content=photo)
    assert refused.status_code == 403 and "cannot add media" in refused.json()["error"]["message"]
    assert viewer.get("/api/v1/models/champion.onnx").status_code == 200  # reading is fine
    assert edge.client(app, "rita").put(url, content=photo).status_code == 201
    assert edge.client(app, "rita").get("/api/v1/media").status_code == 200
    anonymous = TestClient(app, base_url="http://testserver")
    assert anonymous.get(url).status_code == 401
    assert anonymous.get("/api/v1/models/champion.onnx").status_code == 401


@pytest.fixture
def live(edge: Edge, app: Any) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run_client(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--server", url, "--token", token, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_client_script_resumes_uploads_and_pulls_only_a_changed_model(edge, live, tmp_path):
    card = tmp_path / "DCIM"
    card.mkdir()
    for i, photo in enumerate(edge.photos):
        (card / f"IMG_{i:04d}.JPG").write_bytes(photo)
    (card / "IMG_9999.JPG").write_bytes(b"\xff\xd8 a card write that failed")
    # A photo over the 1 MB body limit goes in 1,000,000-byte chunks; an earlier run sent
    # its first 4000 bytes before the connection dropped.
    noise = numpy.random.default_rng(0).integers(0, 256, (1200, 1600, 3), dtype=numpy.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).save(buffer, "JPEG")
    big = with_exif(buffer.getvalue(), EXIF_TIME)
    assert len(big) > 2 * MAX_BODY_BYTES
    (card / "IMG_0100.JPG").write_bytes(big)
    sent = httpx.put(
        f"{live}/api/v1/uploads/{sha(big)}",
        content=big[:4000],
        headers={
            "Authorization": f"Bearer {edge.tokens['pi']}",
            "Content-Range": f"bytes 0-3999/{len(big)}",
        },
    )
    assert sent.status_code == 202
    head = httpx.head(
        f"{live}/api/v1/uploads/{sha(big)}",
        headers={"Authorization": f"Bearer {edge.tokens['pi']}"},
    )
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "4000"
    out = run_client(live, edge.tokens["pi"], "upload", str(card), "--camera", "north")
    assert out.returncode == 1, out.stdout + out.stderr  # one file is bad
    assert f"IMG_0100.JPG: resuming at byte 4000 of {len(big)}" in out.stdout
    assert "FAILED" in out.stderr and "IMG_9999.JPG" in out.stderr and "not an image" in out.stderr
    for photo in [*edge.photos, big]:
        [row] = media_rows(edge.project, sha(photo))
        assert row.status == "ok" and row.name == "north"
    again = run_client(live, edge.tokens["pi"], "upload", str(card), "--camera", "north")
    assert again.stdout.count("exists ") == 4

    model = tmp_path / "model.onnx"
    pulled = run_client(live, edge.tokens["pi"], "pull", str(model))
    assert pulled.returncode == 0 and "saved" in pulled.stdout, pulled.stderr
    with edge.project.db.session() as session:
        version = session.get(ModelVersion, edge.champion_id)
        assert version is not None and sha(model.read_bytes()) == version.onnx_sha256
    unchanged = run_client(live, edge.tokens["pi"], "pull", str(model))
    assert unchanged.returncode == 0 and "model unchanged" in unchanged.stdout
    model.write_bytes(b"an older model")
    replaced = run_client(live, edge.tokens["pi"], "pull", str(model))
    assert "saved" in replaced.stdout and sha(model.read_bytes()) == version.onnx_sha256


def _put_at_once(live: str, token: str, sends: list[tuple[bytes, dict[str, str]]]) -> list[Any]:
    """PUT each (bytes, params) from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(sends))
    answers: list[httpx.Response | None] = [None] * len(sends)

    def put(i: int) -> None:
        data, params = sends[i]
        with httpx.Client(base_url=live, timeout=60) as client:
            barrier.wait()
            answers[i] = client.put(
                f"/api/v1/uploads/{sha(data)}",
                params=params,
                content=data,
                headers={"Authorization": f"Bearer {token}"},
            )

    threads = [threading.Thread(target=put, args=(i,)) for i in range(len(sends))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(a is not None for a in answers)
    return answers


def test_two_uploads_at_the_same_instant(edge, live):
    """Over real HTTP, at once: two photos to one new camera (both created, one camera),
    and one photo sent twice under two names (one creates it, the other is told it exists);
    never a 500."""
    token = edge.tokens["pi"]
    for r in range(RACE_ROUNDS):
        photos = [
            with_exif(edge.photos[(r + i) % 3], EXIF_TIME + timedelta(seconds=10 * r + i))
            for i in range(RACE_SENDS)
        ]
        new_camera = {"camera": f"race-{r}"}
        answers = _put_at_once(
            live, token, [(p, new_camera | {"name": f"{i}.jpg"}) for i, p in enumerate(photos)]
        )
        assert [a.status_code for a in answers] == [201] * RACE_SENDS, [a.text for a in answers]
        assert {media_rows(edge.project, sha(p))[0].name for p in photos} == {f"race-{r}"}

        photo = with_exif(edge.photos[r % 3], EXIF_TIME + timedelta(seconds=10 * r + 5))
        params = {"camera": f"twice-{r}"}
        answers = _put_at_once(live, token, [(photo, params | {"name": f"{n}.jpg"}) for n in "ab"])
        assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
        assert {a.json()["state"] for a in answers} == {"created", "exists"}
        assert len({a.json()["media_id"] for a in answers}) == 1
        assert [row.status for row in media_rows(edge.project, sha(photo))].count("ok") == 1
    with edge.project.db.session() as session:
        names = session.scalars(select(Camera.name).where(Camera.name.like("race-%"))).all()
        assert sorted(names) == sorted(f"race-{r}" for r in range(RACE_ROUNDS))


def test_an_upload_in_the_shadow_share_gets_a_challenger_job_too(edge, app):
    """With ``[shadow] share = 1`` and a challenger, an upload queues the champion's job
    and a background ``shadow`` job of the challenger over the same item."""
    challenger = register_model(
        edge.project,
        DEMO_DETECTOR,
        "demo-detector-b",
        imgsz=320,
        provenance=Provenance(source="registered"),
    )
    with edge.project.db.session() as session:
        aliases.move_alias(session, "challenger", challenger.id, None, "test")
    set_share(edge.project, 1.0)
    photo = edge.photos[2]
    body = (
        edge.client(app, "pi")
        .put(f"/api/v1/uploads/{sha(photo)}", params={"name": "s.jpg"}, content=photo)
        .json()
    )
    with edge.project.db.session() as session:
        shadow = session.scalars(select(Job).where(Job.kind == "shadow")).one()
        payloads = session.scalars(select(JobChunk.payload).where(JobChunk.job_id == shadow.id))
        assert [m for p in payloads for m in p["media_ids"]] == [body["media_id"]]
    assert shadow.params["model_version_id"] == challenger.id and shadow.id != body["job_id"]
    assert run_job(edge.project, shadow.id)["state"] == "succeeded"
    with edge.project.db.session() as session:
        made = session.scalars(
            select(PredictionSet.model_version_id).where(PredictionSet.media_id == body["media_id"])
        ).all()
    assert made == [challenger.id]  # the champion's own job has not run yet
