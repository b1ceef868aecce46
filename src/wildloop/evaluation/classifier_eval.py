"""A crop classifier scored on its own: the ground-truth boxes of the frozen test split,
cut and embedded as the pipeline cuts them, named by the head, or run through a YOLO-cls
network (top-1, macro-F1, per-class precision/recall, confusion: the same figures for
both methods, so the gate compares them on the same crops). The two-stage pipeline is
scored end to end by the one COCO evaluator like any detector; this says whether the
classifier stage itself got better."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from wildloop.crops.classifier import (
    BoxClassifier,
    LabelledImage,
    classification_metrics,
    ground_truth_crops,
)
from wildloop.datasets.snapshot_model import SnapshotData, SnapshotEntry
from wildloop.domain.classes import ClassMap
from wildloop.domain.model_kinds import PIPELINE
from wildloop.evaluation.calibration import probability_metrics
from wildloop.evaluation.evaluator import (
    EvaluationRecord,
    Predict,
    store_evaluation,
    stored_evaluations,
    test_snapshot,
)
from wildloop.inference.crops import CropEmbedder
from wildloop.processing.two_stage import crop_model, load_classifier
from wildloop.project import Project
from wildloop.registry.pipelines import stages
from wildloop.registry.versions import get_version
from wildloop.store.tables import ModelVersion


def labelled_images(entries: Sequence[SnapshotEntry]) -> list[LabelledImage]:
    """The snapshot items that carry human boxes, as the crop code reads them."""
    return [
        LabelledImage(
            e.media_id,
            e.path,
            tuple((t.box.x, t.box.y, t.box.w, t.box.h) for t in e.targets),
            tuple(t.class_id for t in e.targets),
        )
        for e in entries
        if e.targets and not e.pseudo
    ]


def score_classifier(
    classifier: BoxClassifier,
    class_ids: Sequence[int],
    data: SnapshotData,
    embedder: CropEmbedder,
    *,
    imgsz: int,
    on_item: Callable[[int], None] | None = None,
    bins: int = 10,
) -> dict[str, Any]:
    """Metrics of ``classifier`` (whose columns are project ``class_ids``) on the test
    snapshot's human boxes, with the calibration of its probabilities (ECE over ``bins``,
    Brier, NLL, the reliability table). A box whose class the head lacks counts as a miss."""
    if embedder.key != classifier.embedder:
        raise ValueError(
            f"the classifier reads {classifier.embedder} vectors, the embedder is {embedder.key}"
        )
    crops = ground_truth_crops(
        labelled_images(data.entries),
        embedder,
        imgsz=imgsz,
        padding=classifier.padding,
        on_item=on_item,
    )
    columns = column_names(classifier, class_ids, data.classes)
    probabilities = classifier.scores(crops.x)
    predicted_idx = np.argmax(probabilities, axis=1) if len(crops.x) else []
    predicted = [columns[int(i)] for i in predicted_idx]
    truth = truth_names(crops.class_ids, data.classes)
    metrics = classification_metrics(truth, predicted, list(classifier.classes))
    column = {c: j for j, c in enumerate(class_ids)}
    metrics["calibration"] = probability_metrics(
        probabilities, [column.get(c) for c in crops.class_ids], bins
    )
    metrics["snapshot_id"] = data.info.id
    metrics["failed_items"] = len(crops.failed)
    return metrics


def column_names(
    classifier: BoxClassifier, class_ids: Sequence[int], classes: ClassMap
) -> list[str]:
    """The project's name of each of the head's columns (its own name for a column that is
    no project class)."""
    names = {c.id: c.name for c in classes}
    return [
        names.get(class_ids[j], str(class_ids[j])) if j < len(class_ids) else own
        for j, own in enumerate(classifier.classes)
    ]


def truth_names(class_ids: Sequence[int], classes: ClassMap) -> list[str]:
    names = {c.id: c.name for c in classes}
    return [names.get(c, str(c)) for c in class_ids]


def changed_stage(challenger: ModelVersion, champion: ModelVersion | None) -> str:
    """``classifier`` when two pipelines share their detector (only the classifier stage
    changed: the gate decides on it, over ground-truth test crops); ``pipeline`` otherwise
    (a new detector, or a first classifier: the gate decides end to end, by mAP)."""
    if (
        champion is not None
        and challenger.task == PIPELINE
        and champion.task == PIPELINE
        and challenger.detector_id == champion.detector_id
        and challenger.classifier_id != champion.classifier_id
    ):
        return "classifier"
    return "pipeline"


def evaluate_classifier_stage(
    project: Project, pipeline_id: int, data: SnapshotData
) -> EvaluationRecord:
    """The pipeline's classifier scored on ground-truth test crops, kept as that classifier
    version's evaluation on the snapshot (once per pair, like every evaluation) and returned
    under the pipeline's id and name, so the gate promotes the pipeline."""
    with project.db.session() as session:
        pipeline = get_version(session, pipeline_id)
        detector, classifier_version = stages(session, pipeline)
        session.expunge_all()
    stored = stored_evaluations(project, classifier_version.id)
    record = next((r for r in stored if r.snapshot_id == data.info.id), None)
    if record is None:
        classifier = load_classifier(project, classifier_version)
        metrics = score_classifier(
            classifier,
            list(classifier_version.class_ids or []),
            data,
            crop_model(project, classifier),
            imgsz=detector.imgsz or 640,
            bins=project.config.evaluation.calibration_bins,
        )
        metrics |= {"gate_metric": "macro_f1", "stage": "classifier"}
        record = store_evaluation(project, classifier_version.id, data, metrics)
    return replace(record, model_version_id=pipeline.id, model_name=pipeline.name)


def evaluate_classifier_pair(
    project: Project,
    challenger_id: int,
    champion_id: int | None,
    snapshot: int | str | None = None,
    *,
    predict: Predict | None = None,
) -> tuple[EvaluationRecord, EvaluationRecord | None, None]:
    """Two pipelines that differ only in their classifier, scored on that stage."""
    del predict  # ground-truth crops need no detector pass
    data = test_snapshot(project, snapshot)
    challenger = evaluate_classifier_stage(project, challenger_id, data)
    if champion_id is None:
        return challenger, None, None
    return challenger, evaluate_classifier_stage(project, champion_id, data), None
