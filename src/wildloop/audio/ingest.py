"""Audio ingest: recordings in, recording and window rows out, each bad file failed alone.

Each file is hashed and decoded once in blocks (an hour-long AudioMoth file never sits in
memory whole) to find its length, catch truncation and decoding errors part-way, and reject
files that are silent throughout. A good recording gets its recorder (the cameras table),
a sequence ``rec:<sha256>`` with a frozen split, and its windows. Re-ingest is idempotent:
known good paths are skipped, failed ones are tried again, the same content under another
path is a duplicate.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from wildloop.audio.decode import (
    AUDIO_SUFFIXES,
    AudioInfo,
    AudioRejected,
    declared_wav_frames,
    iter_blocks,
    open_audio,
)
from wildloop.audio.windows import RecordingRef, insert_windows
from wildloop.config import AudioSettings
from wildloop.domain.capture_time import TimeSource, parse_filename_time
from wildloop.domain.paths import path_to_text, readable_path, readable_text
from wildloop.domain.splits import GroupBy, SplitRatios, assign_split, group_key
from wildloop.errors import BadInput
from wildloop.media.ingest import IngestReport
from wildloop.media.scan import count_files, iter_files
from wildloop.project import Project
from wildloop.store.tables import Camera, Media, MediaSequence

BATCH_FILES = 8
HASH_CHUNK = 1 << 20
# MP3 frame counts in the header are estimates; other formats must decode to what they declare.
_FRAME_TOLERANCE = 0.01
# AudioMoth's WAV comment: "Recorded at 05:00:00 01/06/2024 (UTC) by AudioMoth ...".
_AUDIOMOTH_COMMENT = re.compile(
    r"Recorded at (?P<H>\d{2}):(?P<M>\d{2}):(?P<S>\d{2}) (?P<d>\d{2})/(?P<m>\d{2})/(?P<Y>\d{4})"
)

Progress = Callable[[int, int | None], None]


@dataclass
class AudioIngestReport(IngestReport):
    windows: int = 0

    def as_dict(self) -> dict[str, object]:
        return super().as_dict() | {"windows": self.windows}


@dataclass(frozen=True)
class ScannedRecording:
    sha256: str
    size: int
    sample_rate: int
    channels: int
    frames: int
    captured_at: datetime
    time_source: TimeSource

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class _Rejected:
    reason: str
    sha256: str | None = None
    size: int | None = None


@dataclass
class _Recorders:
    """Recorders (rows of ``cameras``) by site name, created on first sight."""

    by_name: dict[str, Camera] = field(default_factory=dict)

    def get(self, session: Session, name: str) -> Camera:
        recorder = self.by_name.get(name)
        if recorder is None:
            recorder = session.scalar(select(Camera).where(Camera.name == name))
            if recorder is None:
                recorder = Camera(name=name, clock_offset_seconds=0)
                session.add(recorder)
                session.flush()
            session.expunge(recorder)
            self.by_name[name] = recorder
        return recorder


def ingest_audio_paths(
    project: Project,
    sources: list[Path],
    site: str | None = None,
    progress: Progress | None = None,
) -> AudioIngestReport:
    """Ingest every recording under ``sources``; the site is ``site`` or each file's folder."""
    missing = [str(s) for s in sources if not s.exists()]
    if missing:
        raise BadInput(f"no such file or folder: {', '.join(missing)}")
    report = AudioIngestReport()
    total = count_files(sources, AUDIO_SUFFIXES)
    files = iter_files(sources, AUDIO_SUFFIXES, on_error=report.record_failure_path)
    settings = project.config.audio
    workers = min(project.config.ingest.workers or os.cpu_count() or 1, BATCH_FILES)
    recorders = _Recorders()
    splits = project.config.splits
    grouping = _Grouping(GroupBy(splits.group_by), splits.ratios(), splits.salt)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audio-ingest") as pool:
        for batch in _batches(files, BATCH_FILES):
            with project.db.session() as session:
                _ingest_batch(session, batch, site, settings, grouping, pool, recorders, report)
            if progress:
                progress(report.scanned, total)
    return report


