"""Cutting recordings into the windows people review: spans, and their media rows.

A window is a media row of its own (kind "window") pointing at its recording, so labels,
predictions, snapshots and splits work per window unchanged. Spans are a pure function of the
duration and the project's window and hop, so the same recording always gets the same windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.orm import Session

from wildloop.store.tables import Media

Span = tuple[float, float]
INSERT_BATCH = 5000


def window_spans(duration_s: float, window_s: float, hop_s: float) -> list[Span]:
    """Windows every ``hop_s`` until one reaches the end of the recording.

    The last window is cut at the end (shorter than ``window_s``) and kept only when it holds
    at least half a window, unless it is the only one: a 1 s recording still gets a window.
    """
    spans: list[Span] = []
    index = 0
    while duration_s > 0:
        t0 = index * hop_s
        if t0 >= duration_s:
            break
        t1 = min(t0 + window_s, duration_s)
        if spans and t1 - t0 < window_s / 2:
            break
        spans.append((round(t0, 3), round(t1, 3)))
        if t0 + window_s >= duration_s:
            break
        index += 1
    return spans


def window_path(recording_path: str, span: Span) -> str:
    """Media-fragment syntax: unique per span, and says where the window lies."""
    return f"{recording_path}#t={span[0]:.3f},{span[1]:.3f}"


@dataclass(frozen=True)
class RecordingRef:
    """What a window inherits from its recording."""

    id: int
    path: str
    duration_s: float
    sample_rate: int
    channels: int
    camera_id: int | None
    sequence_id: int | None
    split: str | None
    captured_at: datetime | None
    captured_at_source: str | None


def insert_windows(
    session: Session, recordings: Sequence[RecordingRef], window_s: float, hop_s: float
) -> int:
    """Insert the window rows of new recordings in bulk; return how many were written."""
    rows: list[dict[str, object]] = []
    written = 0
    for recording in recordings:
        for index, span in enumerate(window_spans(recording.duration_s, window_s, hop_s)):
            rows.append(_window_row(recording, index, span))
            if len(rows) >= INSERT_BATCH:
                session.execute(insert(Media), rows)
                written += len(rows)
                rows = []
    if rows:
        session.execute(insert(Media), rows)
        written += len(rows)
    return written


def _window_row(recording: RecordingRef, index: int, span: Span) -> dict[str, object]:
    captured = recording.captured_at
    return {
        "path": window_path(recording.path, span),
        "kind": "window",
        "status": "ok",
        "parent_id": recording.id,
        "t_start": span[0],
        "t_end": span[1],
        "duration_s": round(span[1] - span[0], 3),
        "sample_rate": recording.sample_rate,
        "channels": recording.channels,
        "camera_id": recording.camera_id,
        "sequence_id": recording.sequence_id,
        "split": recording.split,
        "frame_num": index,
        "captured_at": captured + timedelta(seconds=span[0]) if captured else None,
        "captured_at_source": recording.captured_at_source,
    }
