"""Grouping frames of one camera into sequences (bursts) by time gap.

A frame joins a sequence when it lies within ``gap`` seconds of the sequence's time span;
otherwise it starts a new one. Existing sequences keep their identity (and frozen split):
later frames can extend them but never move them.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class SequenceSpan:
    """A sequence's time span; ``ref`` is its database id, or None for one made in this pass."""

    ref: int | None
    start: datetime
    end: datetime
    key: str


@dataclass(frozen=True)
class FrameAssignment:
    media_id: int
    span: SequenceSpan


def sequence_key(camera: str, start: datetime) -> str:
    """The stable key of a sequence: its camera and the time of its first frame."""
    return f"{camera}/{start.isoformat(timespec='seconds')}"


def group_frames(
    camera: str,
    frames: Iterable[tuple[int, datetime]],
    existing: list[SequenceSpan],
    gap_seconds: float,
) -> Iterator[FrameAssignment]:
    """Assign frames, given in time order, to existing or new sequences of one camera.

    ``existing`` must be sorted by start; spans created here are inserted into it, so the
    caller sees every span (old ones possibly extended) once iteration ends.
    """
    gap = timedelta(seconds=gap_seconds)
    for media_id, t in frames:
        span = _find_span(existing, t, gap)
        if span is None:
            span = SequenceSpan(ref=None, start=t, end=t, key=sequence_key(camera, t))
            insort(existing, span, key=_start)
        else:
            span.start = min(span.start, t)
            span.end = max(span.end, t)
        yield FrameAssignment(media_id, span)


def _start(span: SequenceSpan) -> datetime:
    return span.start


def _find_span(spans: list[SequenceSpan], t: datetime, gap: timedelta) -> SequenceSpan | None:
    """The earliest span whose gap-widened range contains t (a frame bridging two bursts
    joins the one already running)."""
    i = bisect_right(spans, t + gap, key=_start)
    near = [s for s in spans[max(0, i - 2) : i] if s.end + gap >= t]
    return near[0] if near else None