def scan_recording(path: Path, min_rms: float) -> ScannedRecording:
    """Hash and fully decode one file in blocks; raise AudioRejected with the reason."""
    digest, size = _hash(path)
    with open_audio(path) as handle:
        info = AudioInfo(handle.samplerate, handle.channels, handle.frames, handle.format)
        tags = handle.copy_metadata()
    rate = info.sample_rate
    if info.frames == 0:
        raise AudioRejected("no audio samples (the file holds a header but 0 frames)")
    declared = declared_wav_frames(path, info)
    if declared is not None and declared > info.frames:
        raise AudioRejected(
            f"truncated: the header declares {declared / rate:.2f} s of audio, "
            f"the file holds {info.frames / rate:.2f} s"
        )
    read, loudest = 0, 0.0
    for block in iter_blocks(path):
        read += len(block)
        loudest = max(loudest, float(np.sqrt(np.mean(np.square(block, dtype=np.float64)))))
    if info.format != "MP3" and read < info.frames * (1 - _FRAME_TOLERANCE):
        raise AudioRejected(
            f"truncated: decoded {read / rate:.2f} s of the {info.duration_s:.2f} s declared"
        )
    if loudest < min_rms:
        raise AudioRejected(
            f"silent: no block is louder than audio.min_rms = {min_rms:g} "
            f"(loudest RMS {loudest:.2g}); check the microphone or gain"
        )
    captured, source = recording_time(path, tags)
    return ScannedRecording(digest, size, rate, info.channels, read, captured, source)


def recording_time(path: Path, tags: dict[str, str]) -> tuple[datetime, TimeSource]:
    """When recording started: the file's own date tag or AudioMoth comment, then an
    AudioMoth-style file name (``YYYYMMDD_HHMMSS``), then the file's modification time."""
    match = _AUDIOMOTH_COMMENT.search(tags.get("comment", ""))
    if match:
        parts = {k: int(v) for k, v in match.groupdict().items()}
        return (
            datetime(parts["Y"], parts["m"], parts["d"], parts["H"], parts["M"], parts["S"]),
            TimeSource.METADATA,
        )
    tagged = _parse_date_tag(tags.get("date", ""))
    if tagged is not None:
        return tagged, TimeSource.METADATA
    named = parse_filename_time(path.name)
    if named is not None:
        return named, TimeSource.FILENAME
    return datetime.fromtimestamp(path.stat().st_mtime), TimeSource.MTIME


def _parse_date_tag(value: str) -> datetime | None:
    """A full date-time tag (ISO 8601); a bare year or date says too little to use."""
    text = value.strip()
    if len(text) < 16:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None)


