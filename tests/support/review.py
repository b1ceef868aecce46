"""Helpers for review tests: generated frames ingested with their bursts, a stand-in for a
detector's output (the engine writes real ones), and a snapshot of everything a write could
change, to prove that refused requests change nothing."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from wildloop.jobs.local import run_job
from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.project import Project
from wildloop.review.queue import QueueItem, value_queue
from wildloop.store.tables import (
    ApiToken,
    AuditEntry,
    Job,
    LabelBox,
    LabelRevision,
    Media,
    ModelAlias,
    ModelVersion,
    Prediction,
    PredictionSet,
    Snapshot,
    User,
)
from wildloop.synthetic.scenes import Frame
from wildloop.users.accounts import create_user
from wildloop.users.passwords import hash_password

PASSWORD = "correct horse battery"


@functools.cache
def password_hash() -> str:
    """One Argon2 hash per test session: hashing is slow on purpose (~0.1 s)."""
    return hash_password(PASSWORD)


def add_users(project: Project, roles: dict[str, str]) -> None:
    """Accounts (name -> role) that log in with PASSWORD."""
    with project.db.session() as session:
        for name, role in roles.items():
            create_user(session, name, role, None)
            session.execute(
                update(User).where(User.username == name).values(password_hash=password_hash())
            )


@contextmanager
def logged_in_clients(app: FastAPI) -> Iterator[Callable[..., TestClient]]:
    """``client(name)``: a TestClient on ``app`` logged in as that user (None: anonymous)."""
    opened: list[TestClient] = []

    def client(name: str | None) -> TestClient:
        c = TestClient(app, base_url="http://testserver")
        c.__enter__()
        opened.append(c)
        if name is not None:
            login(c, name)
        return c

    try:
        yield client
    finally:
        for c in opened:
            c.__exit__(None, None, None)


@dataclass(frozen=True)
class Item:
    media_id: int
    frame: Frame


def ingest_frames(project: Project, root: Path, frames: list[Frame]) -> list[Item]:
    """Ingest generated frames with their burst keys; return them with their media ids."""
    items = [
        IngestItem(
            path=root / f.file_name,
            camera=f.camera,
            sequence_key=f.sequence_key,
            captured_at=f.captured_at,
        )
        for f in frames
    ]
    ingest_items(project, items)
    with project.db.session() as session:
        ids = dict(session.execute(select(Media.path, Media.id)).all())
    return [Item(ids[str(root / f.file_name)], f) for f in frames]


def add_champion(project: Project, items: list[Item], seed: int = 1, name: str = "fake-v1") -> int:
    """Predictions for every item from a model that is mostly right: jittered true boxes,
    one in seven with the wrong class, one in nine missed, a false positive now and then."""
    rng = random.Random(seed)
    classes = project.classes
    with project.db.session() as session:
        version = ModelVersion(
            name=name, source="external", classes=classes.names, params={}, metrics={}
        )
        session.add(version)
        session.flush()
        if session.get(ModelAlias, "champion") is None:
            session.add(ModelAlias(alias="champion", model_version_id=version.id))
        for item in items:
            preds = _fake_predictions(item.frame, classes.names, rng)
            pset = PredictionSet(
                media_id=item.media_id,
                model_version_id=version.id,
                top_class_id=classes.id_of(preds[0][0]) if preds else None,
                top_score=preds[0][1] if preds else None,
                count=len(preds),
            )
            session.add(pset)
            session.flush()
            if preds:
                session.execute(
                    insert(Prediction),
                    [
                        {
                            "prediction_set_id": pset.id,
                            "class_id": classes.id_of(n),
                            "class_name": n,
                            "score": s,
                            "x": x,
                            "y": y,
                            "w": w,
                            "h": h,
                        }
                        for n, s, x, y, w, h in preds
                    ],
                )
        return version.id


def _fake_predictions(
    frame: Frame, names: list[str], rng: random.Random
) -> list[tuple[str, float, float, float, float, float]]:
    preds = []
    for animal in frame.animals:
        if rng.random() < 1 / 9:
            continue
        name = rng.choice(names) if rng.random() < 1 / 7 else animal.class_name
        b = animal.box
        x = min(max(0.0, b.x + rng.uniform(-0.01, 0.01)), 0.98)
        y = min(max(0.0, b.y + rng.uniform(-0.01, 0.01)), 0.98)
        preds.append((name, rng.uniform(0.3, 0.97), x, y, min(b.w, 1 - x), min(b.h, 1 - y)))
    if rng.random() < 0.1:
        preds.append((names[0], rng.uniform(0.26, 0.4), 0.05, 0.7, 0.1, 0.1))
    return sorted(preds, key=lambda p: -p[1])


def db_state(project: Project) -> dict[str, Any]:
    """Everything a review write can change: row counts and each item's review state."""
    with project.db.session() as session:
        counts = {
            table.__tablename__: session.scalar(select(func.count()).select_from(table))
            for table in (LabelRevision, LabelBox, AuditEntry, ApiToken, User, Job, Snapshot)
        }
        media = session.execute(
            select(
                Media.id,
                Media.label_revision,
                Media.reviewed,
                Media.label_class_id,
                Media.marked,
                Media.marked_by,
            ).order_by(Media.id)
        ).all()
        users = session.execute(
            select(User.username, User.role, User.disabled, User.password_hash).order_by(User.id)
        ).all()
    return {
        "counts": counts,
        "media": [tuple(r) for r in media],
        "users": [tuple(u) for u in users],
    }


