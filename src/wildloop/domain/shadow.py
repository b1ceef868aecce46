"""Which items a shadow run covers: a stable share of them, chosen by content hash.

The choice hashes the item's sha256 (not its id or arrival order), so the same photo is in or
out whatever project, machine or ingest order saw it, and raising the share only adds items:
every item shadowed at 10% is still shadowed at 20%.
"""

from __future__ import annotations

import hashlib

_SCALE = float(1 << 32)


def shadow_point(sha256: str) -> float:
    """The item's fixed point in [0, 1): shadowed whenever the share is above it."""
    digest = hashlib.sha256(f"shadow:{sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / _SCALE


def shadowed(sha256: str, share: float) -> bool:
    """Whether an item is in a shadow run of ``share`` (0 none, 1 all)."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    return shadow_point(sha256) < share
