"""A classifier head on fixed embeddings: logistic regression or a one-hidden-layer MLP.

Embed once, label a few, fit a head in seconds (BirdNET-Analyzer's custom classifiers and
Perch's agile modelling work this way). The head is plain numpy: features are standardised
with the training windows' mean and spread, classes are weighted by their inverse frequency,
and training stops when the validation loss has not improved for ``patience`` epochs (the
best weights are kept). Two output modes:

- ``softmax``: one class per window, with a ``background`` class for windows reviewed as
  "nothing" (scores sum to one);
- ``sigmoid``: independent scores per class (several species in one window); a "nothing"
  window is the all-zero target.

The trained head is saved as an ``.npz`` of arrays and a JSON header (no pickles), so
loading a registered head never executes code.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
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
    learning_rate: float = 0.01
    weight_decay: float = 1e-3
    max_epochs: int = 400
    patience: int = 25
    batch_size: int = 0  # 0: full batch (fast and deterministic for a few thousand windows)
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
    rows when there are any. With validation windows, training stops when their loss stops
    improving; with ``refit`` the head is then trained again on train and validation windows
    together for the best number of epochs (more data, the same stopping point).

    BLAS runs on one thread: these matrices are small, and on a busy machine a thread pool
    spinning for them is several times slower than one core."""
    params = params or HeadParams()
    started = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        head, report = _train(classes, x_train, y_train, x_val, y_val, params, on_epoch)
        if params.refit and report.val_windows and report.best_epoch:
            x_all = np.vstack([np.asarray(x_train), np.asarray(x_val)])
            y_all = np.vstack([np.asarray(y_train), np.asarray(y_val)])
            again = replace(params, max_epochs=report.best_epoch, mode=head.mode, refit=False)
            head, _ = _train(classes, x_all, y_all, None, None, again, None)
            report = replace(report, refit_windows=len(x_all))
    return head, replace(report, seconds=time.perf_counter() - started)


