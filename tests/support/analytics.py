"""A small hand-computed analytics fixture: three cameras at two sites, photos ingested as
files and labelled through the same save_labels reviewers use. Expected figures are worked
out by hand in tests/analytics/test_report.py."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

from PIL import Image

from wildloop.domain.boxes import Box
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.media.cameras import CameraChange, update_camera
from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Media

CLASSES = ["deer", "fox"]
# camera, site, camera-local time, class (None: reviewed empty; "-": never reviewed)
PHOTOS = [
    ("camA", "north", "2024-01-10 06:00", "deer"),
    ("camA", "north", "2024-01-10 06:10", "deer"),
    ("camA", "north", "2024-01-10 06:45", "deer"),
    ("camA", "north", "2024-01-10 22:00", "fox"),
    ("camA", "north", "2024-01-20 12:00", None),
    ("camB", "north", "2024-02-01 06:20", "deer"),
    ("camB", "north", "2024-02-05 12:00", "-"),
    ("camC", "south", "2024-01-15 23:59", "fox"),
    ("camC", "south", "2024-01-16 00:20", "fox"),
    ("camC", "south", "2024-02-15 12:00", "-"),
]


def build_analytics_project(project: Project, root: Path) -> None:
    """Ingest PHOTOS as distinct little JPEGs, label them, and place the cameras."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(3)
    items = []
    for i, (camera, _, when, _) in enumerate(PHOTOS):
        path = root / f"{camera}_{i:02d}.jpg"
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        Image.new("RGB", (32, 24), colour).save(path)
        items.append(IngestItem(path, camera, captured_at=datetime.fromisoformat(when)))
    ingest_items(project, items, total=len(items))
    author = project.author("fixture")
    classes = project.classes
    with project.db.session() as session:
        for item, (camera, site, _, name) in zip(items, PHOTOS, strict=True):
            update_camera(session, camera, CameraChange(location=site), author)
            if name == "-":
                continue
            media_id = (
                session.query(Media.id).filter(Media.path.like(f"%{item.path.name}")).scalar()
            )
            boxes = (
                ()
                if name is None
                else (LabelBoxValue(Box(0.1, 0.1, 0.3, 0.3), classes.id_of(name)),)
            )
            save_labels(
                session,
                media_id,
                LabelSet(boxes=boxes, empty=name is None),
                author_id=author,
                classes=classes,
                expected_revision=None,
            )
