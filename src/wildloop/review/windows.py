"""What the audio review screen needs beyond an item's detail: where a window lies in its
recording, which span its spectrogram shows and which its playback clip covers.

A window is reviewed like an image (``media_detail`` gives its predictions, labels,
neighbours in the filter and history); this adds the recording it belongs to. The
spectrogram shows the window with ``context`` seconds either side (its neighbours), so a
call cut by the window's edge can still be seen whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from wildloop.audio.clips import MAX_CONTEXT_S, MAX_SPAN_S
from wildloop.domain.paths import path_from_text
from wildloop.errors import NotFound
from wildloop.review.actions import ReviewContext
from wildloop.review.detail import MediaDetail, media_detail
from wildloop.review.filters import GridFilter
from wildloop.store.tables import Media


@dataclass(frozen=True)
class WindowInfo:
    """A window's place in its recording (times in seconds of the recording)."""

    id: int
    recording_id: int
    recording_path: str  # as stored (see domain.paths); open ``recording_file``
    recording_sha256: str
    recording_duration_s: float
    sample_rate: int
    t_start: float
    t_end: float

    @property
    def context_s(self) -> float:
        """How much of the neighbouring audio the review screen shows: one window's length
        (less for long windows, so the picture stays within what one request may render)."""
        length = self.t_end - self.t_start
        return max(0.0, min(length, MAX_CONTEXT_S, (MAX_SPAN_S - length) / 2))

    @property
    def recording_file(self) -> Path:
        """The recording's file, byte-exact whatever its name's encoding."""
        return path_from_text(self.recording_path)

    @property
    def f_max(self) -> float:
        return self.sample_rate / 2

    def view(self) -> tuple[float, float]:
        """The span the review spectrogram shows (it may reach outside the recording)."""
        return self.t_start - self.context_s, self.t_end + self.context_s

    def clip_span(self, context_s: float) -> tuple[float, float]:
        """The span a playback clip with ``context_s`` covers (clipped to the recording)."""
        return max(0.0, self.t_start - context_s), min(
            self.recording_duration_s, self.t_end + context_s
        )


def window_infos(session: Session, ids: Iterable[int]) -> dict[int, WindowInfo]:
    """Windows among ``ids`` (others, and failed recordings, are left out)."""
    wanted = list(ids)
    if not wanted:
        return {}
    recording = aliased(Media, name="recording")
    rows = session.execute(
        select(
            Media.id,
            Media.t_start,
            Media.t_end,
            recording.id.label("recording_id"),
            recording.path,
            recording.sha256,
            recording.duration_s,
            recording.sample_rate,
        )
        .join(recording, recording.id == Media.parent_id)
        .where(
            Media.id.in_(wanted),
            Media.kind == "window",
            Media.status == "ok",
            recording.status == "ok",
        )
    )
    return {
        r.id: WindowInfo(
            id=r.id,
            recording_id=r.recording_id,
            recording_path=r.path,
            recording_sha256=r.sha256 or "",
            recording_duration_s=r.duration_s or 0.0,
            sample_rate=r.sample_rate or 0,
            t_start=r.t_start or 0.0,
            t_end=r.t_end or 0.0,
        )
        for r in rows
        if r.t_start is not None and r.t_end is not None and r.sample_rate
    }


def window_info(session: Session, media_id: int) -> WindowInfo:
    found = window_infos(session, [media_id]).get(media_id)
    if found is None:
        raise NotFound(f"window {media_id} does not exist (or is not an audio window)")
    return found


def window_detail(
    session: Session, ctx: ReviewContext, media_id: int, flt: GridFilter
) -> tuple[MediaDetail, WindowInfo]:
    """The review screen's data for one window, navigating among the windows in ``flt``."""
    info = window_info(session, media_id)
    return media_detail(session, ctx, media_id, flt.with_(kind="window")), info
