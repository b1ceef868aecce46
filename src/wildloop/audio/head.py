"""A classifier head on fixed embeddings: logistic regression or a one-hidden-layer MLP.

Embed once, label a few, fit a head in seconds (BirdNET-Analyzer's custom classifiers and
Perch's agile modelling work this way). scikit-learn fits it (lbfgs for the logistic head,
Adam for the MLP: several times faster than the hand-written numpy loop it replaced);
the result is copied into plain arrays, so scoring a registered head is numpy alone. Features
are standardised with the training windows' mean and spread and classes weighted by their
inverse frequency. The validation windows choose the logistic head's regularisation (the
strength with the lowest validation loss along a warm-started path) and stop the MLP when
their loss has not improved for ``patience`` epochs (the best weights are kept). Two output
modes:

- ``softmax``: one class per window, with a ``background`` class for windows reviewed as
  "nothing" (scores sum to one);
- ``sigmoid``: independent scores per class (several species in one window); a "nothing"
  window is the all-zero target (one balanced binary logistic head per class).

The trained head is saved as an ``.npz`` of arrays and a JSON header (no pickles), so
loading a registered head never executes code.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from wildloop.atomic import atomic_open
from wildloop.domain.classes import BACKGROUND

FORMAT_VERSION = 1
Mode = Literal["softmax", "sigmoid"]
Floats = NDArray[np.float32]


@dataclass(frozen=True)
class HeadParams:
    """How a head is trained; the defaults fit a few thousand windows in about a second."""

    hidden: int = 0  # 0: logistic regression; > 0: one ReLU layer of this width
    mode: Literal["auto", "softmax", "sigmoid"] = "auto"
    learning_rate: float = 0.001  # the MLP's Adam step (with batch_size)
    weight_decay: float = 1e-3  # the MLP's L2 penalty (scikit-learn's alpha)
    max_epochs: int = 400  # MLP epochs; lbfgs iterations of each logistic fit
    patience: int = 3  # MLP epochs without a better validation loss before stopping
    batch_size: int = 0  # 0: the MLP fits by lbfgs; > 0: by Adam in minibatches of this size
    c: float = 0.0  # logistic inverse regularisation; 0: chosen on the validation windows
    balanced: bool = True
    refit: bool = True  # after early stopping, train again on train + val for the best epochs
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HeadParams:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown head parameter(s) {', '.join(unknown)}; known: {known}")
        return cls(**data)


@dataclass(frozen=True)
class TrainReport:
    epochs_run: int
    best_epoch: int
    best_val_loss: float | None
    seconds: float
    train_windows: int
    val_windows: int
    curve: list[dict[str, float]] = field(default_factory=list)
    refit_windows: int = 0
    c: float | None = None  # the logistic head's regularisation, as chosen

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Head:
    """A trained head: ``scores(x)`` gives one score per class for each embedding row."""

    classes: tuple[str, ...]
    mode: Mode
    mean: Floats
    scale: Floats
    weights: tuple[Floats, ...]
    biases: tuple[Floats, ...]

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def scores(self, x: NDArray[Any]) -> Floats:
        """Class scores in 0..1, shape (windows, classes)."""
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"the head expects {self.dim}-dimensional embeddings, got {x.shape}")
        logits = _forward(self, _standardise(self, x))[-1]
        return _activate(logits, self.mode)

    def save(self, path: Path) -> None:
        header = {"format": FORMAT_VERSION, "classes": list(self.classes), "mode": self.mode}
        arrays: dict[str, Any] = {
            "header": np.frombuffer(json.dumps(header).encode(), np.uint8),
            "mean": self.mean,
            "scale": self.scale,
        }
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with atomic_open(path) as fh:
            fh.write(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> Head:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(bytes(data["header"]).decode())
            if header.get("format") != FORMAT_VERSION:
                raise ValueError(f"{path.name}: unknown head format {header.get('format')!r}")
            layers = sum(1 for key in data.files if key.startswith("w"))
            return cls(
                tuple(header["classes"]),
                header["mode"],
                data["mean"].astype(np.float32),
                data["scale"].astype(np.float32),
                tuple(data[f"w{i}"].astype(np.float32) for i in range(layers)),
                tuple(data[f"b{i}"].astype(np.float32) for i in range(layers)),
            )


def choose_mode(targets: NDArray[Any], requested: str) -> Mode:
    """Sigmoid when asked, or (``auto``) when some window carries two classes at once."""
    if requested in ("softmax", "sigmoid"):
        return requested  # type: ignore[return-value]
    return "sigmoid" if bool((targets.sum(axis=1) > 1).any()) else "softmax"


def train_head(
    classes: list[str],
    x_train: NDArray[Any],
    y_train: NDArray[Any],
    x_val: NDArray[Any] | None = None,
    y_val: NDArray[Any] | None = None,
    params: HeadParams | None = None,
    on_epoch: Any = None,
) -> tuple[Head, TrainReport]:
    """Fit a head on embeddings ``x`` and multi-hot targets ``y`` (one column per class; a
    row of zeros is "nothing"). In softmax mode a ``background`` class is added for those
    rows when there are any. Validation windows choose the logistic head's regularisation or
    stop the MLP; with ``refit`` the head is then fitted again on train and validation windows
    together with that choice (more data, the same stopping point).

    BLAS runs on one thread: these matrices are small, and on a busy machine a thread pool
    spinning for them is several times slower than one core."""
    params = params or HeadParams()
    started = time.perf_counter()
    x_train = np.asarray(x_train, np.float32)
    y_train = np.asarray(y_train, np.float32)
    if x_train.ndim != 2 or len(x_train) != len(y_train) or y_train.shape[1] != len(classes):
        raise ValueError("x_train must be (windows, dim) and y_train (windows, classes)")
    if not len(x_train):
        raise ValueError("no training windows")
    has_val = x_val is not None and y_val is not None and len(x_val) > 0
    xv = np.asarray(x_val, np.float32) if has_val else None
    yv = np.asarray(y_val, np.float32) if has_val else None
    mode = choose_mode(y_train, params.mode)
    names = list(classes)
    if mode == "softmax":
        y_train = _softmax_targets(y_train)
        yv = _softmax_targets(yv) if yv is not None else None
        if y_train[:, -1].any() or (yv is not None and yv[:, -1].any()):
            names.append(BACKGROUND)
        else:
            y_train = y_train[:, :-1]
            yv = yv[:, :-1] if yv is not None else None
    fit = _fit_mlp if params.hidden else _fit_linear
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        head, report = fit(tuple(names), mode, x_train, y_train, xv, yv, params, on_epoch)
        if params.refit and xv is not None and yv is not None and report.best_epoch:
            x_all, y_all = np.vstack([x_train, xv]), np.vstack([y_train, yv])
            again = replace(params, max_epochs=report.best_epoch, c=report.c or params.c)
            head, _ = fit(tuple(names), mode, x_all, y_all, None, None, again, None)
            report = replace(report, refit_windows=len(x_all))
    return head, replace(report, seconds=time.perf_counter() - started)


C_PATH = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)  # weak to strong fits, warm-started
DEFAULT_C = 1.0  # scikit-learn's, when no validation windows choose one
ABSENT = -30.0  # the logit of a class no training window carries
MLP_TOL = 1e-3  # a validation loss this much lower counts as better
LBFGS_ROUND = 10  # lbfgs iterations in one MLP epoch


def _fit_linear(
    names: tuple[str, ...],
    mode: Mode,
    x: Floats,
    y: Floats,
    xv: Floats | None,
    yv: Floats | None,
    params: HeadParams,
    on_epoch: Any,
) -> tuple[Head, TrainReport]:
    """Logistic regression by lbfgs; with validation windows, along ``C_PATH`` (each fit
    warm-started from the last) until the validation loss rises, keeping the best."""
    mean, scale = _moments(x)
    xs = (x - mean) / scale
    xvs = (xv - mean) / scale if xv is not None else None
    path = (params.c,) if params.c else C_PATH if xvs is not None else (DEFAULT_C,)
    columns = range(y.shape[1])
    # softmax: one multinomial model; sigmoid: one balanced binary model per class
    groups = [list(columns)] if mode == "softmax" else [[k] for k in columns]
    models: list[LogisticRegression | None] = [None] * len(groups)
    best: Head | None = None
    best_loss, best_step, best_c, curve = np.inf, 0, path[0], []
    for step, c in enumerate(path, 1):
        weights = np.zeros((x.shape[1], y.shape[1]), np.float32)
        biases = np.full(y.shape[1], ABSENT, np.float32)
        for g, cols in enumerate(groups):
            labels, sample_weight = _labels(y, cols, mode, params.balanced)
            present = np.unique(labels)
            if len(present) < 2:  # one class only: it is certain, the others absent
                if mode == "softmax":
                    biases[cols[int(present[0])]] = 0.0
                elif present[0] == 1:  # every window carries this class
                    biases[cols[0]] = -ABSENT
                continue
            model = models[g] or LogisticRegression(
                C=c, max_iter=params.max_epochs, tol=1e-4, warm_start=True
            )
            model.set_params(C=c)
            model.fit(xs, labels, sample_weight=sample_weight)
            models[g] = model
            _place(weights, biases, model, cols, present, mode)
        head = Head(names, mode, mean, scale, (weights,), (biases,))
        point = {"epoch": float(step), "c": float(c)}
        if xvs is None or yv is None:
            best, best_step, best_c = head, step, c
        else:
            loss = _loss(head, xvs, yv, _sample_weights(yv, mode, params.balanced), False)
            point["val_loss"] = loss
            if loss < best_loss - 1e-6:
                best, best_loss, best_step, best_c = head, loss, step, c
        curve.append(point)
        if on_epoch is not None:
            on_epoch(point | {"train_loss": float("nan")})
        if xvs is not None and step - best_step >= 1:  # the path has passed its best
            break
    assert best is not None
    return best, _report(curve, best_step, best_loss, x, xv, float(best_c))


def _fit_mlp(
    names: tuple[str, ...],
    mode: Mode,
    x: Floats,
    y: Floats,
    xv: Floats | None,
    yv: Floats | None,
    params: HeadParams,
    on_epoch: Any,
) -> tuple[Head, TrainReport]:
    """One ReLU layer. An epoch is ``LBFGS_ROUND`` full-batch lbfgs iterations (warm-started
    from the last), or with ``batch_size`` one Adam pass in minibatches; training stops when
    the validation loss has not improved for ``patience`` epochs and keeps the best epoch's
    weights. lbfgs needs a few dozen iterations where Adam needs a hundred passes."""
    mean, scale = _moments(x)
    xs = (x - mean) / scale
    xvs = (xv - mean) / scale if xv is not None else None
    element_weights = _sample_weights(y, mode, params.balanced)
    if mode == "softmax":
        target: NDArray[Any] = y.argmax(axis=1)
        row_weights = element_weights[np.arange(len(y)), target]
        present = np.unique(target)
    else:
        target, present = y.astype(np.int64), np.arange(y.shape[1])
        row_weights = element_weights.mean(axis=1)
    if mode == "softmax" and len(present) < 2:
        return _fit_linear(names, mode, x, y, xv, yv, params, on_epoch)
    adam = params.batch_size > 0
    model = MLPClassifier(
        hidden_layer_sizes=(params.hidden,),
        solver="adam" if adam else "lbfgs",
        alpha=params.weight_decay,
        learning_rate_init=params.learning_rate,
        batch_size=min(params.batch_size, len(x)) if adam else "auto",
        max_iter=LBFGS_ROUND,
        warm_start=True,
        random_state=params.seed,
    )
    wv = _sample_weights(yv, mode, params.balanced) if yv is not None else None
    best: Head | None = None
    best_loss, best_epoch, stale, curve = np.inf, 0, 0, []
    for epoch in range(1, params.max_epochs + 1):
        if adam:
            model.partial_fit(xs, target, sample_weight=row_weights, classes=present)
        else:
            model.fit(xs, target, sample_weight=row_weights)
        head = _mlp_head(names, mode, mean, scale, model, present, y.shape[1])
        point = {"epoch": float(epoch), "train_loss": float(model.loss_)}
        if xvs is None or yv is None or wv is None:
            best, best_epoch = head, epoch
        else:
            loss = _loss(head, xvs, yv, wv, False)
            point["val_loss"] = loss
            if loss < best_loss - MLP_TOL:
                best, best_loss, best_epoch, stale = head, loss, epoch, 0
            else:
                stale += 1
        curve.append(point)
        if on_epoch is not None:
            on_epoch(point)
        if stale >= params.patience:
            break
    assert best is not None
    return best, _report(curve, best_epoch, best_loss, x, xv)


def _report(
    curve: list[dict[str, float]],
    best: int,
    loss: float,
    x: Floats,
    xv: Floats | None,
    c: float | None = None,
) -> TrainReport:
    return TrainReport(
        epochs_run=len(curve),
        best_epoch=best,
        best_val_loss=float(loss) if np.isfinite(loss) else None,
        seconds=0.0,
        train_windows=len(x),
        val_windows=len(xv) if xv is not None else 0,
        curve=curve[:: max(1, len(curve) // 100)],
        c=c,
    )


def _moments(x: Floats) -> tuple[Floats, Floats]:
    mean = x.mean(axis=0).astype(np.float32)
    scale = x.std(axis=0).astype(np.float32)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def _labels(
    y: Floats, cols: list[int], mode: Mode, balanced: bool
) -> tuple[NDArray[np.int64], Floats | None]:
    """Integer targets for one scikit-learn model and inverse-frequency sample weights."""
    if mode == "softmax":
        labels = y.argmax(axis=1).astype(np.int64)
        return labels, _sample_weights(y, mode, balanced)[np.arange(len(y)), labels]
    labels = (y[:, cols[0]] > 0.5).astype(np.int64)
    if not balanced:
        return labels, None
    counts = np.bincount(labels, minlength=2).astype(np.float32)
    return labels, (len(labels) / (2 * np.maximum(counts, 1.0)))[labels].astype(np.float32)


def _place(
    weights: Floats,
    biases: Floats,
    model: LogisticRegression,
    cols: list[int],
    present: NDArray[Any],
    mode: Mode,
) -> None:
    """Copy a fitted model's coefficients into the head's columns (``present``: the labels it
    saw). A two-class softmax model has one coefficient row: +-half of it gives the same
    softmax as the logistic it encodes."""
    coef, intercept = model.coef_.astype(np.float32), model.intercept_.astype(np.float32)
    if mode == "sigmoid":
        weights[:, cols[0]], biases[cols[0]] = coef[0], intercept[0]
        return
    if len(present) == 2:
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2], np.float32)
    for row, label in enumerate(present):
        weights[:, cols[int(label)]], biases[cols[int(label)]] = coef[row], intercept[row]


def _mlp_head(
    names: tuple[str, ...],
    mode: Mode,
    mean: Floats,
    scale: Floats,
    model: MLPClassifier,
    present: NDArray[Any],
    columns: int,
) -> Head:
    """The MLP's layers as a head; a two-class softmax MLP has one logistic output, which a
    zero logit beside it turns into the same softmax."""
    w0, w1 = (np.array(w, np.float32) for w in model.coefs_)
    b0, b1 = (np.array(b, np.float32) for b in model.intercepts_)
    out_w = np.zeros((w1.shape[0], columns), np.float32)
    out_b = np.full(columns, ABSENT, np.float32)
    if mode == "softmax" and len(present) == 2:
        w1 = np.hstack([np.zeros_like(w1), w1])
        b1 = np.concatenate([np.zeros(1, np.float32), b1])
    for row, label in enumerate(present):
        out_w[:, int(label)], out_b[int(label)] = w1[:, row], b1[row]
    return Head(names, mode, mean, scale, (w0, out_w), (b0, out_b))


# --- the arithmetic ---------------------------------------------------------------------------


def _softmax_targets(y: Floats) -> Floats:
    """Rows normalised to sum to one, with a trailing background column for empty rows."""
    totals = y.sum(axis=1, keepdims=True)
    background = (totals == 0).astype(np.float32)
    return np.hstack([y / np.maximum(totals, 1.0), background]).astype(np.float32)


def _sample_weights(y: Floats, mode: Mode, balanced: bool) -> Floats:
    """Per-element loss weights: each class counts as much as any other in total."""
    if not balanced:
        return np.ones_like(y)
    n, k = y.shape
    if mode == "softmax":
        per_class = y.sum(axis=0)
        w = np.where(per_class > 0, n / (k * np.maximum(per_class, 1e-9)), 0.0)
        return np.repeat((y @ w)[:, None], k, axis=1).astype(np.float32)
    positives = y.sum(axis=0)
    negatives = n - positives
    w_pos = np.where(positives > 0, n / (2 * np.maximum(positives, 1e-9)), 0.0)
    w_neg = np.where(negatives > 0, n / (2 * np.maximum(negatives, 1e-9)), 0.0)
    return (y * w_pos + (1 - y) * w_neg).astype(np.float32)


def _standardise(head: Head, x: NDArray[Any]) -> Floats:
    return ((np.asarray(x, np.float32) - head.mean) / head.scale).astype(np.float32)


def _forward(head: Head, x: Floats) -> list[Floats]:
    """Activations of every layer, the input first and the logits last."""
    outs = [x]
    for i, (w, b) in enumerate(zip(head.weights, head.biases, strict=True)):
        z = outs[-1] @ w + b
        outs.append(np.maximum(z, 0) if i < len(head.weights) - 1 else z)
    return outs


def _activate(logits: Floats, mode: Mode) -> Floats:
    if mode == "sigmoid":
        clipped: Floats = np.clip(logits, -40, 40)
        return (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)
    shifted: Floats = logits - logits.max(axis=1, keepdims=True)
    e: Floats = np.exp(shifted)
    total: Floats = e.sum(axis=1, keepdims=True)
    return (e / total).astype(np.float32)


def _loss(head: Head, x: Floats, y: Floats, w: Floats, standardise: bool = True) -> float:
    """Weighted cross-entropy of the head on ``x`` (already standardised when told)."""
    xs = _standardise(head, x) if standardise else x
    p = np.clip(_activate(_forward(head, xs)[-1], head.mode), 1e-7, 1 - 1e-7)
    if head.mode == "softmax":
        per = -(w * y * np.log(p)).sum(axis=1)
    else:
        per = -(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum(axis=1)
    return float(per.mean())
