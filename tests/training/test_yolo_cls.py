"""The crop classifier's second method on generated scenes: Ultralytics YOLO-cls trained end
to end as a job (offline, from an untrained yaml), exported to ONNX, registered as a crop
classifier, run in a pipeline on the crops of the frames the detector decoded, scored on
the same test crops as a head, and cancelled within a batch."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from wildloop.crops.yolo_cls import YoloClsClassifier
from wildloop.errors import BadInput, Unavailable
from wildloop.evaluation.comparison import compare_models
from wildloop.inference.ultralytics_adapter import import_ultralytics
from wildloop.jobs.local import run_job
from wildloop.jobs.records import cancel_job, job_status
from wildloop.processing.predict_job import predict_items
from wildloop.processing.two_stage import load_classifier
from wildloop.project import Project
from wildloop.registry.pipelines import register_pipeline
from wildloop.registry.versions import get_version
from wildloop.store.tables import Media, ModelVersion, Prediction, PredictionSet
from wildloop.training.classifier_job import start_classifier_training

TINY = {"method": "yolo-cls", "epochs": 2, "crop_size": 64, "batch": 16}


@pytest.fixture
def yolo_project(two_stage: tuple[Project, int]) -> tuple[Project, int]:
    """The two-stage scenes, Ultralytics on the CPU in this process (no loader workers)."""
    project = two_stage[0]
    project.config.training.workers = 0
    project.config.training.device = "cpu"
    return two_stage


@pytest.mark.slow
def test_yolo_cls_trains_registers_runs_in_a_pipeline_and_is_gated_against_a_head(
    yolo_project: tuple[Project, int],
) -> None:
    project, detector_id = yolo_project
    started = start_classifier_training(project, overrides=TINY)
    messages: list[str] = []
    status = run_job(
        project,
        started.job_id,
        progress=lambda s: messages.append(s["message"] or ""),
        poll_seconds=0.02,
    )
    assert status["state"] == "succeeded", status
    result = status["result"]
    assert result["method"] == "yolo-cls"
    assert any(m.startswith("epoch 2/2") and "val top-1" in m for m in messages), messages
    classifier = _version(project, result["model_version_id"])
    assert classifier.task == "crop-classifier" and classifier.artifact_format == "onnx"
    assert classifier.params["method"] == "yolo-cls"
    assert classifier.params["start"] == "yolov8n-cls.yaml"  # nothing downloaded
    assert classifier.class_ids == [project.classes.id_of(c) for c in classifier.classes]
    training = classifier.metrics["training"]
    assert [c["epoch"] for c in training["curves"]] == [1, 2]
    assert all("val_top1" in c for c in training["curves"])
    test = classifier.metrics["test"]
    confusion = test["confusion"]
    assert test["crops"] > 0 and sum(sum(r.values()) for r in confusion.values()) == test["crops"]
    hits = sum(row.get(name, 0) for name, row in confusion.items())
    assert test["top1"] == round(hits / test["crops"], 4)
    # The test split is never written for training.
    run = project.path("runs") / f"classifier-{started.job_id:05d}"
    assert sorted(p.name for p in (run / "crops").iterdir() if p.is_dir()) == ["train", "val"]
    # The registered ONNX export, run as the pipeline runs it, gives Ultralytics' own
    # probabilities for the val crops, in the registered class order.
    files = sorted((run / "crops" / "val").glob("*/*.png"))[:8]
    reference = import_ultralytics().YOLO(str(run / "ultralytics" / "weights" / "best.pt"))
    expected = np.stack(
        [r.probs.data.numpy() for r in reference.predict([str(f) for f in files], verbose=False)]
    )
    with project.db.session() as session:
        loaded = load_classifier(project, get_version(session, classifier.id))
    crops = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])
    assert isinstance(loaded, YoloClsClassifier)
    np.testing.assert_allclose(loaded.model.embed(crops), expected, atol=2e-3)
    folder_ids = [int(f.parent.name) for f in files]
    assert all(c in classifier.class_ids for c in folder_ids)
    assert [reference.names[i] for i in range(len(classifier.classes))] == [
        f"{c:06d}" for c in classifier.class_ids
    ]

    yolo_pipeline = _version(project, result["pipeline_id"])
    assert (yolo_pipeline.detector_id, yolo_pipeline.classifier_id) == (detector_id, classifier.id)
    with project.db.session() as session:
        media = list(session.scalars(select(Media.id).order_by(Media.id).limit(10)))
    predict_items(project, yolo_pipeline.id, media)
    rows = _predictions(project, yolo_pipeline.id)
    named = [r for r in rows if r.det_score >= yolo_pipeline.params["min_box_score"]]
    assert named and all(r.class_name in classifier.classes for r in named)
    assert any(abs(r.score - r.det_score) > 1e-6 for r in named)

    # A head on the same detector: the gate compares the two classifiers on the same
    # ground-truth test crops (the stage that changed), by the same metrics.
    head_status = run_job(project, start_classifier_training(project).job_id)
    assert head_status["state"] == "succeeded", head_status
    assert head_status["result"]["method"] == "head"
    head_pipeline = _version(project, head_status["result"]["pipeline_id"])
    predict_items(project, head_pipeline.id, media)  # the head path still names boxes
    head_named = _predictions(project, head_pipeline.id)
    head = _version(project, head_status["result"]["model_version_id"])
    assert {r.class_name for r in head_named} & set(head.classes)
    comparison = compare_models(project, yolo_pipeline.id, head_pipeline.id, figures=False)
    assert comparison.challenger.metrics["stage"] == "classifier"
    assert comparison.champion is not None
    assert comparison.challenger.metrics["crops"] == comparison.champion.metrics["crops"]
    assert comparison.challenger.metrics["top1"] == test["top1"]
    assert comparison.decision.improvement == pytest.approx(
        comparison.challenger.metrics["macro_f1"] - comparison.champion.metrics["macro_f1"]
    )
    # A pipeline pairs a registered YOLO-cls classifier with a detector like a head.
    again = register_pipeline(project, "yolo-again", detector_id, classifier.id)
    assert again.classifier_id == classifier.id


@pytest.mark.slow
def test_cancel_stops_a_yolo_cls_training_within_a_batch(
    yolo_project: tuple[Project, int],
) -> None:
    project, _ = yolo_project
    started = start_classifier_training(project, overrides=TINY | {"epochs": 200, "batch": 4})
    final: dict[str, Any] = {}
    runner = threading.Thread(target=lambda: final.update(run_job(project, started.job_id)))
    runner.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and runner.is_alive():
        with project.db.session() as session:
            status = job_status(session, started.job_id)
        if (status["message"] or "").startswith("epoch"):
            break
        time.sleep(0.1)
    with project.db.session() as session:
        cancel_job(session, started.job_id)
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert final["state"] == "cancelled", final
    assert final["progress"]["done"] < final["progress"]["total"]
    with project.db.session() as session:
        assert (
            session.scalar(select(ModelVersion).where(ModelVersion.job_id == started.job_id))
            is None
        )


def test_yolo_cls_settings_are_checked_before_a_job_is_queued(
    project: Project, tmp_path: Path
) -> None:
    with pytest.raises(BadInput, match="unknown classifier method"):
        start_classifier_training(project, overrides={"method": "svm"})
    with pytest.raises(BadInput, match="multiple of 32"):
        start_classifier_training(project, overrides=TINY | {"crop_size": 100})
    with pytest.raises(BadInput, match="for --method yolo-cls"):
        start_classifier_training(project, overrides={"start_weights": str(tmp_path / "x.pt")})
    with pytest.raises(Unavailable, match="never downloads"):
        start_classifier_training(
            project, overrides=TINY | {"start_weights": str(tmp_path / "yolov8n-cls.pt")}
        )


def _version(project: Project, version_id: int) -> ModelVersion:
    with project.db.session() as session:
        version = get_version(session, version_id)
        session.expunge(version)
        return version


def _predictions(project: Project, version_id: int) -> list[Any]:
    with project.db.session() as session:
        return list(
            session.execute(
                select(Prediction.class_name, Prediction.score, Prediction.det_score)
                .join(PredictionSet)
                .where(PredictionSet.model_version_id == version_id)
            ).all()
        )
