"""Importing ground truth: a parsed dataset becomes media plus human label revisions.

Images the project does not have yet are ingested first (with the dataset's sequence ids as
sequence keys, so bursts stay in one split). Labels are written as revisions by a named
author through the same ``save_labels`` every reviewer uses. Unknown class names stop the
import before anything is written; a bad box or missing file fails only its own image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Row, select

from wildloop.datasets.importers.camtrap_dp import read_camtrap_dp
from wildloop.datasets.importers.coco import read_coco
from wildloop.datasets.importers.dataset import ImportedCamera, ImportedDataset, ImportedImage
from wildloop.datasets.importers.yolo import read_yolo
from wildloop.domain.class_mapping import MAP_HINT, ClassMapping, fit_classes
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.paths import path_to_text, readable_path
from wildloop.errors import BadInput
from wildloop.individuals.interchange import record_named_sightings
from wildloop.media.cameras import CameraChange, record_clock_offset, update_camera
from wildloop.media.ingest import IngestItem, IngestReport, ingest_items
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Camera, Media, MediaSequence
from wildloop.tallies import maintained
from wildloop.users.accounts import tool_actor

BATCH = 200
Progress = Callable[[int, int | None], None]


@dataclass
class ImportReport:
    images: int = 0
    labelled: int = 0
    boxes: int = 0
    empty: int = 0
    kept_existing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    sequence_conflicts: int = 0
    unlabelled: int = 0  # ingested, but the dataset classified them with no box
    sightings: int = 0  # boxes the dataset names a known animal for
    cameras_placed: int = 0
    notes: list[str] = field(default_factory=list)
    ingest: IngestReport | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "images": self.images,
            "labelled": self.labelled,
            "boxes": self.boxes,
            "empty": self.empty,
            "kept_existing": self.kept_existing,
            "sequence_conflicts": self.sequence_conflicts,
            "unlabelled": self.unlabelled,
            "sightings": self.sightings,
            "cameras_placed": self.cameras_placed,
            "notes": self.notes,
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "ingest": self.ingest.as_dict() if self.ingest else None,
        }


def read_dataset(path: Path, fmt: str = "auto", images_root: Path | None = None) -> ImportedDataset:
    """Pick the reader by format name or by the file's extension."""
    if not path.exists():
        raise BadInput(f"no such file: {path}")
    if fmt == "auto" and (path.is_dir() or path.name == "datapackage.json"):
        fmt = "camtrap-dp"
    if fmt == "auto":
        fmt = {".yaml": "yolo", ".yml": "yolo", ".json": "coco"}.get(path.suffix.lower(), "")
    if fmt == "camtrap-dp":
        return read_camtrap_dp(path)
    if fmt == "yolo":
        return read_yolo(path)
    if fmt == "coco":
        return read_coco(path, images_root)
    raise BadInput(f"cannot tell the format of {path}; pass --format yolo, coco or camtrap-dp")