def _train(
    classes: list[str],
    x_train: NDArray[Any],
    y_train: NDArray[Any],
    x_val: NDArray[Any] | None,
    y_val: NDArray[Any] | None,
    params: HeadParams,
    on_epoch: Any = None,
) -> tuple[Head, TrainReport]:
    """One training run with early stopping on the validation loss (when there is one)."""
    started = time.perf_counter()
    x_train = np.asarray(x_train, np.float32)
    y_train = np.asarray(y_train, np.float32)
    if x_train.ndim != 2 or len(x_train) != len(y_train) or y_train.shape[1] != len(classes):
        raise ValueError("x_train must be (windows, dim) and y_train (windows, classes)")
    if not len(x_train):
        raise ValueError("no training windows")
    mode = choose_mode(y_train, params.mode)
    names = list(classes)
    if mode == "softmax":
        y_train = _softmax_targets(y_train)
        if y_val is not None:
            y_val = _softmax_targets(np.asarray(y_val, np.float32))
        if y_train[:, -1].any() or (y_val is not None and y_val[:, -1].any()):
            names.append(BACKGROUND)
        else:
            y_train = y_train[:, :-1]
            y_val = y_val[:, :-1] if y_val is not None else None
    mean = x_train.mean(axis=0)
    scale = x_train.std(axis=0)
    scale[scale < 1e-6] = 1.0
    head = _initial(tuple(names), mode, mean, scale, params)
    weights_train = _sample_weights(y_train, mode, params.balanced)
    xs = _standardise(head, x_train)
    xs_t = np.ascontiguousarray(xs.T) if not params.batch_size else None
    has_val = x_val is not None and y_val is not None and len(x_val) > 0
    xv = _standardise(head, np.asarray(x_val, np.float32)) if has_val else None
    yv = np.asarray(y_val, np.float32) if has_val else None
    wv = _sample_weights(yv, mode, params.balanced) if yv is not None else None
    best, best_loss, best_epoch, stale = head, np.inf, 0, 0
    params_list = [*head.weights, *head.biases]
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params_list]
    rng = np.random.default_rng(params.seed)
    curve: list[dict[str, float]] = []
    epoch = steps = 0
    for epoch in range(1, params.max_epochs + 1):
        order = rng.permutation(len(xs)) if params.batch_size else np.arange(len(xs))
        step = params.batch_size or len(xs)
        train_loss = 0.0
        for start in range(0, len(xs), step):
            rows = order[start : start + step]
            if params.batch_size:
                loss, grads = _loss_and_grads(head, xs[rows], y_train[rows], weights_train[rows])
            else:  # full batch: the transposed copy makes the weight gradient twice as fast
                loss, grads = _loss_and_grads(head, xs, y_train, weights_train, xs_t)
            train_loss += loss * len(rows) / len(xs)
            steps += 1
            head = _adam_step(head, grads, moments, steps, params)
        point = {"epoch": float(epoch), "train_loss": float(train_loss)}
        if xv is not None and yv is not None and wv is not None:
            val_loss = _loss(head, xv, yv, wv)
            point["val_loss"] = float(val_loss)
            if val_loss < best_loss - 1e-6:
                best, best_loss, best_epoch, stale = head, val_loss, epoch, 0
            else:
                stale += 1
        else:
            best, best_epoch = head, epoch
        curve.append(point)
        if on_epoch is not None:
            on_epoch(point)
        if stale >= params.patience:
            break
    report = TrainReport(
        epochs_run=epoch,
        best_epoch=best_epoch,
        best_val_loss=float(best_loss) if np.isfinite(best_loss) else None,
        seconds=time.perf_counter() - started,
        train_windows=len(xs),
        val_windows=len(xv) if xv is not None else 0,
        curve=curve[:: max(1, len(curve) // 100)],
    )
    return best, report


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


def _initial(
    classes: tuple[str, ...], mode: Mode, mean: Floats, scale: Floats, p: HeadParams
) -> Head:
    rng = np.random.default_rng(p.seed)
    dims = [mean.shape[0], *([p.hidden] if p.hidden else []), len(classes)]
    weights, biases = [], []
    for fan_in, fan_out in itertools.pairwise(dims):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        biases.append(np.zeros(fan_out, np.float32))
    return Head(
        classes,
        mode,
        mean.astype(np.float32),
        scale.astype(np.float32),
        tuple(weights),
        tuple(biases),
    )


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


def _loss(head: Head, x: Floats, y: Floats, w: Floats) -> float:
    p = np.clip(_activate(_forward(head, x)[-1], head.mode), 1e-7, 1 - 1e-7)
    if head.mode == "softmax":
        per = -(w * y * np.log(p)).sum(axis=1)
    else:
        per = -(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).sum(axis=1)
    return float(per.mean())


def _loss_and_grads(
    head: Head, x: Floats, y: Floats, w: Floats, x_t: Floats | None = None
) -> tuple[float, list[Floats]]:
    """Weighted cross-entropy and its gradients (weights first, then biases); ``x_t`` is
    ``x`` transposed and contiguous, when the caller keeps one."""
    outs = _forward(head, x)
    p = _activate(outs[-1], head.mode)
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    n = len(x)
    if head.mode == "softmax":
        row_w = (w * y).sum(axis=1, keepdims=True)
        loss = float(-(w * y * np.log(clipped)).sum() / n)
        delta = (row_w * p - w * y) / n
    else:
        loss = float(-(w * (y * np.log(clipped) + (1 - y) * np.log(1 - clipped))).sum() / n)
        delta = w * (p - y) / n
    grads_w: list[Floats] = []
    grads_b: list[Floats] = []
    for i in range(len(head.weights) - 1, -1, -1):
        inputs_t = x_t if i == 0 and x_t is not None else outs[i].T
        grads_w.insert(0, (inputs_t @ delta).astype(np.float32))
        grads_b.insert(0, delta.sum(axis=0).astype(np.float32))
        if i:
            delta = (delta @ head.weights[i].T) * (outs[i] > 0)
    return loss, [*grads_w, *grads_b]


def _adam_step(
    head: Head,
    grads: list[Floats],
    moments: list[tuple[Floats, Floats]],
    t: int,
    p: HeadParams,
) -> Head:
    """One Adam update with decoupled weight decay on the weights (not the biases)."""
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    current = [*head.weights, *head.biases]
    layers = len(head.weights)
    updated: list[Floats] = []
    for i, (value, grad) in enumerate(zip(current, grads, strict=True)):
        m, v = moments[i]
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * grad * grad
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        step = p.learning_rate * m_hat / (np.sqrt(v_hat) + eps)
        decay = p.learning_rate * p.weight_decay * value if i < layers else 0.0
        updated.append((value - step - decay).astype(np.float32))
    return Head(
        head.classes,
        head.mode,
        head.mean,
        head.scale,
        tuple(updated[:layers]),
        tuple(updated[layers:]),
    )
