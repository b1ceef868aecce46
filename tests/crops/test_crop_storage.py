"""Crops embedded in the predict job's one pass, stored per box, read back and indexed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.support.engine import ingest_dir
from wildloop.cli.app import app
from wildloop.crops.index import CropIndex, build_crop_index, submit_crop_index
from wildloop.crops.vectors import box_vectors, item_vectors
from wildloop.domain.labels import LabelSet
from wildloop.inference.crops import DEFAULT_KEY
from wildloop.jobs.local import run_job
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import Provenance
from wildloop.review.labels import save_labels
from wildloop.review.queue import _novelty
from wildloop.review.queue_arrays import media_arrays
from wildloop.store.tables import CropEmbedding, Prediction
from wildloop.synthetic.scenes import Frame

DEMO_DETECTOR = Path(__file__).parents[2] / "src" / "wildloop" / "synthetic" / "demo_detector.onnx"


def _process(project: Project) -> int:
    version = register_model(
        project, DEMO_DETECTOR, "demo", provenance=Provenance(source="registered")
    )
    with project.db.session() as session:
        aliases.promote(session, version.id, None, reason="test")
    assert run_job(project, submit_process(project).job_id)["state"] == "succeeded"
    return version.id


def test_processing_stores_one_crop_vector_per_chosen_box(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    scenes(bursts=1, seed=3)
    ingest_dir(project, tmp_path / "scenes")
    project.config.crops.embed = True
    project.config.crops.min_score = 0.3
    version_id = _process(project)
    with project.db.session() as session:
        boxes = session.scalar(
            select(func.count()).select_from(Prediction).where(Prediction.score >= 0.3)
        )
        rows = session.execute(
            select(CropEmbedding.embedder, CropEmbedding.dim, Prediction.score).join(
                Prediction, Prediction.id == CropEmbedding.prediction_id
            )
        ).all()
        assert boxes and len(rows) == boxes  # every box over min_score, none under
        assert {(r.embedder, r.dim) for r in rows} == {(DEFAULT_KEY, 1024)}
        media = sorted(set(session.scalars(select(CropEmbedding.media_id))))
        stored = box_vectors(session, DEFAULT_KEY, version_id, media)
        per_item = item_vectors(session, DEFAULT_KEY, version_id, media)
    assert stored.matrix.shape == (boxes, 1024) and set(per_item) == set(media)
    assert np.isfinite(stored.matrix).all() and stored.matrix.std() > 0

    assert build_crop_index(project, DEFAULT_KEY) == boxes
    found = CropIndex(project, DEFAULT_KEY).nearest(stored.matrix[0], k=3)
    assert found[0][0] == stored.prediction_ids[0] and found[0][1] > 0.99
    # The same through the job and the CLI; the example box is left out of its neighbours.
    status = run_job(project, submit_crop_index(project))
    assert status["state"] == "succeeded" and status["result"]["count"] == boxes
    runner = CliRunner()
    root = ["--project", str(project.root)]
    result = runner.invoke(
        app,
        [
            "crops",
            "similar",
            "--prediction",
            str(stored.prediction_ids[0]),
            "-k",
            "2",
            "--json",
            *root,
        ],
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert len(listed) == min(2, boxes - 1)
    assert stored.prediction_ids[0] not in [b["prediction_id"] for b in listed]

    # Novelty for the queue: the distance from each item's best crop to the reviewed ones.
    reviewed = media[0]
    with project.db.session() as session:
        save_labels(
            session,
            reviewed,
            LabelSet(empty=True),
            author_id=project.author("ana"),
            classes=project.classes,
            expected_revision=0,
        )
        arrays = media_arrays(session)
        novelty = _novelty(project, session, version_id, arrays)
    distances = {
        int(m): float(d) for m, d in zip(arrays.ids, novelty, strict=True) if not np.isnan(d)
    }
    # Reviewed items are the reference, not queued: every other item with a crop is measured.
    assert set(distances) == set(media) - {reviewed}
    assert min(distances.values()) >= 0 and max(distances.values()) > 0.05


def test_processing_without_crops_enabled_stores_none(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    scenes(bursts=1, seed=4)
    ingest_dir(project, tmp_path / "scenes")
    _process(project)
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Prediction))
        assert session.scalar(select(func.count()).select_from(CropEmbedding)) == 0
