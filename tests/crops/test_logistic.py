"""The crop head is fitted by scikit-learn and exported to numpy: the exported head must
give scikit-learn's own probabilities, for two classes (one logit) and for more."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from wildloop.crops.classifier import normalise
from wildloop.crops.logistic import fit_logistic, fit_mlp


def _clusters(k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(k)
    centres = rng.normal(0, 1, (k, 16))
    labels = np.repeat(np.arange(k), [30, 10, 20][:k])
    return normalise(centres[labels] + rng.normal(0, 0.8, (len(labels), 16))), labels


@pytest.mark.parametrize("k", [2, 3])
def test_exported_logistic_head_gives_scikit_learns_probabilities(k: int) -> None:
    x, labels = _clusters(k)
    head, report = fit_logistic([f"c{i}" for i in range(k)], x, labels, c=0.5)
    reference = LogisticRegression(C=0.5, class_weight="balanced", max_iter=1000)
    reference.fit(x.astype(np.float64), labels)
    assert report["converged"]
    assert np.allclose(head.scores(x), reference.predict_proba(x), atol=1e-5)


def test_exported_mlp_head_gives_scikit_learns_probabilities() -> None:
    x, labels = _clusters(3)
    head, report = fit_mlp(["a", "b", "c"], x, labels, hidden=8, balanced=False)
    reference = MLPClassifier(hidden_layer_sizes=(8,), max_iter=400, random_state=0)
    reference.fit(x.astype(np.float64), labels)
    assert report["solver"] == "mlp" and len(head.weights) == 2
    assert np.allclose(head.scores(x), reference.predict_proba(x), atol=1e-5)
