"""Multinomial logistic regression fitted by L-BFGS: the crop classifier's default head.

On crop embeddings (a thousand dimensions, a few hundred boxes) the gradient-descent head
that audio uses stops early on a noisy validation loss and scored top-1 0.15 on mct-real's
test crops where this fit scores 0.39 (bench/crop_classifier.py): an L2-penalised
(``c`` as scikit-learn's ``C``), class-balanced softmax regression solved to convergence
on the L2-normalised vectors, without standardising them. It is scikit-learn's
``LogisticRegression(class_weight="balanced")`` objective in thirty lines of scipy, so the
product needs no scikit-learn. The result is an ordinary ``Head`` (identity scaling), saved
and loaded as audio heads are.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from wildloop.audio.head import Head, HeadParams, train_head
from wildloop.crops.classifier import CropSet, classification_metrics, normalise, one_hot

DEFAULT_C = 1.0
MAX_ITER = 1000


def fit_logistic(
    classes: list[str],
    x: NDArray[Any],
    labels: NDArray[Any],
    *,
    c: float = DEFAULT_C,
    balanced: bool = True,
) -> tuple[Head, dict[str, Any]]:
    """A softmax head over ``x`` (rows already normalised) for ``labels`` (column indexes
    into ``classes``), and a small report (iterations, seconds, converged)."""
    started = time.perf_counter()
    x = np.asarray(x, np.float64)
    labels = np.asarray(labels, np.int64)
    n, dim = x.shape
    k = len(classes)
    y = np.zeros((n, k))
    y[np.arange(n), labels] = 1.0
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    per_class = n / (k * np.maximum(counts, 1.0)) if balanced else np.ones(k)
    sample = per_class[labels]

    def objective(theta: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        w = theta[: dim * k].reshape(dim, k)
        b = theta[dim * k :]
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -(sample * (y * log_p).sum(axis=1)).sum() + 0.5 / c * (w * w).sum()
        delta = (np.exp(log_p) - y) * sample[:, None]
        grad_w = x.T @ delta + w / c
        return float(loss), np.concatenate([grad_w.ravel(), delta.sum(axis=0)])

    with threadpool_limits(limits=1, user_api="blas"):
        result = minimize(
            objective,
            np.zeros(dim * k + k),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": MAX_ITER},
        )
    w = result.x[: dim * k].reshape(dim, k).astype(np.float32)
    b = result.x[dim * k :].astype(np.float32)
    head = Head(
        tuple(classes),
        "softmax",
        np.zeros(dim, np.float32),
        np.ones(dim, np.float32),
        (w,),
        (b,),
    )
    report = {
        "solver": "lbfgs",
        "c": c,
        "iterations": int(result.nit),
        "converged": bool(result.success),
        "seconds": round(time.perf_counter() - started, 3),
        "train_crops": n,
    }
    return head, report


C_GRID = (0.1, 0.3, 1.0, 3.0)


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
    ``hidden`` > 0 a one-hidden-layer MLP (the audio heads' trainer, early stopping on the
    validation crops) replaces the logistic regression."""
    x_all = normalise(np.vstack([train.x, val.x]))
    ids_all = list(train.class_ids) + list(val.class_ids)
    columns = sorted(set(ids_all))
    index = {class_id: i for i, class_id in enumerate(columns)}
    if hidden > 0:
        params = HeadParams(mode="softmax", hidden=hidden, balanced=balanced)
        head, train_report = train_head(
            [names[i] for i in columns], x_all, one_hot(ids_all, columns), None, None, params
        )
        return head, columns, {"solver": "mlp", **train_report.as_dict()}
    scores: dict[float, float] = {}
    if c is None:
        c = _choose_c(train, val, balanced, scores)
    head, report = fit_logistic(
        [names[i] for i in columns],
        x_all,
        np.array([index[i] for i in ids_all]),
        c=c,
        balanced=balanced,
    )
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
