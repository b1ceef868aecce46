"""Matching detections to ground truth, image by image, the way COCO does it.

Every metric wildloop reports (mAP, per-class precision/recall, calibration, bootstrap
intervals) is computed from one ``MatchTable``: for each detection, whether it is a true
positive at each IoU threshold. Matching happens within an image, so resampling images (the
bootstrap) reuses the table instead of matching again.

The rules follow pycocotools' ``evaluateImg`` for bounding boxes with area range "all":
detections of one (image, class) sorted by score (stable), the best 100 kept, each taking the
unmatched ground-truth box of highest IoU at or above the threshold. Tests hold the results
to pycocotools within 0.002.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

IOU_THRESHOLDS: NDArray[np.float64] = np.linspace(0.5, 0.95, 10)
MAX_DETECTIONS = 100

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class ImageTruth:
    """Ground truth of one test image; boxes are x, y, w, h (any consistent unit)."""

    boxes: FloatArray
    classes: IntArray
    group: str

    @classmethod
    def of(cls, boxes: Sequence[Sequence[float]], classes: Sequence[int], group: str) -> ImageTruth:
        return cls(_boxes(boxes), np.asarray(classes, dtype=np.int64).reshape(-1), group)


@dataclass(frozen=True)
class ImageDetections:
    boxes: FloatArray
    scores: FloatArray
    classes: IntArray

    @classmethod
    def of(
        cls, boxes: Sequence[Sequence[float]], scores: Sequence[float], classes: Sequence[int]
    ) -> ImageDetections:
        return cls(
            _boxes(boxes),
            np.asarray(scores, dtype=np.float64).reshape(-1),
            np.asarray(classes, dtype=np.int64).reshape(-1),
        )


@dataclass(frozen=True)
class MatchTable:
    """Per-detection outcomes over all images, in pycocotools' accumulation order.

    ``det_*`` arrays hold one row per kept detection, ordered by image, then by score within
    the image; ``det_tp[:, t]`` says whether it matched at ``IOU_THRESHOLDS[t]``.
    ``gt_counts[i, k]`` is the number of truth boxes of ``class_ids[k]`` in image ``i``.
    """

    class_ids: IntArray
    det_image: IntArray
    det_class: IntArray
    det_score: FloatArray
    det_tp: BoolArray
    gt_counts: IntArray
    groups: tuple[str, ...]

    @property
    def image_count(self) -> int:
        return len(self.groups)


def _boxes(values: Sequence[Sequence[float]] | FloatArray) -> FloatArray:
    return np.asarray(values, dtype=np.float64).reshape(-1, 4)


def iou_matrix(dt: FloatArray, gt: FloatArray) -> FloatArray:
    """IoU of every detection (rows) with every truth box (columns), boxes as x, y, w, h."""
    if len(dt) == 0 or len(gt) == 0:
        return np.zeros((len(dt), len(gt)))
    dx1, dy1 = dt[:, 0:1], dt[:, 1:2]
    dx2, dy2 = dx1 + dt[:, 2:3], dy1 + dt[:, 3:4]
    gx1, gy1 = gt[:, 0], gt[:, 1]
    gx2, gy2 = gx1 + gt[:, 2], gy1 + gt[:, 3]
    iw = np.clip(np.minimum(dx2, gx2) - np.maximum(dx1, gx1), 0, None)
    ih = np.clip(np.minimum(dy2, gy2) - np.maximum(dy1, gy1), 0, None)
    inter = iw * ih
    union = (dt[:, 2:3] * dt[:, 3:4]) + (gt[:, 2] * gt[:, 3]) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def greedy_match(ious: FloatArray, threshold: float) -> IntArray:
    """For detections in score order, the truth index each one takes (-1 for none).

    A detection takes the still-unmatched truth box of highest IoU >= threshold; on equal IoU
    the later box wins, exactly as pycocotools' loop does.
    """
    n_dt, n_gt = ious.shape
    taken = np.zeros(n_gt, dtype=bool)
    result = np.full(n_dt, -1, dtype=np.int64)
    floor = min(threshold, 1 - 1e-10)
    if n_gt == 0:
        return result
    for d in range(n_dt):
        row = np.where(~taken & (ious[d] >= floor), ious[d], -np.inf)
        best = row.max()
        if best == -np.inf:
            continue
        m = n_gt - 1 - int(np.argmax(row[::-1] == best))  # the last box with the best IoU
        taken[m] = True
        result[d] = m
    return result


def build_table(
    truths: Sequence[ImageTruth],
    detections: Sequence[ImageDetections],
    class_ids: Sequence[int],
) -> MatchTable:
    """Match every image's detections to its truth, class by class, at every threshold."""
    if len(truths) != len(detections):
        raise ValueError("truth and detections must describe the same images")
    classes = np.asarray(sorted(set(class_ids)), dtype=np.int64)
    column = {int(c): k for k, c in enumerate(classes)}
    gt_counts = np.zeros((len(truths), len(classes)), dtype=np.int64)
    rows_image: list[IntArray] = []
    rows_class: list[IntArray] = []
    rows_score: list[FloatArray] = []
    rows_tp: list[BoolArray] = []
    for i, (truth, dets) in enumerate(zip(truths, detections, strict=True)):
        for c in truth.classes:
            if int(c) in column:
                gt_counts[i, column[int(c)]] += 1
        order = np.argsort(-dets.scores, kind="mergesort")
        for c in classes:
            keep = order[dets.classes[order] == c][:MAX_DETECTIONS]
            if len(keep) == 0:
                continue
            gt = truth.boxes[truth.classes == c]
            ious = iou_matrix(dets.boxes[keep], gt)
            tp = np.stack([greedy_match(ious, t) >= 0 for t in IOU_THRESHOLDS], axis=1)
            rows_image.append(np.full(len(keep), i, dtype=np.int64))
            rows_class.append(np.full(len(keep), c, dtype=np.int64))
            rows_score.append(dets.scores[keep])
            rows_tp.append(tp)
    if rows_image:
        image, cls = np.concatenate(rows_image), np.concatenate(rows_class)
        score, tp = np.concatenate(rows_score), np.concatenate(rows_tp)
        # Image order, then score order within an image: pycocotools' concatenation order.
        order = np.lexsort((-score, image))
        image, cls, score, tp = image[order], cls[order], score[order], tp[order]
    else:
        image = np.zeros(0, dtype=np.int64)
        cls = np.zeros(0, dtype=np.int64)
        score = np.zeros(0, dtype=np.float64)
        tp = np.zeros((0, len(IOU_THRESHOLDS)), dtype=bool)
    return MatchTable(
        class_ids=classes,
        det_image=image,
        det_class=cls,
        det_score=score,
        det_tp=tp,
        gt_counts=gt_counts,
        groups=tuple(t.group for t in truths),
    )
