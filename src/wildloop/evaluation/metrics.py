"""Every figure of one model on one test set, from one matching pass: the record stored in
``evaluations`` and shown by the comparison view."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wildloop.domain.classes import ClassMap
from wildloop.evaluation.average_precision import RECALL_POINTS, average_precision, iou_thresholds
from wildloop.evaluation.calibration import calibration
from wildloop.evaluation.confusion import confusion_matrix
from wildloop.evaluation.matching import ImageDetections, ImageTruth, MatchTable, build_table

EVALUATOR_VERSION = "coco101-v1"


@dataclass(frozen=True)
class Scored:
    """The matching table (for bootstraps) and the metrics record (for storage)."""

    table: MatchTable
    metrics: dict[str, Any]


def score(
    truths: Sequence[ImageTruth],
    detections: Sequence[ImageDetections],
    classes: ClassMap,
    thresholds: Mapping[int, float],
    calibration_bins: int = 10,
) -> Scored:
    """COCO mAP, per-class AP/precision/recall at the deployed thresholds, confusion matrix
    and calibration; detections of classes outside the project are counted, not scored."""
    class_ids = [c.id for c in classes]
    known = set(class_ids)
    unmapped = sum(int(sum(1 for c in d.classes if int(c) not in known)) for d in detections)
    table = build_table(truths, detections, class_ids)
    ap = average_precision(table)
    per_class: dict[str, dict[str, Any]] = {}
    tp_total = det_total = truth_total = 0
    for k, class_id in enumerate(table.class_ids):
        name = classes.name_of(int(class_id))
        rows = table.det_class == class_id
        kept = rows & (table.det_score >= thresholds.get(int(class_id), 0.0))
        tp = int(table.det_tp[kept, 0].sum())
        n_det = int(kept.sum())
        n_truth = int(table.gt_counts[:, k].sum())
        tp_total, det_total, truth_total = tp_total + tp, det_total + n_det, truth_total + n_truth
        curve = ap.curves.get(int(class_id))
        per_class[name] = {
            "truth_boxes": n_truth,
            "detections": n_det,
            "ap50": curve.ap50 if curve else None,
            "ap50_95": curve.ap50_95 if curve else None,
            "precision": tp / n_det if n_det else None,
            "recall": tp / n_truth if n_truth else None,
            "threshold": thresholds.get(int(class_id), 0.0),
        }
    confusion = confusion_matrix(truths, detections, class_ids, thresholds)
    cal = calibration(table.det_score, table.det_tp[:, 0], calibration_bins)
    metrics: dict[str, Any] = {
        "evaluator": EVALUATOR_VERSION,
        "images": table.image_count,
        "sequences": len(set(table.groups)),
        "truth_boxes": truth_total,
        "detections_scored": len(table.det_score),
        "unmapped_detections": unmapped,
        "map50": ap.map50,
        "map50_95": ap.map50_95,
        "precision": tp_total / det_total if det_total else 0.0,
        "recall": tp_total / truth_total if truth_total else 0.0,
        "per_class": per_class,
        "iou_thresholds": iou_thresholds(),
        "pr_curves": {
            "recall": [round(float(r), 2) for r in RECALL_POINTS],
            "precision50": {
                classes.name_of(c): [round(float(p), 5) for p in curve.precision[0]]
                for c, curve in ap.curves.items()
            },
        },
        "confusion": {
            "labels": [*classes.names, "background"],
            "matrix": confusion.tolist(),
            "iou": 0.5,
        },
        "calibration": {
            "ece": cal.ece,
            "detections": cal.detections,
            "bins": [b.as_dict() for b in cal.bins],
        },
    }
    return Scored(table, metrics)


def class_thresholds(
    classes: ClassMap, default: float, per_class: Mapping[str, float]
) -> dict[int, float]:
    """The deployed confidence threshold of every class (per-class override, else default)."""
    return {c.id: float(per_class.get(c.name, default)) for c in classes}


def mean_precision_curve(metrics: Mapping[str, Any]) -> list[float]:
    curves = list(metrics["pr_curves"]["precision50"].values())
    return [float(v) for v in np.mean(curves, axis=0)] if curves else []