def first_with_boxes(project: Project, model_id: int, minimum: int = 1) -> int:
    """An item whose prediction set has at least ``minimum`` predictions."""
    with project.db.session() as session:
        found = session.scalar(
            select(PredictionSet.media_id)
            .where(PredictionSet.model_version_id == model_id, PredictionSet.count >= minimum)
            .order_by(PredictionSet.media_id)
            .limit(1)
        )
    assert found is not None
    return found


def first_without_boxes(project: Project, model_id: int) -> int:
    with project.db.session() as session:
        found = session.scalar(
            select(PredictionSet.media_id)
            .where(PredictionSet.model_version_id == model_id, PredictionSet.count == 0)
            .order_by(PredictionSet.media_id)
            .limit(1)
        )
    assert found is not None
    return found


def login(client: Any, name: str, password: str = PASSWORD) -> None:
    """Log in through the form and keep the CSRF token as a default header."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = csrf_of(client.get("/").text)


def csrf_of(html: str) -> str:
    marker = 'name="csrf-token" content="'
    start = html.index(marker) + len(marker)
    return html[start : html.index('"', start)]


def refreshed(project: Project, limit: int, exclude: int | None = None) -> list[QueueItem]:
    """The queue after running the refresh job a stale order asks for (as a worker would)."""
    page = value_queue(project, limit=limit, exclude=exclude)
    if page.refreshing is not None:
        assert run_job(project, page.refreshing)["state"] == "succeeded"
        page = value_queue(project, limit=limit, exclude=exclude)
    assert page.refreshing is None and page.computed_at is not None
    return page.items


def plant_static_box(project: Project, model_id: int, camera_id: int | None = None) -> list[int]:
    """A "rock" the model calls a pig at one place on every frame of one camera (the first
    camera with predictions unless given); returns those frames' media ids."""
    with project.db.session() as session:
        sets = session.execute(
            select(PredictionSet.id, PredictionSet.media_id, Media.camera_id)
            .join(Media, Media.id == PredictionSet.media_id)
            .where(PredictionSet.model_version_id == model_id)
            .order_by(PredictionSet.id)
        ).all()
        camera = sets[0].camera_id if camera_id is None else camera_id
        planted = [s for s in sets if s.camera_id == camera]
        session.execute(
            insert(Prediction),
            [
                {
                    "prediction_set_id": s.id,
                    "class_id": project.classes.id_of("pig"),
                    "class_name": "pig",
                    "score": 0.6,
                    "x": 0.05 + 0.001 * (n % 3),
                    "y": 0.7,
                    "w": 0.12,
                    "h": 0.2,
                }
                for n, s in enumerate(planted)
            ],
        )
    return [s.media_id for s in planted]
