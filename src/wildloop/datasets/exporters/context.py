"""What every exporter gets: the snapshot, the folder to write, and how to place images.

Exports are written into a temporary folder that is renamed into place at the end, so a
crashed export never leaves a half-written dataset where a trainer could pick it up.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from wildloop.datasets.snapshots import SnapshotData, SnapshotEntry
from wildloop.domain.paths import readable_path
from wildloop.project import Project

ImageMode = Literal["link", "copy", "none"]
_CONTROL = re.compile("[\x00-\x1f\x7f]")


@dataclass
class ExportContext:
    project: Project
    data: SnapshotData
    out: Path  # where files are written now (a temporary folder)
    final: Path  # where the export will live once complete
    images: ImageMode
    warnings: list[str] = field(default_factory=list)
    collapse: str | None = None  # YOLO only: every box is written as this one class

    @property
    def image_root(self) -> Path:
        """The deepest folder holding every image: file names in COCO-style exports are
        relative to it when images are not placed in the export."""
        paths = [str(e.path.parent) for e in self.data.entries]
        return Path(os.path.commonpath(paths)) if paths else self.project.root

    def relative_name(self, entry: SnapshotEntry) -> str:
        """The image's path relative to ``image_root``, with forward slashes, printable
        (bytes that are not UTF-8 read ``\\xNN``: JSON and CSV cannot hold them)."""
        return readable_path(entry.path.relative_to(self.image_root).as_posix())

    def unique_name(self, entry: SnapshotEntry) -> str:
        """A file name unique within the export: media id first, then the original name with
        undecodable bytes and control characters as U+FFFD, so every tool can open it."""
        name = os.fsencode(entry.path.name).decode("utf-8", "replace")
        return f"{entry.media_id:08d}_{_CONTROL.sub(chr(0xFFFD), name)}"

    def place_image(self, entry: SnapshotEntry, target: Path) -> None:
        """Link or copy the image to ``target`` (relative symlinks survive moving the export
        together with nothing else; absolute ones survive moving the export alone)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.images == "copy":
            shutil.copy2(entry.path, target)
        else:
            target.symlink_to(entry.path.resolve())
