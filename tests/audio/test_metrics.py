"""Window metrics agree with scikit-learn's on the same arrays; the decision rule, the
confusion matrix and the recording bootstrap behave as documented."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from wildloop.audio.metrics import (
    Counts,
    average_precision,
    decide,
    paired_f1_interval,
    roc_auc,
    window_metrics,
)

CLASSES = ["a", "b", "c"]


def softmax_case(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 4, n)  # 3 = nothing
    logits = rng.normal(0, 1, (n, 4))
    logits[np.arange(n), label] += 1.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    truth = np.zeros((n, 3), bool)
    truth[label < 3, label[label < 3]] = True
    return truth, probs[:, :3]


def test_figures_match_scikit_learn() -> None:
    truth, scores = softmax_case()
    m = window_metrics(truth, scores, CLASSES, "softmax")
    true_label = np.where(truth.any(axis=1), truth.argmax(axis=1), 3)
    called = np.hstack([scores, 1 - scores.sum(axis=1, keepdims=True)]).argmax(axis=1)
    assert m["accuracy"] == pytest.approx((true_label == called).mean())
    assert m["macro_f1"] == pytest.approx(
        f1_score(true_label, called, labels=[0, 1, 2], average="macro")
    )
    for i, name in enumerate(CLASSES):
        assert m["per_class"][name]["ap"] == pytest.approx(
            average_precision_score(truth[:, i], scores[:, i])
        )
        assert m["per_class"][name]["roc_auc"] == pytest.approx(
            roc_auc_score(truth[:, i], scores[:, i])
        )
    matrix = np.array(m["confusion"]["matrix"])
    assert matrix.sum() == len(truth)
    assert np.trace(matrix) == (true_label == called).sum()
    assert m["confusion"]["labels"] == [*CLASSES, "nothing"]
    assert 0 <= m["calibration"]["ece"] <= 1


def test_ties_count_half_in_roc_auc() -> None:
    truth = np.array([True, False, True, False])
    scores = np.array([0.5, 0.5, 0.9, 0.1])
    assert roc_auc(truth, scores) == pytest.approx(roc_auc_score(truth, scores))
    assert roc_auc(np.array([True, True]), np.array([0.1, 0.2])) is None
    assert average_precision(np.array([False, False]), np.array([0.1, 0.2])) is None


def test_sigmoid_heads_call_every_class_over_threshold() -> None:
    scores = np.array([[0.9, 0.7, 0.1], [0.2, 0.3, 0.4]])
    assert decide(scores, "sigmoid").tolist() == [[True, True, False], [False, False, False]]
    assert decide(scores, "sigmoid", [0.95, 0.5, 0.3]).tolist() == [
        [False, True, False],
        [False, False, True],
    ]
    # Softmax: the implied background (1 - 0.9) loses in the first row, wins in the second.
    assert decide(scores[:, :1], "softmax").tolist() == [[True], [False]]


def test_macro_f1_ignores_classes_never_seen() -> None:
    truth = np.array([[True, False, False], [False, True, False]])
    predicted = np.array([[True, False, False], [False, True, False]])
    assert Counts.of(truth, predicted).macro_f1() == 1.0


def test_bootstrap_resamples_recordings_and_brackets_a_real_gain() -> None:
    truth, scores = softmax_case(400, seed=3)
    noisy = np.clip(scores + np.random.default_rng(9).normal(0, 0.3, scores.shape), 1e-6, None)
    noisy /= noisy.sum(axis=1, keepdims=True) * 1.05
    old, new = decide(noisy, "softmax"), decide(scores, "softmax")
    groups = [f"rec{i // 8}" for i in range(len(truth))]
    interval = paired_f1_interval(truth, old, new, groups, samples=300)
    gain = Counts.of(truth, new).macro_f1() - Counts.of(truth, old).macro_f1()
    assert interval.groups == 50
    assert interval.low < gain < interval.high
    same = paired_f1_interval(truth, new, new, groups, samples=50)
    assert same.low == same.high == 0.0
