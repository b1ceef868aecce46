"""A confusion matrix with a background row and column, at one IoU and confidence threshold.

Matching here ignores class (a box of the wrong class on the right animal is a confusion, not
a miss plus a false alarm): pairs with IoU >= 0.5 are taken greedily from the highest IoU.
Unmatched truth boxes land in the background column (missed), unmatched detections in the
background row (false alarms), so empty frames and static false positives show up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from wildloop.evaluation.matching import ImageDetections, ImageTruth, IntArray, iou_matrix


def confusion_matrix(
    truths: Sequence[ImageTruth],
    detections: Sequence[ImageDetections],
    class_ids: Sequence[int],
    thresholds: Mapping[int, float],
    iou: float = 0.5,
) -> IntArray:
    """Counts with rows = true class (last row: background) and columns = predicted class
    (last column: background); a detection counts when its score reaches its class's
    threshold."""
    index = {c: k for k, c in enumerate(class_ids)}
    background = len(class_ids)
    matrix = np.zeros((background + 1, background + 1), dtype=np.int64)
    for truth, dets in zip(truths, detections, strict=True):
        keep = np.array(
            [
                int(c) in index and s >= thresholds.get(int(c), 0.0)
                for c, s in zip(dets.classes, dets.scores, strict=True)
            ],
            dtype=bool,
        )
        dt_boxes, dt_classes = dets.boxes[keep], dets.classes[keep]
        gt_keep = np.array([int(c) in index for c in truth.classes], dtype=bool)
        gt_boxes, gt_classes = truth.boxes[gt_keep], truth.classes[gt_keep]
        ious = iou_matrix(dt_boxes, gt_boxes)
        pairs = np.argwhere(ious >= iou)
        order = np.argsort(-ious[pairs[:, 0], pairs[:, 1]], kind="mergesort") if len(pairs) else []
        used_dt: set[int] = set()
        used_gt: set[int] = set()
        for d, g in (pairs[i] for i in order):
            if d in used_dt or g in used_gt:
                continue
            used_dt.add(int(d))
            used_gt.add(int(g))
            matrix[index[int(gt_classes[g])], index[int(dt_classes[d])]] += 1
        for g, c in enumerate(gt_classes):
            if g not in used_gt:
                matrix[index[int(c)], background] += 1
        for d, c in enumerate(dt_classes):
            if d not in used_dt:
                matrix[background, index[int(c)]] += 1
    return matrix
