"""A stand-in for a detector's output in review tests: the generated scenes' true boxes,
perturbed, written as a champion model's prediction sets (the engine writes real ones)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select

from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.project import Project
from wildloop.store.tables import Media, ModelAlias, ModelVersion, Prediction, PredictionSet
from wildloop.synthetic.scenes import Frame


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
            preds = []
            for animal in item.frame.animals:
                if rng.random() < 1 / 9:
                    continue
                name_ = animal.class_name
                if rng.random() < 1 / 7:
                    name_ = rng.choice(classes.names)
                b = animal.box
                j = lambda v: v + rng.uniform(-0.01, 0.01)  # noqa: E731
                x, y = max(0.0, j(b.x)), max(0.0, j(b.y))
                w, h = min(b.w, 1 - x), min(b.h, 1 - y)
                preds.append((classes.id_of(name_), name_, rng.uniform(0.3, 0.97), x, y, w, h))
            if rng.random() < 0.1:
                preds.append((0, classes.names[0], rng.uniform(0.26, 0.4), 0.05, 0.7, 0.1, 0.1))
            preds.sort(key=lambda p: -p[2])
            pset = PredictionSet(
                media_id=item.media_id,
                model_version_id=version.id,
                top_class_id=preds[0][0] if preds else None,
                top_score=preds[0][2] if preds else None,
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
                            "class_id": c,
                            "class_name": n,
                            "score": s,
                            "x": x,
                            "y": y,
                            "w": w,
                            "h": h,
                        }
                        for c, n, s, x, y, w, h in preds
                    ],
                )
        return version.id
