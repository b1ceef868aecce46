"""The crop classifier's head, fitted by scikit-learn and exported to a numpy ``Head``.

On crop embeddings (a thousand dimensions, a few hundred boxes) the gradient-descent head
that audio uses stops early on a noisy validation loss and scored top-1 0.15 on mct-real's
test crops where a logistic regression solved to convergence scores 0.39
(bench/crop_classifier.py): scikit-learn's ``LogisticRegression`` (L2 penalty ``c`` as its
``C``, class-balanced, L-BFGS) on the L2-normalised vectors, without standardising them;
``hidden`` > 0 fits an ``MLPClassifier`` with one ReLU layer instead. Only the fitting needs
scikit-learn: the coefficients are copied into an ordinary ``Head`` (identity scaling), saved
and loaded as audio heads are, so naming boxes at inference is plain numpy. scikit-learn is
imported when a head is fitted, not with this module: it would add about a second to every
CLI start.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from wildloop.audio.head import Head
from wildloop.crops.classifier import CropSet, classification_metrics, normalise

DEFAULT_C = 1.0
MAX_ITER = 1000
MLP_MAX_ITER = 400
C_GRID = (0.1, 0.3, 1.0, 3.0)


def fit_logistic(
    classes: list[str],
    x: NDArray[Any],
    labels: NDArray[Any],
    *,
    c: float = DEFAULT_C,
    balanced: bool = True,
) -> tuple[Head, dict[str, Any]]:
    """A softmax head over ``x`` (rows already normalised) for ``labels`` (column indexes
    into ``classes``, every one present), and a small report (iterations, seconds,
    converged)."""
    from sklearn.linear_model import LogisticRegression

    started = time.perf_counter()
    model = LogisticRegression(
        C=c, class_weight="balanced" if balanced else None, max_iter=MAX_ITER
    )
    converged = _fit(model, classes, x, labels, None)
    iterations = int(np.max(model.n_iter_))
    head = _softmax_head(classes, [model.coef_.T], [model.intercept_])
    report = {
        "solver": "lbfgs",
        "c": c,
        "iterations": iterations,
        "converged": converged,
        "seconds": round(time.perf_counter() - started, 3),
        "train_crops": len(labels),
    }
    return head, report


def fit_mlp(
    classes: list[str], x: NDArray[Any], labels: NDArray[Any], *, hidden: int, balanced: bool
) -> tuple[Head, dict[str, Any]]:
    """A one-hidden-layer (ReLU) softmax head; classes weighted by inverse frequency."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.utils.class_weight import compute_sample_weight

    started = time.perf_counter()
    model = MLPClassifier(hidden_layer_sizes=(hidden,), max_iter=MLP_MAX_ITER, random_state=0)
    weights = compute_sample_weight("balanced", labels) if balanced else None
    converged = _fit(model, classes, x, labels, weights)
    head = _softmax_head(classes, model.coefs_, model.intercepts_)
    report = {
        "solver": "mlp",
        "hidden": hidden,
        "iterations": int(model.n_iter_),
        "converged": converged,
        "seconds": round(time.perf_counter() - started, 3),
        "train_crops": len(labels),
    }
    return head, report


def _fit(
    model: Any,
    classes: list[str],
    x: NDArray[Any],
    labels: NDArray[Any],
    sample_weight: NDArray[Any] | None,
) -> bool:
    """Fit on one BLAS thread (small matrices on a shared machine); False when the solver
    stopped at its iteration cap."""
    from sklearn.exceptions import ConvergenceWarning

    labels = np.asarray(labels, np.int64)
    if sorted(set(labels.tolist())) != list(range(len(classes))):
        raise ValueError("every class needs at least one labelled crop")
    with (
        threadpool_limits(limits=1, user_api="blas"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(np.asarray(x, np.float64), labels, sample_weight=sample_weight)
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _softmax_head(
    classes: list[str], weights: list[NDArray[Any]], biases: list[NDArray[Any]]
) -> Head:
    """The fitted layers as a softmax ``Head``. With two classes scikit-learn fits one
    logit for the second class; a zero logit for the first gives the same probabilities."""
    *hidden_w, out_w = [np.asarray(w, np.float32) for w in weights]
    *hidden_b, out_b = [np.asarray(b, np.float32) for b in biases]
    if out_w.shape[1] == 1 and len(classes) == 2:
        out_w = np.hstack([np.zeros_like(out_w), out_w])
        out_b = np.concatenate([np.zeros_like(out_b), out_b])
    dim = hidden_w[0].shape[0] if hidden_w else out_w.shape[0]
    return Head(
        tuple(classes),
        "softmax",
        np.zeros(dim, np.float32),
        np.ones(dim, np.float32),
        (*hidden_w, out_w),
        (*hidden_b, out_b),
    )


def fit_crop_head(
    names: dict[int, str],
    train: CropSet,
    val: CropSet,
    *,
    c: float | None = None,
    hidden: int = 0,
    balanced: bool = True,
) -> tuple[Head, list[int], dict[str, Any]]:
    """The crop classifier's head and its columns (project class ids).

    ``c`` None chooses the penalty on the validation crops (fitted on train, macro-F1 over
    the validation crops of train's classes), then the head is fitted again on train and
    validation crops together, so a class seen only in validation is still learned. With
    ``hidden`` > 0 a one-hidden-layer MLP, fitted on train and validation crops, replaces
    the logistic regression."""
    x_all = normalise(np.vstack([train.x, val.x]))
    ids_all = list(train.class_ids) + list(val.class_ids)
    columns = sorted(set(ids_all))
    index = {class_id: i for i, class_id in enumerate(columns)}
    labels = np.array([index[i] for i in ids_all])
    classes = [names[i] for i in columns]
    if hidden > 0:
        head, report = fit_mlp(classes, x_all, labels, hidden=hidden, balanced=balanced)
        return head, columns, report
    scores: dict[float, float] = {}
    if c is None:
        c = _choose_c(train, val, balanced, scores)
    head, report = fit_logistic(classes, x_all, labels, c=c, balanced=balanced)
    return head, columns, report | {"val_macro_f1_by_c": scores}


def _choose_c(train: CropSet, val: CropSet, balanced: bool, scores: dict[float, float]) -> float:
    """The penalty whose train-only fit scores the best validation macro-F1 (DEFAULT_C when
    validation holds no crop of train's classes)."""
    columns = sorted(set(train.class_ids))
    index = {class_id: i for i, class_id in enumerate(columns)}
    keep = [i for i, class_id in enumerate(val.class_ids) if class_id in index]
    if not keep or len(columns) < 2:
        return DEFAULT_C
    x_val = normalise(val.x[keep])
    truth = [index[val.class_ids[i]] for i in keep]
    for c in C_GRID:
        head, _ = fit_logistic(
            [str(i) for i in columns],
            normalise(train.x),
            np.array([index[i] for i in train.class_ids]),
            c=c,
            balanced=balanced,
        )
        predicted = [int(i) for i in np.argmax(head.scores(x_val), axis=1)]
        names = [str(i) for i in range(len(columns))]
        scores[c] = float(
            classification_metrics([names[t] for t in truth], [names[p] for p in predicted], names)[
                "macro_f1"
            ]
            or 0.0
        )
    return max(C_GRID, key=lambda c: (scores[c], -abs(np.log(c))))
