"""Cached spectrogram pictures of audio windows for the review screen.

A spectrogram is rendered once per (recording content, span) and kept under
``thumbnails/spectrograms/`` named by the recording's sha256 and the span, like image
thumbnails: it never goes stale and is served with immutable cache headers. The picture is
the bare time-frequency plane (time left to right at ``PX_PER_S``, frequency 0..Nyquist
bottom to top, dark = loud), so a box drawn on it maps linearly to seconds and hertz; the
page draws the axes.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft
from PIL import Image

from wildloop.audio.clips import read_segment

PX_PER_S = 100
HEIGHT = 256
RANGE_DB = 80.0
# The loudest bin is drawn black unless it is quieter than this: near-silence stays pale
# instead of being stretched until its noise floor looks like a call.
MIN_TOP_DB = -30.0
VERSION = 1
FOLDER = "spectrograms"


def spectrogram_path(folder: Path, sha256: str, t0: float, t1: float) -> Path:
    name = f"{sha256}-{round(t0 * 1000)}-{round(t1 * 1000)}-v{VERSION}.png"
    return folder / FOLDER / sha256[:2] / name


def spectrogram(folder: Path, source: Path, sha256: str, t0: float, t1: float) -> Path:
    """The cached PNG of ``source`` from ``t0`` to ``t1`` seconds (silence outside the file),
    rendered on first use."""
    target = spectrogram_path(folder, sha256, t0, t1)
    if target.is_file():
        return target
    segment = read_segment(source, t0, t1, pad=True)
    data = render_png(segment.mono(), segment.sample_rate)
    target.parent.mkdir(parents=True, exist_ok=True)
    # A unique temp name per writer: two requests for one picture may race harmlessly.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        Path(tmp).replace(target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def render_png(samples: np.ndarray[Any, np.dtype[np.float32]], sample_rate: int) -> bytes:
    """A grayscale PNG, ``PX_PER_S`` columns per second and ``HEIGHT`` rows up to Nyquist."""
    levels = magnitude_db(samples, sample_rate)
    top = max(float(levels.max(initial=-200.0)), MIN_TOP_DB)
    scaled = np.clip((levels - (top - RANGE_DB)) / RANGE_DB, 0.0, 1.0)
    gray = (255.0 * (1.0 - scaled)).astype(np.uint8)
    # Rows are frequencies, lowest first; a picture's first row is its top.
    image = Image.fromarray(np.ascontiguousarray(gray.T[::-1]), mode="L")
    image = image.resize((image.width, HEIGHT), Image.Resampling.BILINEAR)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)  # noise compresses poorly; speed wins
    return out.getvalue()


def magnitude_db(
    samples: np.ndarray[Any, np.dtype[np.float32]], sample_rate: int
) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Level in dB full scale of each (column, frequency bin): a full-scale sine reads 0 dB.

    One Hann-windowed frame per picture column, centred on it; the frame is about 20 ms,
    so calls of a few milliseconds stay sharp at any sample rate."""
    columns = max(1, round(len(samples) / sample_rate * PX_PER_S))
    n_fft = 2 ** max(8, math.ceil(math.log2(sample_rate * 0.02)))
    centres = ((np.arange(columns) + 0.5) * (sample_rate / PX_PER_S)).astype(np.int64)
    padded = np.pad(samples.astype(np.float32, copy=False), (n_fft, n_fft))
    starts = np.clip(centres + n_fft // 2, 0, len(padded) - n_fft)
    window = np.hanning(n_fft).astype(np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[starts] * window
    # scipy's FFT keeps float32 (numpy's works in float64, several times slower here).
    amplitude = np.abs(scipy.fft.rfft(frames, axis=1)) / (window.sum() / 2.0)
    levels: np.ndarray[Any, np.dtype[np.float32]] = (20.0 * np.log10(amplitude + 1e-10)).astype(
        np.float32
    )
    return levels
