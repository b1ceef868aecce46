"""Non-maximum suppression for YOLOv8-style outputs, in NumPy (the CPU path).

Semantics follow Ultralytics' ``non_max_suppression`` for detection with its predict
defaults: best class per anchor (no multi-label), class-aware suppression via a coordinate
offset per class, at most ``max_nms`` candidates into NMS and ``max_det`` out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MAX_WH = 7680.0
MAX_NMS = 30000


def detections(
    raw: np.ndarray,
    conf: Sequence[float],
    iou: float,
    max_det: int,
    max_nms: int = MAX_NMS,
) -> list[np.ndarray]:
    """``raw`` (N, 4 + classes, anchors) -> per image (k, 6): x1, y1, x2, y2, score, class;
    ``conf`` holds each image's score threshold."""
    out = []
    for pred, threshold in zip(raw, conf, strict=True):
        scores_all = pred[4:]
        cls = scores_all.argmax(axis=0)
        score = scores_all[cls, np.arange(scores_all.shape[1])]
        keep = score > threshold
        if not keep.any():
            out.append(np.zeros((0, 6), dtype=np.float32))
            continue
        cxcywh = pred[:4, keep].T
        score, cls = score[keep], cls[keep]
        if len(score) > max_nms:
            top = np.argsort(-score, kind="stable")[:max_nms]
            cxcywh, score, cls = cxcywh[top], score[top], cls[top]
        xyxy = np.empty_like(cxcywh)
        xyxy[:, :2] = cxcywh[:, :2] - cxcywh[:, 2:] / 2
        xyxy[:, 2:] = cxcywh[:, :2] + cxcywh[:, 2:] / 2
        kept = greedy(xyxy + cls[:, None] * MAX_WH, score, iou)[:max_det]
        out.append(
            np.concatenate(
                [xyxy[kept], score[kept, None], cls[kept, None].astype(np.float32)], axis=1
            ).astype(np.float32)
        )
    return out


def greedy(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Indices kept by greedy NMS, highest score first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1).clip(0) * (y2 - y1).clip(0)
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        w = (np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest])).clip(0)
        h = (np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest])).clip(0)
        inter = w * h
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.int64)
