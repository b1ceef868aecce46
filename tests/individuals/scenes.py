"""Generated photos of known animals: each individual a distinct coat pattern on a box."""

from __future__ import annotations

from dataclasses import dataclass
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

WIDTH, HEIGHT = 320, 240


@dataclass(frozen=True)
class Coat:
    """Stripes of one period and two colours: what tells one animal from another."""

    period: int
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]
    vertical: bool


def _photo(coat: Coat, rng: np.random.Generator) -> tuple[np.ndarray, Box]:
    image = rng.integers(60, 120, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    w, h = int(rng.integers(90, 130)), int(rng.integers(70, 100))
    x, y = int(rng.integers(0, WIDTH - w)), int(rng.integers(0, HEIGHT - h))
    axis = np.arange(w if coat.vertical else h)
    band = (axis // coat.period) % 2
    patch = np.array(coat.colours, np.uint8)[band]
    patch = patch[None, :, :].repeat(h, 0) if coat.vertical else patch[:, None, :].repeat(w, 1)
    noise = rng.integers(-12, 12, patch.shape)
    image[y : y + h, x : x + w] = np.clip(patch.astype(int) + noise, 0, 255).astype(np.uint8)
    return image, Box(x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT)


def labelled_photos(
    project: Project, folder: Path, animals: list[tuple[str, Coat]], per_animal: int, seed: int = 0
) -> dict[int, list[int]]:
    """Write, ingest and label ``per_animal`` photos of each (class, coat); returns the label
    box ids of each animal (by position in ``animals``), in photo order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    truth: dict[str, tuple[int, Box]] = {}
    for a, (_, coat) in enumerate(animals):
        for n in range(per_animal):
            image, box = _photo(coat, rng)
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
