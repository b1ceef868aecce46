"""Audio review fixtures: recordings written as WAV files, cut into window rows as the data
model describes (a window is a media row of its recording), and a stand-in for a trained
head's predictions on them (the predict job writes real ones)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import insert, select

from wildloop.project import Project
from wildloop.store.tables import (
    Camera,
    Media,
    MediaSequence,
    ModelAlias,
    ModelVersion,
    Prediction,
    PredictionSet,
)

AUDIO_CLASSES = ["wren", "owl", "frog"]
RATE = 16_000
WINDOW_S = 3.0
HOP_S = 1.5


@pytest.fixture
def audio_project(tmp_path: Path, db_url: str) -> Iterator[Project]:
    """An audio project (modality audio) with AUDIO_CLASSES."""
    project = Project.init(
        tmp_path / "project", "sounds", AUDIO_CLASSES, modality="audio", database_url=db_url
    )
    yield project
    project.close()


@dataclass(frozen=True)
class Window:
    media_id: int
    recording_id: int
    t_start: float
    t_end: float


def write_recording(path: Path, seconds: float, calls: list[tuple[float, float, float]]) -> Path:
    """Faint noise with tone calls (start s, end s, frequency Hz)."""
    rng = np.random.default_rng(list(path.name.encode()))  # distinct content per file
    t = np.arange(round(seconds * RATE)) / RATE
    data = 0.002 * rng.standard_normal(len(t))
    for start, end, freq in calls:
        on = (t >= start) & (t < end)
        data[on] += 0.4 * np.sin(2 * np.pi * freq * t[on])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, data.astype(np.float32), RATE, subtype="PCM_16")
    return path


def add_recording(
    project: Project,
    path: Path,
    site: str,
    started: datetime,
    split: str = "train",
) -> list[Window]:
    """One recording row and its windows (WINDOW_S long, every HOP_S)."""
    info = sf.info(str(path))
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with project.db.session() as session:
        camera_id = session.scalar(select(Camera.id).where(Camera.name == site))
        if camera_id is None:
            camera = Camera(name=site)
            session.add(camera)
            session.flush()
            camera_id = camera.id
        seq = MediaSequence(camera_id=camera_id, key=f"rec:{sha}", split=split, started_at=started)
        session.add(seq)
        session.flush()
        recording = Media(
            path=str(path),
            sha256=sha,
            kind="audio",
            bytes=path.stat().st_size,
            duration_s=info.duration,
            sample_rate=info.samplerate,
            channels=info.channels,
            captured_at=started,
            captured_at_source="filename",
            camera_id=camera_id,
            sequence_id=seq.id,
            split=split,
        )
        session.add(recording)
        session.flush()
        windows = []
        index, t0 = 0, 0.0
        while t0 + WINDOW_S <= info.duration + 1e-9:
            t1 = t0 + WINDOW_S
            row = Media(
                path=f"{path}#t={t0:.3f},{t1:.3f}",
                kind="window",
                parent_id=recording.id,
                t_start=t0,
                t_end=t1,
                duration_s=WINDOW_S,
                sample_rate=info.samplerate,
                captured_at=started + timedelta(seconds=t0),
                camera_id=camera_id,
                sequence_id=seq.id,
                frame_num=index,
                split=split,
            )
            session.add(row)
            session.flush()
            windows.append(Window(row.id, recording.id, t0, t1))
            index, t0 = index + 1, t0 + HOP_S
        return windows


def add_audio_champion(
    project: Project, scores: dict[int, list[tuple[str, float]]], name: str = "head-v1"
) -> int:
    """A model version (the champion) whose predictions for each window id are ``scores``
    (class, score), each spanning the whole window as the audio predict path writes them."""
    classes = project.classes
    with project.db.session() as session:
        version = ModelVersion(
            name=name, task="audio-head", source="external", classes=classes.names, params={}
        )
        session.add(version)
        session.flush()
        if session.get(ModelAlias, "champion") is None:
            session.add(ModelAlias(alias="champion", model_version_id=version.id))
        spans = dict(
            session.execute(select(Media.id, Media.t_start).where(Media.id.in_(list(scores)))).all()
        )
        for media_id, preds in scores.items():
            ranked = sorted(preds, key=lambda p: -p[1])
            pset = PredictionSet(
                media_id=media_id,
                model_version_id=version.id,
                top_class_id=classes.id_of(ranked[0][0]) if ranked else None,
                top_score=ranked[0][1] if ranked else None,
                count=len(ranked),
            )
            session.add(pset)
            session.flush()
            if ranked:
                t0 = spans[media_id]
                session.execute(
                    insert(Prediction),
                    [
                        {
                            "prediction_set_id": pset.id,
                            "class_id": classes.id_of(n),
                            "class_name": n,
                            "score": s,
                            "t_start": t0,
                            "t_end": t0 + WINDOW_S,
                        }
                        for n, s in ranked
                    ],
                )
        return version.id


@dataclass
class AudioReview:
    """A project with two recordings at two sites, their windows and a champion's scores."""

    project: Project
    dawn: list[Window]
    night: list[Window]
    model_id: int

    @property
    def windows(self) -> list[Window]:
        return self.dawn + self.night


def audio_review(project: Project, root: Path) -> AudioReview:
    """Dawn at the pond: a wren (4 kHz) at 1-2 s; night in the wood: an owl (500 Hz) at
    4-5 s. The champion says wren for the dawn's first windows, owl or nothing otherwise."""
    dawn_wav = write_recording(root / "pond_20240501_053000.wav", 9.0, [(1.0, 2.0, 4000.0)])
    night_wav = write_recording(root / "wood_20240501_230000.wav", 9.0, [(4.0, 5.0, 500.0)])
    dawn = add_recording(project, dawn_wav, "pond", datetime(2024, 5, 1, 5, 30))
    night = add_recording(project, night_wav, "wood", datetime(2024, 5, 1, 23, 0), "val")
    scores: dict[int, list[tuple[str, float]]] = {}
    for i, w in enumerate(dawn):
        scores[w.media_id] = [("wren", 0.9 - 0.1 * i), ("frog", 0.3)] if i < 2 else []
    for w in night:
        scores[w.media_id] = [("owl", 0.8)] if 3.0 <= w.t_start <= 4.5 else [("owl", 0.1)]
    return AudioReview(project, dawn, night, add_audio_champion(project, scores))
