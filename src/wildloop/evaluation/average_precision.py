"""COCO-style average precision (101 recall points) from a ``MatchTable``.

Images can carry weights (how many times a bootstrap resample drew them): a weight of k
counts an image's detections and truth boxes k times. With all weights 1 the numbers equal
pycocotools' ``accumulate``/``summarize`` for bounding boxes, area "all", 100 detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wildloop.evaluation.matching import IOU_THRESHOLDS, FloatArray, MatchTable

RECALL_POINTS: FloatArray = np.linspace(0.0, 1.0, 101)
_EPS = np.spacing(1)


@dataclass(frozen=True)
class ClassCurve:
    """Interpolated precision at the 101 recall points, for every IoU threshold."""

    class_id: int
    truth_boxes: float
    precision: FloatArray  # shape (len(IOU_THRESHOLDS), 101)

    @property
    def ap_per_threshold(self) -> FloatArray:
        return self.precision.mean(axis=1)

    @property
    def ap50(self) -> float:
        return float(self.precision[0].mean())

    @property
    def ap50_95(self) -> float:
        return float(self.precision.mean())


@dataclass(frozen=True)
class ApResult:
    curves: dict[int, ClassCurve]  # classes with at least one truth box

    @property
    def map50(self) -> float:
        return float(np.mean([c.ap50 for c in self.curves.values()])) if self.curves else 0.0

    @property
    def map50_95(self) -> float:
        return float(np.mean([c.ap50_95 for c in self.curves.values()])) if self.curves else 0.0


def interpolated_precision(tp_cum: FloatArray, fp_cum: FloatArray, n_truth: float) -> FloatArray:
    """Precision at each recall point from cumulative TP/FP counts (rows = detections in score
    order, columns = IoU thresholds): the precision envelope read where recall first reaches
    the point, zero where it never does."""
    n_det, n_thr = tp_cum.shape
    out = np.zeros((n_thr, len(RECALL_POINTS)))
    if n_det == 0:
        return out
    recall = tp_cum / n_truth
    precision = tp_cum / (tp_cum + fp_cum + _EPS)
    envelope = np.maximum.accumulate(precision[::-1], axis=0)[::-1]
    for t in range(n_thr):
        idx = np.searchsorted(recall[:, t], RECALL_POINTS, side="left")
        ok = idx < n_det
        out[t, ok] = envelope[idx[ok], t]
    return out


def average_precision(table: MatchTable, image_weights: FloatArray | None = None) -> ApResult:
    """Per-class precision curves and AP; classes without truth boxes are left out (as COCO
    leaves them out of the mean)."""
    weights = np.ones(table.image_count) if image_weights is None else image_weights
    truth_per_class = weights @ table.gt_counts
    det_weight = weights[table.det_image]
    curves: dict[int, ClassCurve] = {}
    for k, class_id in enumerate(table.class_ids):
        n_truth = float(truth_per_class[k])
        if n_truth <= 0:
            continue
        rows = np.flatnonzero(table.det_class == class_id)
        order = rows[np.argsort(-table.det_score[rows], kind="mergesort")]
        w = det_weight[order][:, None]
        tp = table.det_tp[order]
        tp_cum = np.cumsum(w * tp, axis=0)
        fp_cum = np.cumsum(w * ~tp, axis=0)
        curves[int(class_id)] = ClassCurve(
            int(class_id), n_truth, interpolated_precision(tp_cum, fp_cum, n_truth)
        )
    return ApResult(curves)


def iou_thresholds() -> list[float]:
    return [round(float(t), 2) for t in IOU_THRESHOLDS]
