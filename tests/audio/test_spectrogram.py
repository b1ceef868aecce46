"""Spectrogram pictures: a tone lands on its row and in its columns, and pictures are cached."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from wildloop.audio.spectrogram import HEIGHT, PX_PER_S, spectrogram, spectrogram_path

RATE = 22_050
SHA = "ab" * 32


def _tone_recording(path: Path) -> Path:
    """Six seconds of faint noise with a 4 kHz tone from 2 s to 3 s."""
    rng = np.random.default_rng(0)
    t = np.arange(6 * RATE) / RATE
    data = 0.001 * rng.standard_normal(len(t))
    on = (t >= 2.0) & (t < 3.0)
    data[on] += 0.5 * np.sin(2 * np.pi * 4000 * t[on])
    sf.write(path, data.astype(np.float32), RATE)
    return path


def _row_of(freq: float) -> int:
    return round((1 - freq / (RATE / 2)) * (HEIGHT - 1))


def test_tone_is_dark_at_its_frequency_and_time_only(tmp_path: Path) -> None:
    source = _tone_recording(tmp_path / "tone.wav")
    path = spectrogram(tmp_path, source, SHA, 1.0, 4.0)
    with Image.open(path) as image:
        assert image.size == (3 * PX_PER_S, HEIGHT)
        pixels = np.asarray(image.convert("L"), dtype=np.int32)
    row = _row_of(4000)
    tone = pixels[row - 1 : row + 2, 120:180]  # 2.2..2.8 s
    assert tone.min() < 40, "the tone should be (near) black"
    assert pixels[row - 1 : row + 2, 10:80].min() > 150, "before the tone: pale"
    assert pixels[_row_of(9000), 120:180].min() > 150, "other frequencies: pale"


def test_picture_is_cached_and_not_rendered_again(tmp_path: Path) -> None:
    source = _tone_recording(tmp_path / "tone.wav")
    first = spectrogram(tmp_path, source, SHA, 0.0, 3.0)
    assert first == spectrogram_path(tmp_path, SHA, 0.0, 3.0)
    source.unlink()  # a second call must not need the sound file
    assert spectrogram(tmp_path, source, SHA, 0.0, 3.0) == first


def test_span_beyond_the_file_is_drawn_as_silence(tmp_path: Path) -> None:
    source = _tone_recording(tmp_path / "tone.wav")
    path = spectrogram(tmp_path, source, SHA, -1.5, 1.5)
    with Image.open(io.BytesIO(path.read_bytes())) as image:
        assert image.size == (3 * PX_PER_S, HEIGHT)
        pixels = np.asarray(image.convert("L"))
    assert pixels[:, :140].min() >= 250, "before 0 s there is only silence"
