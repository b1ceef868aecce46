"""Per-class thresholds for a target precision, and what a score means, from reviewed windows.

A head's scores are not probabilities. For each class, the reviewed windows a head scored
(outside its training split) say how precise each cut-off is: the threshold is the lowest
score at which precision still reaches the target (the most recall for that precision). The
same windows give a score -> probability curve per class by isotonic regression (monotone,
no shape assumed), and a reliability table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import isotonic_regression

from wildloop.evaluation.calibration import calibration
from wildloop.evaluation.precision_thresholds import threshold_for_precision


@dataclass(frozen=True)
class CalibrationCurve:
    """Score -> probability of the class, piecewise linear through ``scores``/``probs``."""

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]

    def probability(self, score: NDArray[Any] | float) -> NDArray[np.float64]:
        return np.asarray(np.interp(score, self.scores, self.probabilities), np.float64)

    def as_dict(self) -> dict[str, Any]:
        return {"scores": list(self.scores), "probabilities": list(self.probabilities)}


def calibration_curve(truth: NDArray[np.bool_], scores: NDArray[Any]) -> CalibrationCurve | None:
    """Isotonic fit of "is the class there" on the score (None without both outcomes)."""
    truth = np.asarray(truth, bool)
    if truth.all() or not truth.any():
        return None
    scores = np.asarray(scores, np.float64)
    order = np.argsort(scores, kind="stable")
    x, y = scores[order], truth[order].astype(np.float64)
    # One point per distinct score (weighted mean of its outcomes), then the monotone fit.
    distinct, start = np.unique(x, return_index=True)
    counts = np.diff(np.r_[start, len(x)])
    means = np.add.reduceat(y, start) / counts
    fitted = isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    return CalibrationCurve(tuple(float(v) for v in distinct), tuple(float(v) for v in fitted))


def class_report(
    classes: Sequence[str],
    truth: NDArray[np.bool_],
    scores: NDArray[Any],
    target_precision: float,
    bins: int = 10,
) -> dict[str, Any]:
    """Per class: the threshold for the target precision, the calibration curve and the
    reliability bins (scores of every window for that class against its truth)."""
    out: dict[str, Any] = {}
    for i, name in enumerate(classes):
        column_truth, column_scores = truth[:, i], scores[:, i]
        curve = calibration_curve(column_truth, column_scores)
        reliability = calibration(column_scores, column_truth, bins)
        out[name] = {
            "threshold": threshold_for_precision(
                column_truth, column_scores, target_precision
            ).as_dict(),
            "calibration_curve": curve.as_dict() if curve else None,
            "ece": reliability.ece,
            "reliability": [b.as_dict() for b in reliability.bins],
        }
    return out
