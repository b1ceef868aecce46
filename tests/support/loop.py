"""Helpers for dataset, evaluation and loop tests: ingest generated scenes, label them as a
person would, and record a model's predictions in the real tables."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from wildloop.cli.demo_cmds import DEMO_DETECTOR
from wildloop.datasets.snapshots import SnapshotData
from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.evaluation.promotion import make_first_champion
from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.models.registration import register_model
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Media, ModelVersion, Prediction, PredictionSet
from wildloop.synthetic.scenes import Frame


def ingest_frames(project: Project, frames: Sequence[Frame], root: Path) -> dict[str, int]:
    """Ingest generated frames with their burst as sequence key; file name -> media id."""
    items = [
        IngestItem(
            path=root / f.file_name,
            camera=f.camera,
            sequence_key=f.sequence_key,
            captured_at=f.captured_at,
        )
        for f in frames
    ]
    report = ingest_items(project, items)
    assert report.failed == 0, report.failures
    with project.db.session() as session:
        rows = session.execute(select(Media.path, Media.id)).all()
    by_path = {Path(p): i for p, i in rows}
    return {f.file_name: by_path[(root / f.file_name).resolve()] for f in frames}


def demo_champion(project: Project, frames: Sequence[Frame], root: Path) -> int:
    """Generated scenes ingested and labelled, the demo detector registered and made the
    first champion (what a crop classifier pairs with); returns the detector's id."""
    label_frames(project, frames, ingest_frames(project, frames, root))
    detector = register_model(project, DEMO_DETECTOR, "demo-detector")
    with project.db.session() as session:
        make_first_champion(session, detector.id, None, "first", classes=project.classes)
    return detector.id


def truth_labels(frame: Frame, project: Project) -> LabelSet:
    boxes = tuple(
        LabelBoxValue(box=a.box, class_id=project.classes.id_of(a.class_name))
        for a in frame.animals
    )
    return LabelSet(boxes=boxes, empty=not boxes)


def label_frames(
    project: Project,
    frames: Iterable[Frame],
    ids: dict[str, int],
    author: str = "alice",
) -> int:
    """Save each frame's true boxes as a person's review; return how many were saved."""
    author_id = project.author(author)
    count = 0
    with project.db.session() as session:
        for frame in frames:
            save_labels(
                session,
                ids[frame.file_name],
                truth_labels(frame, project),
                author_id=author_id,
                classes=project.classes,
                expected_revision=None,
            )
            count += 1
    return count


def make_model(
    project: Project, name: str, classes: Sequence[str] | None = None, source: str = "external"
) -> int:
    """A model version row for predictions recorded directly by a test ("trained" rows can
    hold the champion alias; their artifacts are never loaded by these tests)."""
    with project.db.session() as session:
        row = ModelVersion(
            name=name,
            source=source,
            classes=list(classes or project.classes.names),
            params={},
            metrics={},
        )
        session.add(row)
        session.flush()
        return row.id


def record_predictions(
    project: Project,
    model_id: int,
    detections: dict[int, list[tuple[str, float, Box]]],
) -> dict[int, list[int]]:
    """Write one prediction set per media; return media id -> prediction ids."""
    out: dict[int, list[int]] = {}
    with project.db.session() as session:
        for media_id, dets in detections.items():
            top = max(dets, key=lambda d: d[1]) if dets else None
            set_id = session.execute(
                insert(PredictionSet)
                .values(
                    media_id=media_id,
                    model_version_id=model_id,
                    status="ok",
                    count=len(dets),
                    top_class_id=project.classes.id_of(top[0]) if top else None,
                    top_score=top[1] if top else None,
                )
                .returning(PredictionSet.id)
            ).scalar_one()
            ids = []
            for name, score, box in dets:
                ids.append(
                    session.execute(
                        insert(Prediction)
                        .values(
                            prediction_set_id=set_id,
                            class_id=project.classes.id_of(name)
                            if name in project.classes
                            else None,
                            class_name=name,
                            score=score,
                            x=box.x,
                            y=box.y,
                            w=box.w,
                            h=box.h,
                        )
                        .returning(Prediction.id)
                    ).scalar_one()
                )
            out[media_id] = ids
    return out


def media_split(project: Project) -> dict[int, tuple[str | None, int | None, str | None]]:
    """media id -> (split, sequence id, sha256)."""
    with project.db.session() as session:
        rows = session.execute(select(Media.id, Media.split, Media.sequence_id, Media.sha256)).all()
    return {r.id: (r.split, r.sequence_id, r.sha256) for r in rows}


def model_from_truth(
    project: Project,
    data: SnapshotData,
    name: str,
    *,
    keep: float = 1.0,
    relabel: float = 0.0,
    jitter: float = 0.0,
    false_alarms: float = 0.0,
    seed: int = 0,
    source: str = "external",
) -> int:
    """A model whose predictions are the truth, degraded in controlled ways."""
    rng = np.random.default_rng(seed)
    model = make_model(project, name, source=source)
    names = project.classes.names
    detections: dict[int, list[tuple[str, float, Box]]] = {}
    for entry in data.entries:
        dets = []
        for t in entry.targets:
            if rng.random() > keep:
                continue
            cls = project.classes.name_of(t.class_id)
            if rng.random() < relabel:
                cls = str(rng.choice([n for n in names if n != cls]))
            b = t.box
            dx, dy = rng.normal(0, jitter * b.w), rng.normal(0, jitter * b.h)
            dets.append(
                (cls, float(rng.uniform(0.6, 0.99)), Box.clipped(b.x + dx, b.y + dy, b.w, b.h))
            )
        if rng.random() < false_alarms:
            dets.append(
                (str(rng.choice(names)), float(rng.uniform(0.3, 0.9)), Box(0.1, 0.1, 0.15, 0.15))
            )
        detections[entry.media_id] = dets
    record_predictions(project, model, detections)
    return model


def promote_over_http(client: Any, body: dict[str, Any], timeout: float = 120) -> Any:
    """POST /api/v1/promotion as a client does: while the comparison computes (202), poll
    its ``status_url`` and ask again."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.post("/api/v1/promotion", json=body)
        if response.status_code != 202:
            return response
        pending = response.json()
        assert pending["state"] == "computing" and pending["job_id"], pending
        while client.get(pending["status_url"]).status_code == 202:
            assert time.monotonic() < deadline, "the comparison did not finish"
            time.sleep(0.1)
