"""Scores of a head on labelled windows, from arrays: accuracy, macro-F1, per-class precision,
recall, average precision and ROC-AUC, a confusion matrix, calibration, and a paired
bootstrap of the macro-F1 difference that resamples whole recordings.

``truth`` is a (windows, classes) boolean matrix (a row of False is "nothing"), ``scores``
the head's species scores in 0..1. A softmax head decides by argmax over the species and the
implied background score (one minus their sum); a sigmoid head calls every class whose score
reaches its threshold (0.5 unless given).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wildloop.evaluation.bootstrap import BootstrapInterval
from wildloop.evaluation.calibration import calibration

NOTHING = "nothing"
Bools = NDArray[np.bool_]
Floats = NDArray[np.float64]


def decide(scores: NDArray[Any], mode: str, thresholds: Sequence[float] | None = None) -> Bools:
    """The classes the head calls present in each window."""
    scores = np.asarray(scores, np.float64)
    n, k = scores.shape
    if mode == "softmax":
        background = 1.0 - scores.sum(axis=1, keepdims=True)
        best = np.hstack([scores, background]).argmax(axis=1)
        out = np.zeros((n, k), bool)
        hit = best < k
        out[np.flatnonzero(hit), best[hit]] = True
        return out
    limits = np.asarray(thresholds if thresholds is not None else [0.5] * k, np.float64)
    return scores >= limits


def confidence(scores: NDArray[Any], mode: str) -> Floats:
    """How sure the head is of its decision for each window (for calibration)."""
    scores = np.asarray(scores, np.float64)
    if mode == "softmax":
        background = 1.0 - scores.sum(axis=1, keepdims=True)
        best: Floats = np.hstack([scores, background]).max(axis=1)
        return best
    top = scores.max(axis=1, initial=0.0)
    sure: Floats = np.where(top >= 0.5, top, 1.0 - top)
    return sure


@dataclass(frozen=True)
class Counts:
    """Weighted true positives, false positives and false negatives per class."""

    tp: Floats
    fp: Floats
    fn: Floats

    @classmethod
    def of(cls, truth: Bools, predicted: Bools, weights: Floats | None = None) -> Counts:
        w = np.ones(len(truth)) if weights is None else weights
        return cls(w @ (truth & predicted), w @ (~truth & predicted), w @ (truth & ~predicted))

    def f1(self) -> Floats:
        denominator = 2 * self.tp + self.fp + self.fn
        return np.divide(
            2 * self.tp, denominator, out=np.zeros_like(self.tp), where=denominator > 0
        )

    def macro_f1(self) -> float:
        """Mean F1 over classes that occur in the truth or the predictions (scikit-learn's
        convention for labels seen in either)."""
        seen = (self.tp + self.fp + self.fn) > 0
        return float(self.f1()[seen].mean()) if seen.any() else 0.0


def average_precision(truth: Bools, scores: Floats) -> float | None:
    """Area under the precision-recall steps, ranking by score (None without positives)."""
    positives = int(truth.sum())
    if not positives:
        return None
    order = np.argsort(-scores, kind="stable")
    hits = truth[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / positives)


def roc_auc(truth: Bools, scores: Floats) -> float | None:
    """Probability that a positive window outscores a negative one (ties count half)."""
    positives, negatives = int(truth.sum()), int((~truth).sum())
    if not positives or not negatives:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    mid_ranks = ends - (counts - 1) / 2.0
    ranks = mid_ranks[inverse]
    return float((ranks[truth].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def window_metrics(
    truth: NDArray[Any],
    scores: NDArray[Any],
    classes: Sequence[str],
    mode: str,
    bins: int = 10,
) -> dict[str, Any]:
    """Every figure the evaluation stores, JSON-ready."""
    truth = np.asarray(truth, bool)
    scores = np.asarray(scores, np.float64)
    predicted = decide(scores, mode)
    counts = Counts.of(truth, predicted)
    support = truth.sum(axis=0)
    exact = (truth == predicted).all(axis=1)
    precision = np.divide(
        counts.tp,
        counts.tp + counts.fp,
        out=np.zeros_like(counts.tp),
        where=counts.tp + counts.fp > 0,
    )
    recall = np.divide(counts.tp, support, out=np.zeros_like(counts.tp), where=support > 0)
    f1 = counts.f1()
    per_class: dict[str, dict[str, Any]] = {}
    aps, aucs = [], []
    for i, name in enumerate(classes):
        ap = average_precision(truth[:, i], scores[:, i])
        auc = roc_auc(truth[:, i], scores[:, i])
        aps += [ap] if ap is not None else []
        aucs += [auc] if auc is not None else []
        per_class[name] = {
            "support": int(support[i]),
            "predicted": int(predicted[:, i].sum()),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "ap": ap,
            "roc_auc": auc,
        }
    calib = calibration(confidence(scores, mode), exact, bins)
    return {
        "task": "audio-head",
        "gate_metric": "macro_f1",
        "mode": mode,
        "windows": len(truth),
        "accuracy": float(exact.mean()) if len(truth) else 0.0,
        "macro_f1": counts.macro_f1(),
        "macro_precision": float(precision[support > 0].mean()) if (support > 0).any() else 0.0,
        "macro_recall": float(recall[support > 0].mean()) if (support > 0).any() else 0.0,
        "map": float(np.mean(aps)) if aps else None,
        "macro_roc_auc": float(np.mean(aucs)) if aucs else None,
        "per_class": per_class,
        "confusion": confusion(truth, predicted, scores, classes),
        "calibration": {
            "ece": calib.ece,
            "bins": [b.as_dict() for b in calib.bins],
            "windows": calib.detections,
        },
    }


def confusion(
    truth: Bools, predicted: Bools, scores: Floats, classes: Sequence[str]
) -> dict[str, Any]:
    """Rows: the true class (the first one of a multi-class window, or nothing); columns: the
    head's best called class, or nothing."""
    k = len(classes)
    true_index = np.where(truth.any(axis=1), truth.argmax(axis=1), k)
    masked = np.where(predicted, scores, -1.0)
    called = np.where(predicted.any(axis=1), masked.argmax(axis=1), k)
    matrix = np.zeros((k + 1, k + 1), int)
    np.add.at(matrix, (true_index, called), 1)
    return {"labels": [*classes, NOTHING], "matrix": matrix.tolist()}


def paired_f1_interval(
    truth: NDArray[Any],
    champion: NDArray[Any],
    challenger: NDArray[Any],
    groups: Sequence[str],
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapInterval:
    """Percentile interval of challenger minus champion macro-F1 over resamples of whole
    recordings (windows of one recording overlap and share a site and a night, so they are
    not independent evidence); both are scored on the same draw."""
    truth = np.asarray(truth, bool)
    names, group_of = np.unique(np.asarray(groups), return_inverse=True)
    rng = np.random.default_rng(seed)
    diffs = np.empty(samples)
    for s in range(samples):
        draws = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        weights = draws[group_of].astype(np.float64)
        new = Counts.of(truth, np.asarray(challenger, bool), weights).macro_f1()
        old = Counts.of(truth, np.asarray(champion, bool), weights).macro_f1()
        diffs[s] = new - old
    if not samples:
        return BootstrapInterval(np.nan, np.nan, 0, len(names), confidence)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return BootstrapInterval(float(low), float(high), samples, len(names), confidence)
