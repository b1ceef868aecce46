"""A paired bootstrap interval for the mAP50-95 (and mAP50) difference of two models on one
test set (and for the re-ID top-1 difference of two embedders, resampling individuals).

Frames of a burst are near-copies of each other, so resampling frames would pretend there is
far more independent evidence than there is. Whole sequences are resampled instead (with
replacement), each draw weighting every frame of the sequence; both models are scored on the
same draw, so the interval is for the paired difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from wildloop.evaluation.average_precision import average_precision
from wildloop.evaluation.matching import MatchTable


@dataclass(frozen=True)
class BootstrapInterval:
    low: float
    high: float
    samples: int
    groups: int
    confidence: float
    map50_low: float | None = None  # the same resamples, for the mAP50 difference
    map50_high: float | None = None

    def as_dict(self) -> dict[str, float | int]:
        """The interval as comparisons report it."""
        return {
            "low": self.low,
            "high": self.high,
            "confidence": self.confidence,
            "samples": self.samples,
            "resampled_sequences": self.groups,
        }


def paired_difference_interval(
    champion: MatchTable,
    challenger: MatchTable,
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapInterval:
    """Percentile interval of challenger minus champion mAP50-95 over sequence resamples
    (and of the mAP50 difference, from the same draws)."""
    if champion.groups != challenger.groups:
        raise ValueError("both models must be scored on the same images in the same order")
    names, group_of_image = np.unique(np.asarray(champion.groups), return_inverse=True)
    rng = np.random.default_rng(seed)
    diffs = np.empty(samples)
    diffs50 = np.empty(samples)
    for s in range(samples):
        draws = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        weights = draws[group_of_image].astype(np.float64)
        new, old = average_precision(challenger, weights), average_precision(champion, weights)
        diffs[s] = new.map50_95 - old.map50_95
        diffs50[s] = new.map50 - old.map50
    tail = (1 - confidence) / 2 * 100
    if not samples:
        return BootstrapInterval(np.nan, np.nan, samples, len(names), confidence)
    low, high = np.percentile(diffs, [tail, 100 - tail])
    low50, high50 = np.percentile(diffs50, [tail, 100 - tail])
    return BootstrapInterval(
        float(low), float(high), samples, len(names), confidence, float(low50), float(high50)
    )


def paired_rate_interval(
    champion: NDArray[np.bool_],
    challenger: NDArray[np.bool_],
    groups: NDArray[np.int64],
    samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> BootstrapInterval:
    """Percentile interval of challenger minus champion hit rate (re-ID top-1) over
    resamples of whole groups (individuals): the sightings of one animal are not independent
    queries, so an individual is drawn with all of its queries; both sides are scored on the
    same draw, so the interval is for the paired difference."""
    if champion.shape != challenger.shape or champion.shape != groups.shape:
        raise ValueError("both embedders must be scored on the same queries in the same order")
    names, group_of = np.unique(groups, return_inverse=True)
    if not samples or not len(names):
        return BootstrapInterval(np.nan, np.nan, samples, len(names), confidence)
    rng = np.random.default_rng(seed)
    difference = challenger.astype(np.float64) - champion.astype(np.float64)
    diffs = np.empty(samples)
    for s in range(samples):
        draws = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        weights = draws[group_of].astype(np.float64)
        diffs[s] = float(weights @ difference) / float(weights.sum())
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(diffs, [tail, 100 - tail])
    return BootstrapInterval(float(low), float(high), samples, len(names), confidence)
