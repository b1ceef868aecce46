"""Out-of-fold class probabilities of labelled crops and confident learning over them.

A label is doubted only on the word of a model that never saw it: the crop classifier's
logistic head (``crops.logistic.fit_logistic``, the same head the crop classifier trains) is
fitted on k-1 folds and scores the held-out fold. ``groups`` keeps a group (a burst) in one
fold: then a wrong class repeated over a burst cannot vouch for itself, but each box is
judged by other bursts only, which on a weak embedder is far noisier (bench/label_issues_mct.py
measures both). Rows marked ``held_out`` (the test split) never train a fold; they are scored
by a head fitted on all the other rows, so checking test labels does not let them leak into
what judges the training labels.

cleanlab then finds the issues (``find_label_issues``: per-class thresholds from the
confident joint, so a class the head is timid about is not flagged wholesale) and scores
each label's quality. scikit-learn and cleanlab are imported when used (a second or more at
import), never with this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wildloop.crops.classifier import normalise
from wildloop.crops.logistic import DEFAULT_C, fit_logistic

FOLDS = 5
RANK_METHOD = "self_confidence"


def out_of_fold_probabilities(
    x: NDArray[Any],
    labels: NDArray[Any],
    n_classes: int,
    *,
    groups: Sequence[str] | None = None,
    held_out: NDArray[Any] | None = None,
    folds: int = FOLDS,
    seed: int = 0,
    c: float = DEFAULT_C,
) -> NDArray[np.float32]:
    """Probabilities (rows of ``x``, ``n_classes`` columns) from heads that never saw the row's
    label; folds by row, or by ``groups`` when given (and there are enough groups). Every
    class must have at least two rows outside ``held_out``."""
    from sklearn.model_selection import StratifiedGroupKFold

    x = normalise(x)
    labels = np.asarray(labels, np.int64)
    held = np.zeros(len(labels), bool) if held_out is None else np.asarray(held_out, bool)
    train_rows = np.flatnonzero(~held)
    counts = np.bincount(labels[train_rows], minlength=n_classes)
    if counts.min() < 2:
        raise ValueError("every class needs at least two labelled crops outside the test split")
    out = np.zeros((len(labels), n_classes), np.float32)
    splits = max(2, min(folds, int(counts.min())))
    keys = [str(i) for i in range(len(labels))] if groups is None else list(groups)
    if len({keys[i] for i in train_rows}) < splits:
        keys = [str(i) for i in range(len(labels))]  # too few bursts to fold by: fold by row
    group_ids = np.unique([keys[i] for i in train_rows], return_inverse=True)[1]
    splitter = StratifiedGroupKFold(n_splits=splits, shuffle=True, random_state=seed)
    for fit_at, score_at in splitter.split(x[train_rows], labels[train_rows], group_ids):
        fit_rows, score_rows = train_rows[fit_at], train_rows[score_at]
        out[score_rows] = _scores(x, labels, fit_rows, score_rows, n_classes, c)
    if held.any():
        out[held] = _scores(x, labels, train_rows, np.flatnonzero(held), n_classes, c)
    return out


def _scores(
    x: NDArray[np.float32],
    labels: NDArray[np.int64],
    fit_rows: NDArray[Any],
    score_rows: NDArray[Any],
    n_classes: int,
    c: float,
) -> NDArray[np.float32]:
    """A head fitted on ``fit_rows`` scores ``score_rows``; a class absent from the fitted
    rows (a fold can lose a rare one) gets probability 0."""
    present = np.unique(labels[fit_rows])
    column = {int(k): i for i, k in enumerate(present)}
    scored = np.zeros((len(score_rows), n_classes), np.float32)
    if len(present) == 1:
        scored[:, int(present[0])] = 1.0
        return scored
    head, _ = fit_logistic(
        [str(k) for k in present],
        x[fit_rows],
        np.array([column[int(k)] for k in labels[fit_rows]]),
        c=c,
    )
    scored[:, present] = head.scores(x[score_rows])
    return scored


@dataclass(frozen=True)
class Issue:
    """Row ``row``'s label is likely wrong: ``suggested`` is the class the heads prefer."""

    row: int
    quality: float  # cleanlab's label quality in [0, 1], low = doubtful
    suggested: int
    rank: int  # 1 = most doubtful


def label_issues(
    labels: NDArray[Any], probabilities: NDArray[Any], *, method: str = RANK_METHOD
) -> list[Issue]:
    """The rows cleanlab flags, most doubtful first, each with the class it suggests (the
    likeliest other class)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels, np.int64)
    probs = _renormalised(probabilities)
    # n_jobs=1: cleanlab otherwise forks a process pool, and a fork from a worker that runs
    # threads (every wildloop worker does) can deadlock on a lock another thread held.
    flagged = np.asarray(
        find_label_issues(labels, probs, filter_by="prune_by_noise_rate", n_jobs=1)
    )
    quality = np.asarray(get_label_quality_scores(labels, probs, method=method))
    rows = sorted(np.flatnonzero(flagged).tolist(), key=lambda r: (quality[r], r))
    return [
        Issue(
            row=r, quality=float(quality[r]), suggested=suggested_class(probs[r], labels[r]), rank=i
        )
        for i, r in enumerate(rows, 1)
    ]


def suggested_class(probs: NDArray[Any], given: int) -> int:
    others = np.array(probs, np.float64)
    others[given] = -1.0
    return int(np.argmax(others))


def _renormalised(probabilities: NDArray[Any]) -> NDArray[np.float64]:
    """Rows summing to one with no exact zero (cleanlab divides by them)."""
    p = np.asarray(probabilities, np.float64) + 1e-6
    return np.asarray(p / p.sum(axis=1, keepdims=True), np.float64)
