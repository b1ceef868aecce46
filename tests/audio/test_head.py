"""The classifier head on arrays: it learns separable classes, weights rare ones, stops early,
handles "nothing" windows and several classes per window, and round-trips through .npz."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildloop.audio.head import BACKGROUND, Head, HeadParams, train_head

CLASSES = ["cricket", "katydid", "grasshopper"]


def clusters(n: int, seed: int, spread: float = 1.0, counts: list[int] | None = None):
    """Gaussian clusters, one per class, plus a fourth cluster of "nothing" windows."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 3, (4, 16))
    sizes = counts or [n] * 4
    xs, ys = [], []
    for label, size in enumerate(sizes):
        xs.append(centres[label] + rng.normal(0, spread, (size, 16)))
        y = np.zeros((size, 3))
        if label < 3:
            y[:, label] = 1
        ys.append(y)
    return np.vstack(xs).astype(np.float32), np.vstack(ys).astype(np.float32)


def test_logistic_head_learns_classes_and_background() -> None:
    x, y = clusters(60, seed=1)
    xv, yv = clusters(20, seed=2)
    head, report = train_head(CLASSES, x, y, xv, yv)
    assert head.classes == (*CLASSES, BACKGROUND)
    assert head.mode == "softmax"
    xt, yt = clusters(30, seed=3)
    truth = np.where(yt.sum(axis=1) > 0, yt.argmax(axis=1), 3)
    scores = head.scores(xt)
    assert scores.shape == (120, 4)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert (scores.argmax(axis=1) == truth).mean() > 0.95
    assert report.val_windows == 80 and report.best_epoch >= 1


def test_no_background_class_without_nothing_windows() -> None:
    x, y = clusters(40, seed=1, counts=[40, 40, 40, 0])
    head, _ = train_head(CLASSES, x, y)
    assert head.classes == tuple(CLASSES)


def test_early_stopping_keeps_the_best_epoch() -> None:
    x, y = clusters(15, seed=1, spread=4.0)
    xv, yv = clusters(15, seed=2, spread=4.0)
    params = HeadParams(hidden=64, learning_rate=0.05, weight_decay=0.0, patience=5)
    _head, report = train_head(CLASSES, x, y, xv, yv, params)
    assert report.epochs_run < params.max_epochs
    assert report.epochs_run == report.best_epoch + params.patience
    losses = [p["val_loss"] for p in report.curve]
    assert report.best_val_loss == pytest.approx(min(losses), rel=1e-5)


def test_class_weights_lift_a_rare_class() -> None:
    x, y = clusters(0, seed=4, spread=2.5, counts=[300, 300, 12, 0])
    xt, _yt = clusters(0, seed=5, spread=2.5, counts=[100, 100, 100, 0])

    def rare_recall(balanced: bool) -> float:
        params = HeadParams(balanced=balanced, max_epochs=200)
        head, _ = train_head(CLASSES, x, y, params=params)
        predicted = head.scores(xt).argmax(axis=1)
        return float((predicted[200:] == 2).mean())

    assert rare_recall(True) > rare_recall(False)


def test_multi_label_windows_use_independent_scores() -> None:
    x, y = clusters(50, seed=6)
    both = (x[:50] + x[50:100]) / 2
    x = np.vstack([x, both])
    y = np.vstack([y, np.tile([1.0, 1.0, 0.0], (50, 1))]).astype(np.float32)
    head, _ = train_head(CLASSES, x, y)
    assert head.mode == "sigmoid" and head.classes == tuple(CLASSES)
    scores = head.scores(both)
    assert (scores[:, 0] > 0.5).mean() > 0.9 and (scores[:, 1] > 0.5).mean() > 0.9
    nothing = head.scores(x[150:200])
    assert (nothing.max(axis=1) < 0.5).mean() > 0.9


def test_save_and_load_give_identical_scores(tmp_path: Path) -> None:
    x, y = clusters(30, seed=7)
    head, _ = train_head(CLASSES, x, y, params=HeadParams(hidden=8, max_epochs=20))
    head.save(tmp_path / "head.npz")
    again = Head.load(tmp_path / "head.npz")
    assert again.classes == head.classes and again.mode == head.mode
    np.testing.assert_array_equal(again.scores(x), head.scores(x))


def test_wrong_dimension_is_refused() -> None:
    x, y = clusters(10, seed=8)
    head, _ = train_head(CLASSES, x, y, params=HeadParams(max_epochs=5))
    with pytest.raises(ValueError, match="16-dimensional"):
        head.scores(np.zeros((2, 8), np.float32))


def test_a_class_on_every_window_or_on_none_still_trains() -> None:
    x, y = clusters(30, seed=9, counts=[30, 30, 0, 0])
    both = np.vstack([y, np.tile([1.0, 1.0, 0.0], (10, 1))]).astype(np.float32)
    x = np.vstack([x, x[:10]])
    both[:, 0] = 1.0  # cricket on every window, grasshopper on none (sigmoid mode)
    head, _ = train_head(CLASSES, x, both)
    scores = head.scores(x)
    assert head.mode == "sigmoid"
    assert (scores[:, 0] > 0.99).all() and (scores[:, 2] < 0.01).all()
    single, _ = train_head(CLASSES, x[:30], y[:30])  # softmax with one class present
    assert single.classes == tuple(CLASSES)
    assert (single.scores(x[:30]).argmax(axis=1) == 0).all()
