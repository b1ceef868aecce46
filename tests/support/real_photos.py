"""Real photos for review tests: a few mct-real bursts ingested, their hand-drawn YOLO boxes
written as a champion model's predictions, and a reviewer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.review import PASSWORD
from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.project import Project
from wildloop.store.tables import Media, ModelAlias, ModelVersion, Prediction, PredictionSet
from wildloop.users.accounts import create_user

SEQUENCES = ("SEQ75016", "SEQ75107")
FRAMES = 4


def names(root: Path) -> list[str]:
    lines = (root / "data.yaml").read_text().splitlines()
    return [line.split(":", 1)[1].strip() for line in lines if line.startswith("  ")]


@pytest.fixture
def real_project(make_project: Any, shared_data: Path) -> tuple[Project, Path]:
    root = shared_data / "mct-real"
    project = make_project(classes=names(root), name="mct")
    start = datetime(2012, 6, 1, 22, 0, 0)
    items = [
        IngestItem(
            path=root / "images" / f"{seq}_IMG_{n:04d}.JPG",
            camera=f"reconyx-{seq[-3:]}",
            sequence_key=seq,
            captured_at=start + timedelta(hours=s, seconds=n),
        )
        for s, seq in enumerate(SEQUENCES)
        for n in range(1, FRAMES + 1)
    ]
    report = ingest_items(project, items)
    assert report.added == len(items), report.failures
    _labels_as_champion(project, root)
    with project.db.session() as session:
        create_user(session, "rita", "reviewer", PASSWORD)
    return project, root


def _labels_as_champion(project: Project, root: Path) -> None:
    """The photos' hand-drawn YOLO boxes, written as a model's predictions."""
    with project.db.session() as session:
        version = ModelVersion(
            name="labels-as-model", source="external", classes=project.classes.names
        )
        session.add(version)
        session.flush()
        session.add(ModelAlias(alias="champion", model_version_id=version.id))
        for media_id, path in session.execute(select(Media.id, Media.path)).all():
            label_file = root / "labels" / (Path(path).stem + ".txt")
            boxes = sorted(set(label_file.read_text().split("\n"))) if label_file.exists() else []
            rows = []
            for line in filter(None, boxes):
                c, cx, cy, w, h = line.split()
                rows.append(
                    (int(c), float(cx) - float(w) / 2, float(cy) - float(h) / 2, float(w), float(h))
                )
            pset = PredictionSet(
                media_id=media_id,
                model_version_id=version.id,
                top_class_id=rows[0][0] if rows else None,
                top_score=0.9 if rows else None,
                count=len(rows),
            )
            session.add(pset)
            session.flush()
            for c, x, y, w, h in rows:
                session.add(
                    Prediction(
                        prediction_set_id=pset.id,
                        class_id=c,
                        class_name=project.classes.name_of(c),
                        score=0.9,
                        x=x,
                        y=y,
                        w=w,
                        h=h,
                    )
                )