def import_labels(
    project: Project,
    dataset: ImportedDataset,
    *,
    author: str = "import",
    class_map: dict[str, str] | None = None,
    add_classes: bool = False,
    overwrite: bool = False,
    camera: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Ingest missing images and write their labels; see the module docstring for the rules."""
    mapping = ClassMapping(class_map or {}, add_classes)
    _check_classes(project, dataset, mapping)
    classes = project.classes
    report = ImportReport(images=len(dataset.images), notes=list(dataset.notes))
    default_camera = camera or Path(dataset.source.split(":", 1)[1]).parent.name or "import"
    report.ingest = ingest_items(
        project,
        (
            IngestItem(
                path=image.path,
                camera=camera or image.camera or default_camera,
                sequence_key=image.sequence_key,
                captured_at=image.captured_at,
            )
            for image in dataset.images
            if not image.problems and image.path.is_file()
        ),
        total=len(dataset.images),
    )
    author_id = project.author(author)
    authors = {name: project.author(name) for name in {i.author for i in dataset.images} if name}
    report.cameras_placed = _place_cameras(project, dataset.cameras, author_id)
    for start in range(0, len(dataset.images), BATCH):
        batch = dataset.images[start : start + BATCH]
        stored = [text for image in batch if (text := _stored(image.path))]
        with project.db.session() as session, maintained.deferred(session):
            media = {
                row.path: row
                for row in session.execute(
                    select(
                        Media.id,
                        Media.path,
                        Media.status,
                        Media.error,
                        Media.label_revision,
                        MediaSequence.key.label("sequence_key"),
                    )
                    .outerjoin(MediaSequence, MediaSequence.id == Media.sequence_id)
                    .where(Media.path.in_(stored))
                )
            }
            for image in batch:
                row = media.get(_stored(image.path) or "")
                reason = _failure(image, row)
                if reason or row is None:
                    report.failed.append(
                        (readable_path(image.path), reason or "image was not ingested")
                    )
                    continue
                if image.sequence_key and row.sequence_key != image.sequence_key:
                    # Ingested earlier with its own sequence: its frozen split stays.
                    report.sequence_conflicts += 1
                if not image.labelled:
                    report.unlabelled += 1
                    continue
                if row.label_revision and not overwrite:
                    report.kept_existing += 1
                    continue
                labels = LabelSet(
                    boxes=tuple(
                        LabelBoxValue(
                            box=b.box,
                            class_id=classes.id_of(mapping.target(b.class_name)),
                        )
                        for b in image.boxes
                    ),
                    empty=not image.boxes,
                )
                labeller = authors.get(image.author or "", author_id)
                revision = save_labels(
                    session,
                    row.id,
                    labels,
                    author_id=labeller,
                    classes=classes,
                    expected_revision=None,
                    source="import",
                    action="labels.import",
                )
                if any(b.individual for b in image.boxes):
                    session.flush()
                    recorded, problems = record_named_sightings(
                        session,
                        tool_actor(session, labeller),
                        classes,
                        revision.id,
                        [b.individual for b in image.boxes],
                    )
                    report.sightings += recorded
                    report.notes += [f"{readable_path(image.path)}: {p}" for p in problems]
                report.labelled += 1
                report.boxes += len(image.boxes)
                report.empty += labels.empty
        if progress:
            progress(min(start + BATCH, len(dataset.images)), len(dataset.images))
    return report


def _place_cameras(project: Project, cameras: list[ImportedCamera], actor_id: int) -> int:
    """Give cameras the dataset's place and coordinates where they have none yet (a person's
    own settings win); audited like `wildloop camera set`. Returns how many changed."""
    changed = 0
    with project.db.session() as session:
        stored = {c.name: c for c in session.scalars(select(Camera))}
        for cam in cameras:
            have = stored.get(cam.name)
            if have is None:
                continue
            change = CameraChange(
                location=cam.location if have.location is None else None,
                latitude=cam.latitude if have.latitude is None else None,
                longitude=cam.longitude if have.longitude is None else None,
            )
            offset = cam.clock_offset_seconds if not have.clock_offset_seconds else 0
            if change != CameraChange():
                update_camera(session, cam.name, change, actor_id)
            if offset:
                record_clock_offset(session, cam.name, offset, actor_id)
            changed += change != CameraChange() or bool(offset)
    return changed


def _check_classes(project: Project, dataset: ImportedDataset, mapping: ClassMapping) -> None:
    fit = fit_classes(sorted(dataset.used_classes()), project.classes, mapping)
    fit.check("the dataset", f"{MAP_HINT} Nothing was imported.")
    if mapping.add_classes:
        # Add every class the dataset declares, in its order, not only those with boxes here.
        project.add_classes([*(mapping.target(n) for n in dataset.class_names), *fit.unknown])


def _stored(path: Path) -> str | None:
    """The stored form of an image's path; None for a name no filesystem here could hold."""
    try:
        return path_to_text(path)
    except UnicodeError:
        return None


def _failure(image: ImportedImage, row: Row[Any] | Any | None) -> str | None:
    if image.problems:
        return "; ".join(image.problems)
    if not image.path.is_file():
        return "image file not found"
    if row is None:
        return "image was not ingested"
    if row.status == "failed":
        return f"image failed ingest: {row.error}"
    if row.status == "duplicate":
        return f"image is a duplicate: {row.error}"
    return None
