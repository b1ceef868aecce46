"""A labelled audio project for head tests: recordings cut into windows (as ingest does),
whole-window labels saved through the label service, and stored embeddings that cluster by
class (as a good embedder's would), so training and evaluation run for real in seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import insert, select

from tests.audio.window_support import AUDIO_CLASSES, Window, add_recording, write_recording
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.spans import TimeSpan
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Embedding, User
from wildloop.users.accounts import create_user

EMBEDDER = "test-v1"
DIM = 24
# (class or None for "nothing", split) per recording.
PLAN: list[tuple[str | None, str]] = [
    *[(c, "train") for c in AUDIO_CLASSES for _ in range(3)],
    (None, "train"),
    (None, "train"),
    *[(c, "val") for c in AUDIO_CLASSES],
    (None, "val"),
    *[(c, "test") for c in AUDIO_CLASSES for _ in range(2)],
    (None, "test"),
]


@dataclass(frozen=True)
class LabelledWindow:
    window: Window
    label: str | None
    split: str


def reviewer(project: Project, name: str = "rita") -> int:
    with project.db.session() as session:
        existing = session.scalar(select(User.id).where(User.username == name))
        if existing is not None:
            return int(existing)
        create_user(session, name, "reviewer", None)
        return int(session.scalars(select(User.id).where(User.username == name)).one())


def label_window(project: Project, window: Window, label: str | None, author: int) -> None:
    classes = project.classes
    boxes = (
        ()
        if label is None
        else (
            LabelBoxValue(
                box=None,
                class_id=classes.id_of(label),
                span=TimeSpan(window.t_start, window.t_end),
            ),
        )
    )
    with project.db.session() as session:
        save_labels(
            session,
            window.media_id,
            LabelSet(boxes=boxes, empty=label is None),
            author_id=author,
            classes=classes,
            expected_revision=None,
        )


def store_embeddings(
    project: Project, windows: list[LabelledWindow], spread: float = 1.0, seed: int = 0
) -> None:
    """One vector per window: its class centre plus noise (float16, as stored)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(42).normal(0, 2.0, (len(AUDIO_CLASSES) + 1, DIM))
    rows = []
    for item in windows:
        index = AUDIO_CLASSES.index(item.label) if item.label else len(AUDIO_CLASSES)
        vector = centres[index] + rng.normal(0, spread, DIM)
        rows.append(
            {
                "media_id": item.window.media_id,
                "embedder": EMBEDDER,
                "dim": DIM,
                "vector": vector.astype("<f2").tobytes(),
            }
        )
    with project.db.session() as session:
        session.execute(insert(Embedding), rows)


def labelled_project(project: Project, tmp_path: Path, spread: float = 1.0) -> list[LabelledWindow]:
    """Recordings per PLAN (6 s each: 3 windows), every window labelled and embedded."""
    author = reviewer(project)
    start = datetime(2024, 6, 1, 4, 0)
    out: list[LabelledWindow] = []
    for n, (label, split) in enumerate(PLAN):
        freq = 1000.0 + 500 * (AUDIO_CLASSES.index(label) if label else 5)
        calls = [(0.5, 5.5, freq), (0.1, 0.2, 200.0 + 10 * n)]  # distinct content per file
        wav = write_recording(tmp_path / f"rec{n:02d}.wav", 6.0, calls)
        windows = add_recording(project, wav, f"site{n % 3}", start + timedelta(hours=n), split)
        for window in windows:
            label_window(project, window, label, author)
            out.append(LabelledWindow(window, label, split))
    store_embeddings(project, out, spread)
    return out
