"""Reading audio files in blocks: never a whole hour in memory, resampled on the fly.

Every way a file can be bad (empty, not audio, unsupported codec, broken header, truncated,
undecodable) ends in ``AudioRejected`` with a reason a person can act on. Blocks are mono
float32; resampling runs through soxr's streaming resampler so block edges leave no seams.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from numpy.typing import NDArray

from wildloop.domain.paths import readable_path

# What ingest picks up; a suffix here whose format libsndfile cannot decode fails with a reason.
AUDIO_SUFFIXES = frozenset(
    {".wav", ".flac", ".mp3", ".ogg", ".oga", ".aif", ".aiff", ".m4a", ".aac", ".wma", ".opus"}
)
DECODABLE_FORMATS = frozenset({"WAV", "WAVEX", "RF64", "W64", "FLAC", "MP3", "OGG", "AIFF"})
_UNSUPPORTED = {
    ".m4a": "AAC/M4A",
    ".aac": "AAC",
    ".wma": "WMA",
    ".opus": "Opus",
}
BLOCK_FRAMES = 1 << 16

Samples = NDArray[np.float32]


class AudioRejected(Exception):
    """A file that cannot be used as audio; ``reason`` says why and what to do."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


def open_audio(path: Path) -> sf.SoundFile:
    """Open a file for block reading, or say precisely why it cannot be read."""
    codec = _UNSUPPORTED.get(path.suffix.lower())
    if codec is not None:
        raise AudioRejected(
            f"unsupported format: {codec} cannot be decoded here; convert it to FLAC or WAV"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioRejected(f"cannot read file: {exc.strerror or exc}") from exc
    if size == 0:
        raise AudioRejected("empty file (0 bytes)")
    try:
        handle = sf.SoundFile(os.fsencode(path))  # bytes: any name the filesystem holds
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise AudioRejected(_open_error(path, str(exc))) from exc
    if handle.format not in DECODABLE_FORMATS:
        handle.close()
        raise AudioRejected(f"unsupported format: {handle.format_info}; convert it to FLAC or WAV")
    return handle


def probe_info(path: Path) -> AudioInfo:
    with open_audio(path) as handle:
        return AudioInfo(handle.samplerate, handle.channels, handle.frames, handle.format)


def declared_wav_frames(path: Path, info: AudioInfo) -> int | None:
    """Frames the RIFF header's data chunk declares (libsndfile silently trims a truncated
    WAV to what is there, so truncation is only visible by comparing with the header)."""
    if info.format not in ("WAV", "WAVEX"):
        return None
    with path.open("rb") as raw:
        if raw.read(4) != b"RIFF":
            return None
        raw.seek(12)
        block_align = 0
        while header := raw.read(8):
            if len(header) < 8:
                return None
            chunk, size = struct.unpack("<4sI", header)
            if chunk == b"fmt ":
                fmt = raw.read(size)
                block_align = struct.unpack_from("<H", fmt, 12)[0] if len(fmt) >= 14 else 0
                raw.seek(size % 2, 1)
                continue
            if chunk == b"data":
                return size // block_align if block_align else None
            raw.seek(size + size % 2, 1)
    return None


def iter_blocks(
    path: Path, target_rate: int | None = None, block_frames: int = BLOCK_FRAMES
) -> Iterator[Samples]:
    """Mono float32 blocks of the file, resampled to ``target_rate`` (None keeps the file's).

    Holds one block at a time; raises AudioRejected when decoding fails part-way.
    """
    with open_audio(path) as handle:
        rate = handle.samplerate
        resampler = None
        if target_rate is not None and target_rate != rate:
            resampler = soxr.ResampleStream(rate, target_rate, 1, dtype="float32")
        read = 0
        while True:
            try:
                block = handle.read(block_frames, dtype="float32", always_2d=True)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioRejected(
                    f"truncated or corrupt: decoding failed after {read / rate:.2f} s ({exc})"
                ) from exc
            last = len(block) < block_frames
            read += len(block)
            mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            if len(mono):
                yield np.ascontiguousarray(mono, dtype=np.float32)
            if last:
                return


def cut_windows(
    blocks: Iterator[Samples],
    rate: int,
    spans: list[tuple[float, float]],
    length_s: float,
) -> Iterator[tuple[int, Samples]]:
    """Each span's samples from a block stream, as fixed-length windows of ``length_s``.

    ``spans`` are (t_start, t_end) in seconds, sorted by start. A window runs ``length_s``
    from its start; past the end of the audio it is zero-padded. Only the samples between the
    next span's start and the newest block are held, so memory does not grow with the file.
    """
    length = round(length_s * rate)
    starts = [round(t0 * rate) for t0, _ in spans]
    buffer = np.zeros(0, dtype=np.float32)
    buffer_start = 0
    next_span = 0
    for block in blocks:
        buffer = np.concatenate((buffer, block)) if len(buffer) else block
        end = buffer_start + len(buffer)
        while next_span < len(spans) and starts[next_span] + length <= end:
            offset = starts[next_span] - buffer_start
            yield next_span, buffer[offset : offset + length].copy()
            next_span += 1
        keep_from = starts[next_span] if next_span < len(spans) else end
        drop = min(max(keep_from - buffer_start, 0), len(buffer))
        buffer, buffer_start = buffer[drop:], buffer_start + drop
    while next_span < len(spans):
        window = np.zeros(length, dtype=np.float32)
        offset = starts[next_span] - buffer_start
        if 0 <= offset < len(buffer):
            tail = buffer[offset : offset + length]
            window[: len(tail)] = tail
        yield next_span, window
        next_span += 1


def read_all(path: Path, target_rate: int | None = None) -> Samples:
    """The whole file as one array (for short clips, e.g. an uploaded search example)."""
    parts = list(iter_blocks(path, target_rate))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _open_error(path: Path, message: str) -> str:
    lowered = message.lower()
    if "format not recognised" in lowered or "unknown format" in lowered:
        return f"not an audio file (format not recognised): {readable_path(path.name)}"
    if ("data" in lowered and "chunk" in lowered) or "header" in lowered:
        return f"corrupt header: {message.split(':', 1)[-1].strip()}"
    return f"cannot decode audio: {message}"
