"""Generated photos of known animals (``synthetic.coats``), ingested and labelled."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import select

from tests.support.engine import ingest_dir
from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, LabelRevision, Media
from wildloop.synthetic.coats import Coat, photo


def labelled_photos(
    project: Project,
    folder: Path,
    animals: list[tuple[str, Coat]],
    per_animal: int,
    seed: int = 0,
    *,
    jitter: int = 12,
    light: float = 0.0,
) -> dict[int, list[int]]:
    """Write, ingest and label ``per_animal`` photos of each (class, coat) (``jitter`` and
    ``light`` as ``synthetic.coats.photo`` takes them); returns the label box ids of each
    animal (by position in ``animals``), in photo order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, tuple[int, Box]] = {}
    for a, (_, coat) in enumerate(animals):
        for n in range(per_animal):
            image, xywh = photo(coat, rng, jitter, light)
            box = Box(*xywh)
            name = f"a{a:02d}_{n:02d}.jpg"
            Image.fromarray(image).save(folder / name, quality=92)
            truth[name] = (a, box)
    ingest_dir(project, folder)
    author = project.author("labeller")
    boxes: dict[int, list[int]] = {a: [] for a in range(len(animals))}
    with project.db.session() as session:
        for media_id, path in session.execute(select(Media.id, Media.path).order_by(Media.path)):
            a, box = truth[Path(path).name]
            class_id = project.classes.id_of(animals[a][0])
            labels = LabelSet(boxes=(LabelBoxValue(box, class_id),))
            revision = save_labels(
                session,
                media_id,
                labels,
                author_id=author,
                classes=project.classes,
                expected_revision=None,
            )
            session.flush()
            boxes[a].append(
                session.scalars(
                    select(LabelBox.id).where(LabelBox.revision_id == revision.id)
                ).one()
            )
    return boxes


def relabel(project: Project, label_box_id: int, class_name: str) -> None:
    """Save a new revision of the box's media with the box given another class."""
    with project.db.session() as session:
        box, media_id = session.execute(
            select(LabelBox, LabelRevision.media_id)
            .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
            .where(LabelBox.id == label_box_id)
        ).one()
        value = LabelBoxValue(Box(box.x, box.y, box.w, box.h), project.classes.id_of(class_name))
        save_labels(
            session,
            media_id,
            LabelSet(boxes=(value,)),
            author_id=project.author("labeller"),
            classes=project.classes,
            expected_revision=None,
        )
