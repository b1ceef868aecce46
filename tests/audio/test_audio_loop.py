"""The whole audio loop on sound: generated recordings with known calls, and real insect
recordings, go ingest -> embed -> label -> train (job) -> evaluate -> gate -> reprocess, and
the reprocess leaves every human label byte-identical."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.conftest import SHARED_DATA
from wildloop.audio.embed_job import submit_embed
from wildloop.audio.head_job import start_head_training
from wildloop.audio.ingest import ingest_audio_paths
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.spans import TimeSpan
from wildloop.evaluation.promotion import promote_challenger
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import LabelBox, LabelRevision, Media, MediaSequence, PredictionSet
from wildloop.synthetic.sounds import SOUND_CLASSES, generate_recordings

INSECTS = SHARED_DATA / "insect-sounds"


def set_splits(project: Project, split_of: Callable[[str], str]) -> None:
    """Put each recording (and its windows and sequence) in the split ``split_of(path)``."""
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, Media.path, Media.sequence_id).where(Media.kind == "audio")
        ).all()
        for rec in rows:
            split = split_of(rec.path)
            session.execute(
                update(Media)
                .where((Media.id == rec.id) | (Media.parent_id == rec.id))
                .values(split=split)
            )
            session.execute(
                update(MediaSequence).where(MediaSequence.id == rec.sequence_id).values(split=split)
            )


def label_windows(project: Project, label_of: Callable[[str, float, float], str | None]) -> None:
    """What a reviewer would say of each window: a class over the window, or nothing."""
    author = project.author("rita")
    classes = project.classes
    with project.db.session() as session:
        paths = dict(
            session.execute(select(Media.id, Media.path).where(Media.kind == "audio")).all()
        )
        windows = session.execute(
            select(Media.id, Media.parent_id, Media.t_start, Media.t_end).where(
                Media.kind == "window"
            )
        ).all()
        for w in windows:
            name = label_of(paths[w.parent_id], w.t_start, w.t_end)
            boxes = (
                ()
                if name is None
                else (
                    LabelBoxValue(
                        box=None, class_id=classes.id_of(name), span=TimeSpan(w.t_start, w.t_end)
                    ),
                )
            )
            save_labels(
                session,
                w.id,
                LabelSet(boxes=boxes, empty=name is None),
                author_id=author,
                classes=classes,
                expected_revision=None,
            )


def labels_dump(project: Project) -> list[tuple[object, ...]]:
    with project.db.session() as session:
        revisions = session.scalars(select(LabelRevision).order_by(LabelRevision.id)).all()
        boxes = session.scalars(select(LabelBox).order_by(LabelBox.id)).all()
        media = session.execute(
            select(Media.id, Media.reviewed, Media.label_revision, Media.label_class_id)
        ).all()
        return (
            [
                (r.id, r.media_id, r.revision, r.empty, r.content_hash, r.created_at)
                for r in revisions
            ]
            + [
                (b.id, b.revision_id, b.class_id, b.t_start, b.t_end, b.f_low, b.f_high)
                for b in boxes
            ]
            + [tuple(m) for m in media]
        )


def run_loop(project: Project) -> dict[str, float]:
    """embed -> train -> promote (first champion) -> reprocess; returns its test metrics."""
    embed = submit_embed(project)
    assert run_job(project, embed.job_id)["state"] == "succeeded"
    started = start_head_training(project)
    status = run_job(project, started.job_id)
    assert status["state"] == "succeeded", status
    version = int(status["result"]["model_version_id"])
    before = labels_dump(project)
    promoted = promote_challenger(project, version, reprocess=True, figures=False)
    assert promoted.promoted and promoted.reprocess_job_id is not None
    assert run_job(project, promoted.reprocess_job_id)["state"] == "succeeded"
    assert labels_dump(project) == before  # reprocessing never touches a human label
    with project.db.session() as session:
        windows = session.scalars(select(Media.id).where(Media.kind == "window")).all()
        scored = session.scalars(
            select(PredictionSet.media_id).where(PredictionSet.model_version_id == version)
        ).all()
    assert sorted(scored) == sorted(windows)
    # The same data again trains the same head: the gate refuses it, the champion stays.
    again = start_head_training(project)
    assert run_job(project, again.job_id)["state"] == "succeeded"
    refused = promote_challenger(project, "challenger", reprocess=False, figures=False)
    assert not refused.promoted and "macro-F1" in refused.reasons[0]
    return dict(promoted.comparison.challenger.metrics)


def test_generated_sounds_through_the_loop(tmp_path: Path, db_url: str) -> None:
    made = generate_recordings(tmp_path / "sounds", 16, seed=5, duration_s=9.0)
    by_path = {str(r.path.resolve()): r for r in made}
    project = Project.init(tmp_path / "p", "sounds", list(SOUND_CLASSES), "audio", db_url)
    try:
        report = ingest_audio_paths(project, [tmp_path / "sounds"])
        assert report.added == 16 and not report.failed
        order = sorted(by_path)
        set_splits(project, lambda p: ("train", "train", "val", "test")[order.index(p) % 4])
        label_windows(project, lambda p, t0, t1: by_path[p].label_for(t0, t1))
        metrics = run_loop(project)
        assert metrics["windows"] > 0 and metrics["accuracy"] > 0.8, metrics
    finally:
        project.close()


@pytest.mark.slow
def test_real_insect_recordings_through_the_loop(tmp_path: Path, db_url: str) -> None:
    rows = list(csv.DictReader((INSECTS / "labels.csv").open()))
    species = ["Grylluscampestris", "Tettigoniaviridissima", "Pseudochorthippusparallelus"]
    chosen = [r for r in rows if r["species"] in species]
    truth = {str((INSECTS / r["path"]).resolve()): r for r in chosen}
    folder = tmp_path / "insects"
    for path, row in truth.items():  # link the chosen files into one folder per species
        target = folder / row["species"] / Path(path).name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path)
    project = Project.init(tmp_path / "p", "insects", species, "audio", db_url)
    try:
        ingest_audio_paths(project, [folder])
        splits = {"train": "train", "validation": "val", "test": "test"}
        set_splits(project, lambda p: splits[truth[str(Path(p).resolve())]["split"]])
        label_windows(project, lambda p, t0, t1: truth[str(Path(p).resolve())]["species"])
        metrics = run_loop(project)  # log-mel embeddings: no optional model needed
        assert metrics["windows"] > 20 and metrics["accuracy"] > 0.6, metrics
    finally:
        project.close()
