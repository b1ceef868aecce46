"""Does a 0.5 confidence mean right half the time? Reliability bins and expected calibration
error over every stored detection, "right" meaning a true positive at IoU 0.5."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
