"""Frozen train/val/test assignment from a stable hash of a group key.

The key is never a single frame, so frames that belong together always share a split: by
default a sequence (camera burst, recording, imported seq id); a project can group coarser,
by camera or by location, so the test set holds places the model never trained on. The hash
is salted per project so two projects do not split the same way by accident, and it does not
depend on order of arrival.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum


class Split(StrEnum):
    TRAIN = "train"
    VAL = "val"
    TEST = "test"


@dataclass(frozen=True)
class SplitRatios:
    train: float = 0.70
    val: float = 0.15
    test: float = 0.15

    def __post_init__(self) -> None:
        parts = (self.train, self.val, self.test)
        if any(p < 0 for p in parts):
            raise ValueError("split ratios must not be negative")
        if abs(sum(parts) - 1.0) > 1e-6:
            raise ValueError(f"split ratios must sum to 1, got {sum(parts):.4f}")


def unit_hash(key: str, salt: str) -> float:
    """Map a key to a uniform number in [0, 1) that never changes for the same key and salt."""
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(key: str, ratios: SplitRatios, salt: str) -> Split:
    """Return the split for a group key; the same key and salt always give the same split."""
    u = unit_hash(key, salt)
    if u < ratios.train:
        return Split.TRAIN
    if u < ratios.train + ratios.val:
        return Split.VAL
    return Split.TEST


class GroupBy(StrEnum):
    """What must never straddle two splits."""

    SEQUENCE = "sequence"
    CAMERA = "camera"
    LOCATION = "location"


def group_key(by: GroupBy, sequence_key: str, camera: str | None, location: str | None) -> str:
    """The key a sequence's split is hashed from under ``by``.

    ``sequence`` keeps the sequence key itself, so existing projects split exactly as before.
    A camera without a location falls back to its camera name; a sequence without a camera
    (an import that named none) falls back to its own key.
    """
    if by is GroupBy.SEQUENCE or camera is None:
        return sequence_key
    if by is GroupBy.LOCATION and location:
        return f"location:{location}"
    return f"camera:{camera}"


def straddling(pairs: Iterable[tuple[str, Split | str]]) -> dict[str, set[str]]:
    """Groups found in more than one split (a leak when the project groups by them)."""
    splits: dict[str, set[str]] = defaultdict(set)
    for group, split in pairs:
        splits[group].add(str(split))
    return {group: found for group, found in splits.items() if len(found) > 1}
