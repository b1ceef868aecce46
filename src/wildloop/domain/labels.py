"""Human labels as plain values, and the content hash that snapshots record.

A label set is everything one person said about one media item at one save: its boxes (each
with a class, or marked as a false positive / invalid), whether the item is empty, and a note.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum

from wildloop.domain.boxes import Box
from wildloop.domain.spans import TimeSpan


class InvalidReason(StrEnum):
    WRONG_SPECIES = "wrong_species"
    REAR_END = "rear_end"
    POOR_QUALITY = "poor_quality"
    OTHER = "other"


@dataclass(frozen=True)
class LabelBoxValue:
    """One box a person confirmed, corrected or drew: a box on an image, or a span of an
    audio window (the whole window, or a time-frequency box on its spectrogram)."""

    box: Box | None
    class_id: int | None
    corrects_prediction_id: int | None = None
    invalid_reason: InvalidReason | None = None
    missed: bool = False
    false_positive: bool = False
    span: TimeSpan | None = None

    def __post_init__(self) -> None:
        if self.class_id is None and not self.false_positive:
            raise ValueError("a label box needs a class unless it records a false positive")
        if self.box is None and self.span is None:
            raise ValueError("a label box needs a box on the image or a time span")

    @property
    def trainable(self) -> bool:
        """Whether the box is an animal to learn (not a false positive, not excluded)."""
        return not self.false_positive and self.invalid_reason is None


@dataclass(frozen=True)
class LabelSet:
    boxes: tuple[LabelBoxValue, ...] = ()
    empty: bool = False
    note: str | None = None

    def __post_init__(self) -> None:
        if self.empty and any(b.trainable for b in self.boxes):
            raise ValueError("an item marked empty cannot also have animal boxes")

    def content_hash(self) -> str:
        """A hash of what the labels say (not who said it or when): equal labels, equal hash."""
        payload = {"empty": self.empty, "boxes": sorted(_hashed(b) for b in self.boxes)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _hashed(b: LabelBoxValue) -> list[object]:
    """One box as hashed; an image box hashes as it did before spans existed (snapshots
    recorded those hashes), a span is appended only when there is one."""
    where = [round(v, 6) for v in (b.box.x, b.box.y, b.box.w, b.box.h)] if b.box else [-1.0] * 4
    row: list[object] = [
        *where,
        b.class_id if b.class_id is not None else -1,
        b.invalid_reason or "",
        b.missed,
        b.false_positive,
    ]
    if b.span is not None:
        s = b.span
        row += [
            round(v, 6) if v is not None else -1.0 for v in (s.t_start, s.t_end, s.f_low, s.f_high)
        ]
    return row


def primary_class(labels: LabelSet) -> int | None:
    """The class most trainable boxes carry (ties: the lowest id); None for no animal.

    Stored on the media row so the grid can filter reviewed items by class through an index,
    as ``prediction_sets.top_class_id`` does for model output.
    """
    counts: dict[int, int] = {}
    for b in labels.boxes:
        if b.trainable and b.class_id is not None:
            counts[b.class_id] = counts.get(b.class_id, 0) + 1
    if not counts:
        return None
    return min(counts, key=lambda c: (-counts[c], c))
