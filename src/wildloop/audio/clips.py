"""Short spans of a recording: the samples of a window (for its spectrogram) and WAV bytes of
it (for playback in the review screen).

Only the requested span is read (soundfile seeks), so a window of an hour-long recording
costs what a window of a short one costs. The span is capped, so no request can ask for a
whole recording.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wildloop.errors import BadInput, IntegrityError, NotFound, Unavailable

MAX_SPAN_S = 60.0
MAX_CONTEXT_S = 10.0


@dataclass(frozen=True)
class Segment:
    """Samples of one span as (frames, channels) float32; ``start_s`` is the time of the first
    sample in the recording (after clipping to the file, unless padded)."""

    samples: np.ndarray[Any, np.dtype[np.float32]]
    sample_rate: int
    start_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.sample_rate

    def mono(self) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The channels mixed down (the spectrogram shows one picture per window)."""
        mixed: np.ndarray[Any, np.dtype[np.float32]] = self.samples.mean(axis=1, dtype=np.float32)
        return mixed


@dataclass(frozen=True)
class Clip:
    """A WAV file of a window with its context; ``start_s``/``end_s`` place it in the
    recording so the player's cursor can be drawn at the right time."""

    wav: bytes
    start_s: float
    end_s: float


def read_segment(source: Path, t0: float, t1: float, *, pad: bool = False) -> Segment:
    """Samples from ``t0`` to ``t1`` seconds. Without ``pad`` the span is clipped to the
    file; with it, time before the start or after the end is silence, so the segment always
    spans exactly ``t1 - t0`` seconds (a spectrogram then keeps the window in its middle)."""
    if not t1 > t0 or t1 - t0 > MAX_SPAN_S or t1 <= 0:
        raise BadInput(
            f"cannot read {t0:.3f}..{t1:.3f} s: a span must end after it starts, after 0 s, "
            f"and last at most {MAX_SPAN_S:g} s"
        )
    sf = _soundfile()
    if not source.is_file():
        raise NotFound(f"the sound file {source} is missing; was it moved or deleted?")
    try:
        with sf.SoundFile(os.fsencode(source)) as fh:
            rate, frames = fh.samplerate, fh.frames
            first = max(0, round(t0 * rate))
            last = min(frames, round(t1 * rate))
            if first >= frames:
                raise BadInput(
                    f"{source.name} lasts {frames / rate:.3f} s; nothing to read at {t0:.3f} s"
                )
            fh.seek(first)
            data = fh.read(max(0, last - first), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise IntegrityError(f"cannot decode {source}: {exc}") from exc
    if not pad:
        return Segment(samples=data, sample_rate=rate, start_s=first / rate)
    before = max(0, first - round(t0 * rate))
    after = max(0, round((t1 - t0) * rate) - before - len(data))
    padded = np.pad(data, ((before, after), (0, 0))) if before or after else data
    return Segment(samples=padded.astype(np.float32, copy=False), sample_rate=rate, start_s=t0)


def clip(source: Path, t_start: float, t_end: float, context_s: float = 0.0) -> Clip:
    """The window ``t_start..t_end`` plus up to ``context_s`` seconds either side (clipped to
    the recording), as 16-bit PCM WAV in the recording's own channels and sample rate."""
    if not 0.0 <= context_s <= MAX_CONTEXT_S:
        raise BadInput(f"context must lie between 0 and {MAX_CONTEXT_S:g} s, not {context_s:g}")
    segment = read_segment(source, t_start - context_s, t_end + context_s)
    out = io.BytesIO()
    _soundfile().write(out, segment.samples, segment.sample_rate, format="WAV", subtype="PCM_16")
    return Clip(wav=out.getvalue(), start_s=segment.start_s, end_s=segment.end_s)


def _soundfile() -> Any:
    """soundfile, loaded lazily: it is an optional extra (``wildloop[audio]``) and needs the
    libsndfile binary, which an image-only install does not carry."""
    try:
        import soundfile
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise Unavailable(
            "reading sound files needs the audio extra: pip install 'wildloop[audio]'"
        ) from exc
    return soundfile
