"""Frozen train/val/test assignment from a stable hash of a group key.

The key is a sequence (camera burst, recording, imported seq id), never a single frame, so
frames that belong together always share a split. The hash is salted per project so two
projects do not split the same way by accident, and it does not depend on order of arrival.
"""

from __future__ import annotations

import hashlib
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
