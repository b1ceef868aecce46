"""A crop classifier scored on its own: the ground-truth boxes of the frozen test split,
cut and embedded as the pipeline cuts them, named by the head (top-1, macro-F1, per-class
precision/recall, confusion). The two-stage pipeline is scored end to end by the one COCO
evaluator like any detector; this says whether the classifier stage itself got better."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wildloop.crops.classifier import (
    CropClassifier,
    LabelledImage,
    classification_metrics,
    ground_truth_crops,
)
from wildloop.datasets.snapshot_model import SnapshotData, SnapshotEntry
from wildloop.domain.classes import ClassMap
from wildloop.inference.crops import CropEmbedder


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
    classifier: CropClassifier,
    class_ids: Sequence[int],
    data: SnapshotData,
    embedder: CropEmbedder,
    *,
    imgsz: int,
    on_item: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Metrics of ``classifier`` (whose columns are project ``class_ids``) on the test
    snapshot's human boxes. A box whose class the head lacks counts as a miss."""
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
    names = _names(data.classes)
    predicted_idx = np.argmax(classifier.scores(crops.x), axis=1) if len(crops.x) else []
    predicted = [names.get(class_ids[int(i)], str(class_ids[int(i)])) for i in predicted_idx]
    truth = [names.get(c, str(c)) for c in crops.class_ids]
    metrics = classification_metrics(truth, predicted, list(classifier.classes))
    metrics["snapshot_id"] = data.info.id
    metrics["failed_items"] = len(crops.failed)
    return metrics


def _names(classes: ClassMap) -> dict[int, str]:
    return {c.id: c.name for c in classes}
