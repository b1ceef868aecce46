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


class InvalidReason(StrEnum):
    WRONG_SPECIES = "wrong_species"
    REAR_END = "rear_end"
    POOR_QUALITY = "poor_quality"
    OTHER = "other"


@dataclass(frozen=True)
class LabelBoxValue:
    """One box a person confirmed, corrected or drew."""

    box: Box
    class_id: int | None
    corrects_prediction_id: int | None = None
    invalid_reason: InvalidReason | None = None
    missed: bool = False
    false_positive: bool = False

    def __post_init__(self) -> None:
        if self.class_id is None and not self.false_positive:
            raise ValueError("a label box needs a class unless it records a false positive")

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
        payload = {
            "empty": self.empty,
            "boxes": sorted(
                [
                    round(b.box.x, 6),
                    round(b.box.y, 6),
                    round(b.box.w, 6),
                    round(b.box.h, 6),
                    b.class_id if b.class_id is not None else -1,
                    b.invalid_reason or "",
                    b.missed,
                    b.false_positive,
                ]
                for b in self.boxes
            ),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


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
