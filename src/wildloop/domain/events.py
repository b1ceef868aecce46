"""Events: the frames of one burst counted and suggested as one sighting.

An event is a sequence (same camera, within the sequence gap; ADR 3): a deer filmed in nine
frames is one deer sighting, not nine. Its count of a class is the largest number of boxes of
that class in any one frame (two deer crossing in turn are never four). The model's classes
are smoothed over the event (``sequence_smoothing``: weak minority boxes follow the dominant
class) into a suggestion the reviewer sees and may accept with one key; nothing here changes
a label.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wildloop.domain.sequence_smoothing import Box, dominant_class, smooth_burst


@dataclass(frozen=True)
class EventSuggestion:
    """What the model says the event shows: ``class_name`` (None: no animal in any frame),
    at most ``count`` at once, seen in ``frames`` of the event's ``total`` frames."""

    class_name: str | None
    count: int
    frames: int
    total: int

    def describe(self) -> str:
        if self.class_name is None:
            return f"suggested: no animal (0 of {self.total} frames show one)"
        return f"suggested: {self.class_name} ×{self.count} ({self.frames} of {self.total} frames)"


def suggest(frames: Sequence[Sequence[Box]], weak: float) -> EventSuggestion:
    """The event's suggestion from each frame's shown (class, score) boxes."""
    dominant = dominant_class(frames)
    if dominant is None:
        return EventSuggestion(None, 0, 0, len(frames))
    per_frame = [
        sum(1 for name, _ in frame if name == dominant) for frame in smooth_burst(frames, weak)
    ]
    return EventSuggestion(dominant, max(per_frame), sum(1 for n in per_frame if n), len(frames))


def event_counts(frames: Iterable[Iterable[str]]) -> dict[str, int]:
    """Per class, the most boxes of it in any one frame (each frame: its boxes' classes)."""
    counts: dict[str, int] = {}
    for frame in frames:
        for name, n in Counter(frame).items():
            counts[name] = max(counts.get(name, 0), n)
    return dict(sorted(counts.items()))
