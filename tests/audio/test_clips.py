"""Clips of a recording for playback: the right span, context clipped to the file, errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from wildloop.audio.clips import clip, read_segment
from wildloop.errors import BadInput, IntegrityError, NotFound

RATE = 16_000


def _recording(path: Path, seconds: float = 10.0, channels: int = 1) -> Path:
    """A ramp whose value is the time in seconds, so every sample says where it came from."""
    t = np.arange(round(seconds * RATE), dtype=np.float32) / RATE
    data = np.stack([t / 20.0 * (c + 1) for c in range(channels)], axis=1)
    sf.write(path, data, RATE, subtype="FLOAT")
    return path


def test_clip_is_the_window_with_its_context(tmp_path: Path) -> None:
    source = _recording(tmp_path / "rec.wav")
    found = clip(source, 3.0, 6.0, context_s=1.0)
    assert (found.start_s, found.end_s) == (2.0, 7.0)
    data, rate = sf.read(io.BytesIO(found.wav), dtype="float32")
    assert rate == RATE
    assert len(data) == 5 * RATE
    # 16-bit PCM: the first sample is the ramp at 2.0 s (value 0.1), within quantisation.
    assert data[0] == pytest.approx(2.0 / 20.0, abs=1e-4)


def test_context_is_clipped_at_both_ends_of_the_recording(tmp_path: Path) -> None:
    source = _recording(tmp_path / "rec.wav", seconds=4.0)
    found = clip(source, 0.0, 3.0, context_s=2.0)
    assert (found.start_s, found.end_s) == (0.0, 4.0)
    assert len(sf.read(io.BytesIO(found.wav))[0]) == 4 * RATE


def test_clip_keeps_the_recording_channels(tmp_path: Path) -> None:
    source = _recording(tmp_path / "stereo.wav", channels=2)
    data, _ = sf.read(io.BytesIO(clip(source, 1.0, 2.0).wav), always_2d=True)
    assert data.shape == (RATE, 2)


def test_padded_segment_keeps_its_span_with_silence_outside_the_file(tmp_path: Path) -> None:
    source = _recording(tmp_path / "rec.wav", seconds=4.0)
    seg = read_segment(source, -1.0, 5.0, pad=True)
    assert seg.start_s == -1.0
    assert len(seg.samples) == 6 * RATE
    mono = seg.mono()
    assert not mono[: RATE - 1].any()
    assert not mono[-RATE + 1 :].any()
    assert mono[RATE + 10] == pytest.approx(10 / RATE / 20.0, abs=1e-6)


@pytest.mark.parametrize(
    ("t0", "t1", "context"),
    [(5.0, 5.0, 0.0), (6.0, 5.0, 0.0), (-3.0, -1.0, 0.0), (0.0, 100.0, 0.0), (1.0, 2.0, 11.0)],
)
def test_bad_spans_are_refused(tmp_path: Path, t0: float, t1: float, context: float) -> None:
    source = _recording(tmp_path / "rec.wav")
    with pytest.raises(BadInput):
        clip(source, t0, t1, context_s=context)


def test_a_span_after_the_end_is_refused(tmp_path: Path) -> None:
    source = _recording(tmp_path / "rec.wav", seconds=2.0)
    with pytest.raises(BadInput, match=r"lasts 2\.000 s"):
        clip(source, 3.0, 6.0)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="missing"):
        clip(tmp_path / "gone.wav", 0.0, 1.0)
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    with pytest.raises(IntegrityError, match="cannot decode"):
        clip(broken, 0.0, 1.0)
