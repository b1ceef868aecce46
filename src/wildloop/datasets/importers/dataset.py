"""The neutral shape every importer produces, before anything touches the project."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from wildloop.domain.boxes import Box


@dataclass(frozen=True)
class ImportedBox:
    class_name: str
    box: Box
    individual: str | None = None  # the known animal this box shows, by name


@dataclass(frozen=True)
class ImportedImage:
    """One image of a dataset with its boxes; ``problems`` make it a failed item."""

    path: Path
    boxes: tuple[ImportedBox, ...] = ()
    sequence_key: str | None = None
    captured_at: datetime | None = None
    camera: str | None = None
    problems: tuple[str, ...] = ()
    # False: ingest the image but write no labels (nobody classified it); None author: the
    # import's author.
    labelled: bool = True
    author: str | None = None


@dataclass(frozen=True)
class ImportedCamera:
    """A camera's place as the dataset records it (Camtrap DP deployments)."""

    name: str
    location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    model: str | None = None
    # A clock correction the dataset's timestamps already include.
    clock_offset_seconds: int = 0


@dataclass
class ImportedDataset:
    source: str
    class_names: list[str]
    images: list[ImportedImage] = field(default_factory=list)
    cameras: list[ImportedCamera] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # rows skipped, things left out, and why

    def used_classes(self) -> set[str]:
        return {b.class_name for image in self.images for b in image.boxes}
