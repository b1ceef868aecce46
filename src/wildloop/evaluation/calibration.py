"""Does a 0.5 confidence mean right half the time? Reliability bins and expected calibration
error over every stored detection, "right" meaning a true positive at IoU 0.5."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wildloop.evaluation.matching import BoolArray, FloatArray


@dataclass(frozen=True)
class ReliabilityBin:
    low: float
    high: float
    count: int
    mean_confidence: float
    accuracy: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "low": self.low,
            "high": self.high,
            "count": self.count,
            "mean_confidence": self.mean_confidence,
            "accuracy": self.accuracy,
        }


@dataclass(frozen=True)
class Calibration:
    bins: tuple[ReliabilityBin, ...]
    ece: float
    detections: int


def calibration(scores: FloatArray, correct: BoolArray, bins: int = 10) -> Calibration:
    """Equal-width confidence bins; ECE is the count-weighted mean |accuracy - confidence|."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    # A score of exactly 1.0 belongs to the last bin.
    which = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, bins - 1)
    out = []
    ece = 0.0
    total = len(scores)
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        conf = float(scores[mask].mean()) if n else 0.0
        acc = float(correct[mask].mean()) if n else 0.0
        out.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n, conf, acc))
        if total:
            ece += n / total * abs(acc - conf)
    return Calibration(tuple(out), ece, total)


def probability_metrics(
    probabilities: NDArray[np.floating[Any]], truth: Sequence[int | None], bins: int = 10
) -> dict[str, Any]:
    """How honest a classifier's class probabilities are on labelled crops.

    ``probabilities`` has one row per crop (each row sums to 1); ``truth[i]`` is the column
    of crop i's true class, or None when the classifier has no such class (then the crop
    can only be wrong: it counts in ECE and Brier with an all-zero target, and NLL, which
    would be infinite, is taken over the other crops). Returns ECE over ``bins`` equal-width
    bins of the top probability ("right" meaning the top class is the true one), the
    multi-class Brier score (mean over crops of the summed squared error against the
    one-hot target) and the mean negative log-likelihood of the true class."""
    n = len(truth)
    if not n:
        return {"ece": None, "brier": None, "nll": None, "crops": 0, "bins": []}
    p = np.asarray(probabilities, dtype=np.float64)
    target = np.zeros_like(p)
    named = [(i, t) for i, t in enumerate(truth) if t is not None]
    for i, t in named:
        target[i, t] = 1.0
    top = np.argmax(p, axis=1)
    correct = np.array([t is not None and int(top[i]) == t for i, t in enumerate(truth)])
    cal = calibration(p[np.arange(n), top], correct, bins)
    true_p = np.array([p[i, t] for i, t in named])
    nll = float(-np.log(np.clip(true_p, 1e-12, 1.0)).mean()) if named else None
    return {
        "ece": cal.ece,
        "brier": float(((p - target) ** 2).sum(axis=1).mean()),
        "nll": nll,
        "crops": n,
        "bins": [b.as_dict() for b in cal.bins],
    }