def _hash(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise AudioRejected(f"cannot read file: {exc.strerror or exc}") from exc
    return digest.hexdigest(), size


def _scan(path: Path, min_rms: float) -> ScannedRecording | _Rejected:
    try:
        return scan_recording(path, min_rms)
    except AudioRejected as exc:
        try:
            digest, size = _hash(path)
        except AudioRejected:
            return _Rejected(exc.reason)
        return _Rejected(exc.reason, digest, size)


def _batches(items: Iterator[Path], size: int) -> Iterator[list[Path]]:
    while batch := list(islice(items, size)):
        yield batch


@dataclass(frozen=True)
class _Grouping:
    """How a recording's frozen split is drawn: the project's one ``splits.group_by``
    (a recording is a sequence; camera and location are its recorder's)."""

    by: GroupBy
    ratios: SplitRatios
    salt: str


def _ingest_batch(
    session: Session,
    batch: list[Path],
    site: str | None,
    settings: AudioSettings,
    grouping: _Grouping,
    pool: ThreadPoolExecutor,
    recorders: _Recorders,
    report: AudioIngestReport,
) -> None:
    report.scanned += len(batch)
    paths = [path_to_text(p) for p in batch]
    known = dict(
        session.execute(select(Media.path, Media.status).where(Media.path.in_(paths))).all()
    )
    todo = [p for p in batch if known.get(path_to_text(p)) not in ("ok", "duplicate")]
    report.skipped += len(batch) - len(todo)
    results = list(pool.map(lambda p: _scan(p, settings.min_rms), todo))
    hashes = [r.sha256 for r in results if isinstance(r, ScannedRecording)]
    owners = {
        sha: readable_text(path)
        for sha, path in session.execute(
            select(Media.sha256, Media.path).where(Media.sha256.in_(hashes), Media.status == "ok")
        )
        if sha is not None
    }
    for path, result in zip(todo, results, strict=True):
        recorder = recorders.get(session, site or path.parent.name)
        row = _row(path, result, recorder, owners, report)
        retry = path_to_text(path) in known
        report.retried += retry
        if not isinstance(result, ScannedRecording) or row["status"] != "ok":
            _write(session, row, retry)
            continue
        owners[result.sha256] = readable_path(path)
        key = f"rec:{result.sha256}"
        split_key = group_key(grouping.by, key, recorder.name, recorder.location)
        split = str(assign_split(split_key, grouping.ratios, grouping.salt))
        captured = result.captured_at + timedelta(seconds=recorder.clock_offset_seconds)
        sequence_id = _sequence(session, key, recorder.id, captured, result.duration_s, split)
        row |= {"sequence_id": sequence_id, "split": split, "captured_at": captured}
        ref = RecordingRef(
            id=_write(session, row, retry),
            path=path_to_text(path),
            duration_s=result.duration_s,
            sample_rate=result.sample_rate,
            channels=result.channels,
            camera_id=recorder.id,
            sequence_id=sequence_id,
            split=split,
            captured_at=captured,
            captured_at_source=str(result.time_source),
        )
        report.added += 1
        report.windows += insert_windows(session, [ref], settings.window_s, settings.hop_s)


def _write(session: Session, row: dict[str, object], retry: bool) -> int:
    """Insert the row, or update the earlier failed attempt at the same path; its id."""
    if retry:
        session.execute(update(Media).where(Media.path == row["path"]).values(**row))
        return session.execute(select(Media.id).where(Media.path == row["path"])).scalar_one()
    return session.execute(insert(Media).values(**row).returning(Media.id)).scalar_one()


def _sequence(
    session: Session,
    key: str,
    recorder_id: int,
    started: datetime,
    duration_s: float,
    split: str,
) -> int:
    """The recording's own sequence; an earlier failed attempt may have left none, a
    deleted-and-re-added recording keeps its old one (and so its frozen split)."""
    existing = session.scalar(select(MediaSequence.id).where(MediaSequence.key == key))
    if existing is not None:
        return existing
    return session.execute(
        insert(MediaSequence)
        .values(
            key=key,
            camera_id=recorder_id,
            started_at=started,
            ended_at=started + timedelta(seconds=duration_s),
            split=split,
        )
        .returning(MediaSequence.id)
    ).scalar_one()


def _row(
    path: Path,
    result: ScannedRecording | _Rejected,
    recorder: Camera,
    owners: dict[str, str],
    report: AudioIngestReport,
) -> dict[str, object]:
    base: dict[str, object] = {
        "path": path_to_text(path),
        "kind": "audio",
        "camera_id": recorder.id,
        "error": None,
        "sha256": result.sha256,
        "bytes": result.size,
    }
    if isinstance(result, _Rejected):
        report.record_failure(readable_path(path), result.reason)
        return base | {"status": "failed", "error": result.reason}
    if result.sha256 in owners:
        original = owners[result.sha256]
        report.duplicates += 1
        report.duplicate_examples.append((readable_path(path), original))
        return base | {
            "status": "duplicate",
            "error": f"same content as {original}; not ingested twice",
        }
    return base | {
        "status": "ok",
        "duration_s": result.duration_s,
        "sample_rate": result.sample_rate,
        "channels": result.channels,
        "captured_at_source": str(result.time_source),
    }
