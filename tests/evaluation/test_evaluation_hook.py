"""The evaluator's default prediction hook runs the engine pipeline on unseen test items."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.engine import register
from tests.support.loop import ingest_frames, label_frames
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.evaluation.evaluator import evaluate_model
from wildloop.jobs.records import list_jobs
from wildloop.project import Project
from wildloop.store.tables import PredictionSet
from wildloop.synthetic.scenes import Frame


@pytest.mark.xdist_group("trained-detector")
def test_evaluation_predicts_missing_items_through_the_pipeline(
    project: Project, scenes: Callable[..., list[Frame]], trained_pt: Path, tmp_path: Path
) -> None:
    frames = scenes(bursts=24, seed=21)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    info, _ = create_snapshot(project, "test")
    data = load_snapshot(project, info.id)
    version = register(project, trained_pt, "v1", imgsz=160, promote=False)
    record, _ = evaluate_model(project, version.id, info.id)
    assert record.metrics["images"] == len(data.entries)
    with project.db.session() as session:
        covered = set(
            session.scalars(
                select(PredictionSet.media_id).where(PredictionSet.model_version_id == version.id)
            )
        )
        jobs = list_jobs(session)
    assert covered == {e.media_id for e in data.entries}
    assert jobs[0]["kind"] == "predict" and jobs[0]["params"]["purpose"] == "evaluate"
    assert jobs[0]["state"] == "succeeded"
