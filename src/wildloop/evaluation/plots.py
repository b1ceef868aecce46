"""PNG figures for comparisons and the retraining log, drawn with matplotlib's Agg backend.

matplotlib ships its own DejaVu fonts, so nothing is downloaded; it is imported lazily (the
``eval`` extra) so the core install never needs it. pyplot keeps global state and is not
thread-safe, and the web app draws from several threads (a comparison in the background, a
chart for a request), so one lock serialises drawing.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from wildloop.errors import Unavailable

_P = ParamSpec("_P")
_R = TypeVar("_R")
_drawing = threading.Lock()


def _one_at_a_time(draw: Callable[_P, _R]) -> Callable[_P, _R]:
    @functools.wraps(draw)
    def locked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with _drawing:
            return draw(*args, **kwargs)

    return locked


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:
        raise Unavailable("drawing figures needs matplotlib: pip install 'wildloop[eval]'") from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@_one_at_a_time
def pr_curves(models: Mapping[str, Mapping[str, Any]], out: Path) -> Path:
    """Precision-recall at IoU 0.5 per class (one panel each), one line per model."""
    plt = _pyplot()
    classes = sorted({c for m in models.values() for c in m["pr_curves"]["precision50"]})
    cols = min(5, max(1, len(classes)))
    rows = max(1, math.ceil(len(classes) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, classes, strict=False):
        for label, metrics in models.items():
            curve = metrics["pr_curves"]["precision50"].get(name)
            if curve is not None:
                ap = metrics["per_class"][name]["ap50"]
                ax.plot(metrics["pr_curves"]["recall"], curve, label=f"{label} AP50={ap:.2f}")
        ax.set_title(name, fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=6, loc="lower left")
    for ax in list(axes.flat)[len(classes) :]:
        ax.axis("off")
    fig.supxlabel("recall")
    fig.supylabel("precision (IoU 0.5)")
    return _save(fig, plt, out)


@_one_at_a_time
def confusion(metrics: Mapping[str, Any], title: str, out: Path) -> Path:
    """Row-normalised confusion matrix with the raw counts written in each cell."""
    plt = _pyplot()
    counts = metrics["confusion"]
    if "matrix" in counts:
        labels: Sequence[str] = counts["labels"]
        matrix = counts["matrix"]
    else:  # a crop classifier's {truth: {predicted: count}}
        labels = sorted(set(counts) | {p for row in counts.values() for p in row})
        matrix = [[counts.get(t, {}).get(p, 0) for p in labels] for t in labels]
    size = max(4.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    normalised = [[v / max(1, sum(row)) for v in row] for row in matrix]
    ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            if value:
                ax.text(j, i, str(value), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _save(fig, plt, out)


@_one_at_a_time
def reliability(models: Mapping[str, Mapping[str, Any]], out: Path) -> Path:
    """Accuracy against confidence per bin; the diagonal is perfect calibration."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    for label, metrics in models.items():
        bins = [b for b in metrics["calibration"]["bins"] if b["count"]]
        ece = metrics["calibration"]["ece"]
        ax.plot(
            [b["mean_confidence"] for b in bins],
            [b["accuracy"] for b in bins],
            marker="o",
            label=f"{label} ECE={ece:.3f}",
        )
    ax.set_xlabel("confidence")
    ax.set_ylabel("fraction correct (TP at IoU 0.5)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    return _save(fig, plt, out)


@_one_at_a_time
def class_deltas(deltas: Mapping[str, float], out: Path) -> Path:
    plt = _pyplot()
    names = sorted(deltas)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.4 * len(names) + 2), 3.5))
    values = [deltas[n] for n in names]
    ax.bar(names, values, color=["tab:green" if v >= 0 else "tab:red" for v in values])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("AP50-95 change")
    ax.tick_params(axis="x", rotation=90, labelsize=7)
    return _save(fig, plt, out)


@_one_at_a_time
def metrics_over_versions(rows: Sequence[Mapping[str, Any]], out: Path) -> Path:
    """The retraining log as a chart: precision, recall, mAP50, mAP50-95 per version (for
    audio heads: precision, recall, accuracy, macro-F1)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(rows) + 3), 3.8))
    names = [r["version"] for r in rows]
    audio = any(r.get("macro_f1") is not None for r in rows)
    main = "macro_f1" if audio else "map50_95"
    keys = (
        ("precision", "recall", "accuracy", "macro_f1")
        if audio
        else ("precision", "recall", "map50", "map50_95")
    )
    for key in keys:
        ax.plot(names, [r.get(key) or 0.0 for r in rows], marker="o", label=key)
    for i, r in enumerate(rows):
        note = "champion" if r.get("champion") else ("promoted" if r.get("promoted") else "")
        if note:
            ax.annotate(note, (i, r.get(main) or 0.0), fontsize=6)
    ax.set_ylim(0, 1)
    ax.set_ylabel("on the test snapshot")
    ax.tick_params(axis="x", rotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _save(fig, plt, out)


def _save(fig: Any, plt: Any, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
