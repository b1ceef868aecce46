"""Cut-offs from scored, judged examples: the threshold for a target precision, the best-F1
threshold, and the precision-recall curve they are read from.

Shared by audio heads (windows judged against reviewed labels) and detectors (boxes matched to
reviewed boxes at IoU 0.5). Lives here, not in ``domain``, because it is numpy work and the
domain contract forbids numpy. ``positives`` is how many true things exist: for windows it is
the number of positive windows; for boxes it is the number of human boxes, since a missed
animal has no score at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

CURVE_POINTS = 101


@dataclass(frozen=True)
class ThresholdChoice:
    """The cut-off for one class; ``threshold`` is None when no cut-off reaches the target.

    ``windows`` is how many scored examples (windows or boxes) the choice was read from."""

    threshold: float | None
    precision: float | None
    recall: float | None
    positives: int
    windows: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class _Ranked:
    scores: NDArray[np.float64]
    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    cuts: NDArray[np.intp]  # indices where a cut between distinct scores is possible
    positives: int
    count: int


def _rank(truth: NDArray[Any], scores: NDArray[Any], positives: int | None) -> _Ranked:
    hits = np.asarray(truth, bool)
    values = np.asarray(scores, np.float64)
    total = int(hits.sum()) if positives is None else int(positives)
    order = np.argsort(-values, kind="stable")
    ranked, hits = values[order], hits[order]
    tp = np.cumsum(hits)
    precision = tp / np.maximum(np.arange(1, len(hits) + 1), 1)
    recall = tp / total if total else np.zeros(len(hits))
    # Only cut between distinct scores: a threshold keeps every example with that score.
    cuts = (
        np.flatnonzero(np.r_[ranked[1:] != ranked[:-1], True])
        if len(ranked)
        else np.zeros(0, np.intp)
    )
    return _Ranked(ranked, precision, recall, cuts, total, len(hits))


def _choice(r: _Ranked, cut: int) -> ThresholdChoice:
    return ThresholdChoice(
        float(r.scores[cut]),
        float(r.precision[cut]),
        float(r.recall[cut]),
        r.positives,
        r.count,
    )


def threshold_for_precision(
    truth: NDArray[np.bool_],
    scores: NDArray[Any],
    target: float,
    positives: int | None = None,
) -> ThresholdChoice:
    """The lowest score whose examples at or above it are at least ``target`` precise."""
    r = _rank(truth, scores, positives)
    if not r.positives:
        return ThresholdChoice(None, None, None, 0, r.count)
    good = r.cuts[r.precision[r.cuts] >= target]
    if not len(good):
        return ThresholdChoice(None, None, None, r.positives, r.count)
    return _choice(r, int(good[-1]))


def threshold_for_best_f1(
    truth: NDArray[np.bool_], scores: NDArray[Any], positives: int | None = None
) -> ThresholdChoice:
    """The cut-off of highest F1 (the higher threshold on ties: fewer boxes to look at)."""
    r = _rank(truth, scores, positives)
    if not r.positives or not len(r.cuts):
        return ThresholdChoice(None, None, None, r.positives, r.count)
    p, q = r.precision[r.cuts], r.recall[r.cuts]
    f1 = np.where(p + q > 0, 2 * p * q / np.maximum(p + q, 1e-12), 0.0)
    if not f1.max() > 0:
        return ThresholdChoice(None, None, None, r.positives, r.count)
    return _choice(r, int(r.cuts[int(np.argmax(f1))]))


def pr_curve(
    truth: NDArray[np.bool_],
    scores: NDArray[Any],
    positives: int | None = None,
    points: int = CURVE_POINTS,
) -> dict[str, list[float]]:
    """Precision and recall at each distinct score (thinned to ``points`` for storage)."""
    r = _rank(truth, scores, positives)
    cuts = r.cuts
    if len(cuts) > points:
        cuts = cuts[np.unique(np.linspace(0, len(cuts) - 1, points).round().astype(np.intp))]
    return {
        "thresholds": [round(float(v), 6) for v in r.scores[cuts]],
        "precision": [round(float(v), 6) for v in r.precision[cuts]],
        "recall": [round(float(v), 6) for v in r.recall[cuts]],
    }
