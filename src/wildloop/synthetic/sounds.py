"""A deterministic generator of field-recording-like audio with exactly known calls.

Used by tests, benchmarks and the audio demo, where no labelled sound set of a chosen shape can
be downloaded. Each class has its own sound (a steady tone, an upward chirp, a pulsed trill, a
band of noise) so an embedding separates them; calls sit on faint background noise at known
times; files are named as AudioMoth names them (``YYYYMMDD_HHMMSS.WAV``) in one folder per
site. The same seed always gives the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import soundfile as sf
from numpy.typing import NDArray

SOUND_CLASSES = ("tone", "chirp", "trill", "buzz")
RATE = 32_000


@dataclass(frozen=True)
class Call:
    """One sound of a known class at a known time in its recording."""

    kind: str
    t_start: float
    t_end: float


@dataclass(frozen=True)
class GeneratedRecording:
    path: Path
    site: str
    started_at: datetime
    duration_s: float
    calls: tuple[Call, ...] = field(default_factory=tuple)

    def label_for(self, t_start: float, t_end: float) -> str | None:
        """The class a reviewer would give the span: the call covering most of it, if that
        call fills at least half of the span or half of itself lies in it; else None."""
        best, best_overlap = None, 0.0
        for call in self.calls:
            overlap = min(t_end, call.t_end) - max(t_start, call.t_start)
            enough = overlap >= 0.5 * min(t_end - t_start, call.t_end - call.t_start)
            if overlap > best_overlap and enough:
                best, best_overlap = call.kind, overlap
        return best


def synth_call(
    kind: str, seconds: float, rate: int, rng: np.random.Generator
) -> NDArray[np.float32]:
    """One call of ``kind``; the pitch varies a little between calls, as animals do."""
    t = np.arange(round(seconds * rate)) / rate
    jitter = 1.0 + 0.05 * rng.standard_normal()
    if kind == "tone":
        wave = np.sin(2 * np.pi * 2_000 * jitter * t)
    elif kind == "chirp":
        f0, f1 = 1_500 * jitter, 6_000 * jitter
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * max(seconds, 1e-3))))
    elif kind == "trill":
        pulses = (np.sin(2 * np.pi * 12 * t) > 0).astype(np.float64)
        wave = pulses * np.sin(2 * np.pi * 4_500 * jitter * t)
    elif kind == "buzz":
        noise = rng.standard_normal(len(t))
        spectrum = np.fft.rfft(noise)
        freqs = np.fft.rfftfreq(len(t), 1 / rate)
        spectrum[(freqs < 7_000 * jitter) | (freqs > 9_000 * jitter)] = 0
        wave = np.fft.irfft(spectrum, n=len(t))
        wave /= np.abs(wave).max() + 1e-9
    else:
        raise ValueError(f"unknown sound class {kind!r}; choose from {SOUND_CLASSES}")
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.02) if len(t) else t
    return (0.5 * wave * fade).astype(np.float32)


def synth_recording(
    calls: Sequence[Call], duration_s: float, rate: int, seed: int, noise: float = 0.01
) -> NDArray[np.float32]:
    """Background noise with the given calls mixed in at their times."""
    rng = np.random.default_rng(seed)
    data = (noise * rng.standard_normal(round(duration_s * rate))).astype(np.float32)
    for call in calls:
        start = round(call.t_start * rate)
        sound = synth_call(call.kind, call.t_end - call.t_start, rate, rng)
        end = min(start + len(sound), len(data))
        data[start:end] += sound[: end - start]
    return data


def generate_recordings(
    folder: Path,
    count: int,
    seed: int = 0,
    *,
    classes: Sequence[str] = SOUND_CLASSES,
    sites: Sequence[str] = ("site-a", "site-b"),
    duration_s: float = 12.0,
    rate: int = RATE,
    calls_per_recording: int = 3,
    suffix: str = ".WAV",
    start: datetime = datetime(2024, 6, 1, 5, 0, 0),
) -> list[GeneratedRecording]:
    """Write ``count`` recordings under ``folder/<site>/YYYYMMDD_HHMMSS<suffix>``.

    Calls last 1-2.5 s and never overlap; a recording holds up to ``calls_per_recording`` of
    them, of random classes, so some windows are background only.
    """
    rng = np.random.default_rng(seed)
    made = []
    for index in range(count):
        site = sites[index % len(sites)]
        started = start + timedelta(minutes=10 * index)
        calls = _place_calls(rng, classes, duration_s, calls_per_recording)
        path = folder / site / f"{started:%Y%m%d_%H%M%S}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = synth_recording(calls, duration_s, rate, seed=seed * 100_003 + index)
        sf.write(str(path), data, rate, subtype="PCM_16")
        made.append(GeneratedRecording(path, site, started, duration_s, tuple(calls)))
    return made


def _place_calls(
    rng: np.random.Generator, classes: Sequence[str], duration_s: float, count: int
) -> list[Call]:
    calls: list[Call] = []
    cursor = float(rng.uniform(0.2, 1.5))
    for _ in range(count):
        length = float(rng.uniform(1.0, 2.5))
        if cursor + length > duration_s - 0.1:
            break
        kind = str(classes[int(rng.integers(len(classes)))])
        calls.append(Call(kind, round(cursor, 3), round(cursor + length, 3)))
        cursor += length + float(rng.uniform(1.0, 3.0))
    return calls
