"""Sequence smoothing: a burst's dominant class overrules its weak frames.

A deer filmed in ten frames is one deer; a classifier that calls the blurred fourth frame a
fox at 0.3 is wrong there, not right. The dominant class of a burst is the one with the
largest summed score over its boxes; a box of another class scoring below ``weak`` takes the
dominant class (its score kept: the model's confidence in the box, not a new estimate).
Classes a generic detector names (empty, person, vehicle) never take part.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from wildloop.domain.location_priors import ALWAYS_ALLOWED

Box = tuple[str, float]


def dominant_class(frames: Sequence[Sequence[Box]]) -> str | None:
    """The class with the largest summed score over the burst's boxes (ties: the first
    name in sorting order), leaving out the classes a generic detector names; None when no
    box names an animal."""
    totals: dict[str, float] = defaultdict(float)
    for frame in frames:
        for name, score in frame:
            if name.lower() not in ALWAYS_ALLOWED:
                totals[name] += score
    return max(sorted(totals), key=lambda c: totals[c]) if totals else None


def smooth_burst(frames: Sequence[Sequence[Box]], weak: float) -> list[list[Box]]:
    """Each frame's (class, score) boxes with weak minority boxes renamed to the dominant."""
    dominant = dominant_class(frames)
    if dominant is None:
        return [list(frame) for frame in frames]
    return [
        [
            (dominant, score)
            if score < weak and name != dominant and name.lower() not in ALWAYS_ALLOWED
            else (name, score)
            for name, score in frame
        ]
        for frame in frames
    ]
