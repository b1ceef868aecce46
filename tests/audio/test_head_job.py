"""Audio head training and prediction through the job machinery on a real project database:
the head trains on the snapshot's train/val windows only, registers as a version with its
embedder and window settings, one training at a time; the predict job scores every window
into prediction sets and never touches a label."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.audio.head_support import EMBEDDER, LabelledWindow, labelled_project
from tests.audio.window_support import AUDIO_CLASSES
from wildloop.audio.head_job import start_head_training
from wildloop.errors import BadInput, Conflict
from wildloop.jobs.local import run_job
from wildloop.processing.predict_job import submit_reprocess
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import (
    Job,
    LabelBox,
    LabelRevision,
    Media,
    ModelVersion,
    Prediction,
    PredictionSet,
    SnapshotItem,
)
from wildloop.training.job import start_training
from wildloop.training.triggers import check_triggers, run_triggers


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(AUDIO_CLASSES, name="sounds")


@pytest.fixture
def windows(audio_project: Project, tmp_path: Path) -> list[LabelledWindow]:
    return labelled_project(audio_project, tmp_path / "audio")


def train(project: Project) -> ModelVersion:
    started = start_head_training(project)
    status = run_job(project, started.job_id)
    assert status["state"] == "succeeded", status
    with project.db.session() as session:
        version = session.scalars(
            select(ModelVersion).where(ModelVersion.job_id == started.job_id)
        ).one()
        session.expunge(version)
    return version


def test_head_training_registers_a_challenger_from_train_and_val_windows(
    audio_project: Project, windows: list[LabelledWindow]
) -> None:
    started = start_head_training(audio_project)
    assert started.embedder == EMBEDDER
    with audio_project.db.session() as session:
        splits = set(
            session.scalars(
                select(SnapshotItem.split).where(SnapshotItem.snapshot_id == started.snapshot.id)
            )
        )
    assert splits == {"train", "val"}  # the test split is never trained on
    status = run_job(audio_project, started.job_id)
    assert status["state"] == "succeeded", status
    result = status["result"]
    assert result["task"] == "audio-head" and result["embedder"] == EMBEDDER
    with audio_project.db.session() as session:
        version = session.get(ModelVersion, result["model_version_id"])
        assert version is not None
        assert version.task == "audio-head" and version.artifact_format == "npz"
        assert version.classes == [*AUDIO_CLASSES, "background"]
        assert version.snapshot_id == started.snapshot.id
        assert version.params["embedder"] == EMBEDDER
        assert version.params["window_s"] == 3.0 and version.params["hop_s"] == 1.5
        assert version.metrics["training"]["train_windows"] == sum(
            1 for w in windows if w.split == "train"
        )
        assert version.metrics["training"]["val_windows"] == sum(
            1 for w in windows if w.split == "val"
        )
        assert aliases.resolve(session, "challenger") == version.id


def test_one_training_at_a_time_whatever_it_trains(
    audio_project: Project, windows: list[LabelledWindow]
) -> None:
    first = start_head_training(audio_project)
    with pytest.raises(Conflict, match=f"already in progress \\(job {first.job_id}"):
        start_head_training(audio_project)
    with pytest.raises(Conflict, match="already in progress"):
        start_training(audio_project)
    assert run_job(audio_project, first.job_id)["state"] == "succeeded"
    second = start_head_training(audio_project)
    assert second.job_id != first.job_id


def test_a_head_needs_embedded_windows(audio_project: Project, tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no reviewed windows"):
        start_head_training(audio_project)


def _labels(project: Project) -> list[tuple[object, ...]]:
    with project.db.session() as session:
        revisions = session.execute(select(LabelRevision).order_by(LabelRevision.id)).scalars()
        rows: list[tuple[object, ...]] = [
            (r.id, r.media_id, r.revision, r.empty, r.content_hash, r.author_id, r.created_at)
            for r in revisions
        ]
        boxes = session.execute(select(LabelBox).order_by(LabelBox.id)).scalars()
        rows += [
            (b.id, b.revision_id, b.class_id, b.t_start, b.t_end, b.f_low, b.f_high, b.x)
            for b in boxes
        ]
        media = session.execute(
            select(Media.id, Media.reviewed, Media.label_revision, Media.label_class_id)
        ).all()
        rows += [tuple(m) for m in media]
        return rows


def test_reprocess_scores_every_window_and_leaves_labels_identical(
    audio_project: Project, windows: list[LabelledWindow]
) -> None:
    version = train(audio_project)
    before = _labels(audio_project)
    submitted = submit_reprocess(audio_project, model=str(version.id))
    assert submitted.items == len(windows)  # windows only, not the recordings
    assert run_job(audio_project, submitted.job_id)["state"] == "succeeded"
    assert _labels(audio_project) == before
    with audio_project.db.session() as session:
        sets = session.scalars(
            select(PredictionSet).where(PredictionSet.model_version_id == version.id)
        ).all()
        assert len(sets) == len(windows) and all(s.status == "ok" for s in sets)
        by_media = {w.window.media_id: w for w in windows}
        right = 0
        for prediction_set in sets:
            item = by_media[prediction_set.media_id]
            truth = audio_project.classes.id_of(item.label) if item.label else None
            if item.label is not None:
                right += prediction_set.top_class_id == truth
            preds = session.scalars(
                select(Prediction).where(Prediction.prediction_set_id == prediction_set.id)
            ).all()
            assert all(p.x is None and p.class_name != "background" for p in preds)
            assert all(p.t_start == item.window.t_start for p in preds)
            if item.split == "test":  # every class score is kept for evaluation
                assert len(preds) == len(AUDIO_CLASSES)
        labelled = sum(1 for w in windows if w.label)
        assert right / labelled > 0.9
    # Running it again adds nothing: one set per (window, version).
    again = submit_reprocess(audio_project, model=str(version.id))
    assert run_job(audio_project, again.job_id)["state"] == "succeeded"
    with audio_project.db.session() as session:
        count = session.scalars(
            select(PredictionSet.id).where(PredictionSet.model_version_id == version.id)
        ).all()
        assert len(count) == len(windows)
        assert session.scalar(select(Job.state).where(Job.id == again.job_id)) == "succeeded"


def test_head_retrains_after_n_new_reviewed_windows(
    audio_project: Project, windows: list[LabelledWindow]
) -> None:
    audio_project.config.modality = "audio"
    audio_project.config.audio.retrain_after_reviews = 1_000
    check = check_triggers(audio_project)
    reviewed = sum(1 for w in windows if w.split in ("train", "val"))
    assert check.due is None and check.new_reviewed == reviewed and check.threshold == 1_000
    audio_project.config.audio.retrain_after_reviews = reviewed
    check, started = run_triggers(audio_project)
    assert check.due == "reviewed" and started is not None
    with audio_project.db.session() as session:
        job = session.get(Job, started.job_id)
        assert job is not None and job.kind == "train"
        assert job.params["task"] == "audio-head" and job.params["trigger"] == "reviewed"
    again, second = run_triggers(audio_project)
    assert second is None and "already in progress" in again.reason
    assert run_job(audio_project, started.job_id)["state"] == "succeeded"
    assert check_triggers(audio_project).new_reviewed == 0  # all in the last head's snapshot


def test_detector_training_is_refused_in_an_audio_project(audio_project: Project) -> None:
    audio_project.config.modality = "audio"
    with pytest.raises(BadInput, match="wildloop audio train"):
        start_training(audio_project)
