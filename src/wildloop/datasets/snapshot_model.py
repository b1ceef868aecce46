"""What a snapshot is made of: its items, their training targets, and its content hash.

Plain values shared by the code that freezes snapshots and the code that reads them back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.store.tables import Snapshot

Purpose = Literal["training", "test"]
SPLITS_OF: dict[str, tuple[str, ...]] = {"training": ("train", "val"), "test": ("test",)}
CHUNK = 500


@dataclass(frozen=True)
class PseudoLabels:
    """Where pseudo-labels come from: one model version's predictions above a threshold."""

    model_version_id: int
    threshold: float


@dataclass(frozen=True)
class Target:
    """One box a model should learn (or be scored against): a class and where."""

    class_id: int
    box: Box


@dataclass(frozen=True)
class SnapshotEntry:
    media_id: int
    path: Path
    sha256: str
    width: int
    height: int
    split: str
    camera: str | None
    camera_id: int | None
    sequence_key: str | None
    frame_num: int | None
    captured_at: datetime | None
    label_revision_id: int | None
    prediction_set_id: int | None
    content_hash: str
    empty: bool
    targets: tuple[Target, ...]
    excluded_boxes: int
    labelled_by: str | None
    labelled_at: datetime | None

    @property
    def pseudo(self) -> bool:
        return self.label_revision_id is None

    @property
    def group(self) -> str:
        """The unit that must never straddle splits: the sequence, or the frame alone."""
        return self.sequence_key or f"media/{self.media_id}"


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    name: str
    purpose: str
    content_hash: str
    counts: dict[str, Any]
    params: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: Snapshot) -> SnapshotInfo:
        return cls(
            row.id, row.name, row.purpose, row.content_hash, row.counts, row.params, row.created_at
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "purpose": self.purpose,
            "content_hash": self.content_hash,
            "counts": self.counts,
            "params": self.params,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SnapshotData:
    info: SnapshotInfo
    classes: ClassMap
    entries: tuple[SnapshotEntry, ...]

    def split(self, name: str) -> list[SnapshotEntry]:
        return [e for e in self.entries if e.split == name]


@dataclass(frozen=True)
class Candidate:
    media_id: int
    sha256: str
    split: str
    label_revision_id: int | None
    prediction_set_id: int | None
    content_hash: str


def snapshot_hash(purpose: str, params: dict[str, Any], items: Sequence[Candidate]) -> str:
    """One hash over everything that defines the dataset, independent of row order."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"purpose": purpose, "params": params}, sort_keys=True).encode())
    for c in sorted(items, key=lambda c: c.media_id):
        line = (
            f"{c.media_id}:{c.sha256}:{c.split}:{c.label_revision_id}:"
            f"{c.prediction_set_id}:{c.content_hash}\n"
        )
        digest.update(line.encode())
    return digest.hexdigest()


def chunks(values: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
