"""A crop classifier: a small head over a frozen crop embedder's vectors of boxes.

The head (``wildloop.crops.logistic``) is scikit-learn's class-balanced logistic regression
on L2-normalised vectors, or its one-hidden-layer MLP, exported to a numpy audio ``Head``
and saved as one (``.npz``, no pickles). Training crops are cut exactly as the pipeline
cuts them at inference: the frame decoded and letterboxed at the detector's input size, the
box grown by the same context padding, so the head never sees crops of another resolution
than the ones it will name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from wildloop.audio.head import Head
from wildloop.inference.crops import CropEmbedder, cut_crops
from wildloop.inference.decode import Decoder, ImageUnreadable

Floats = NDArray[np.float32]


def normalise(x: NDArray[Any]) -> Floats:
    x = np.asarray(x, np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.maximum(norms, 1e-9), np.float32)


class BoxClassifier(Protocol):
    """What names a box from its crop: a head over crop vectors, or a crop model run end to
    end (``wildloop.crops.yolo_cls``). ``reads`` says which output of the pipeline's crop
    stage it takes: the box's ``embedding`` or its ``class_scores``; ``embedder`` is the key
    of the crop model that makes them."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    @property
    def embedder(self) -> str: ...

    @property
    def padding(self) -> float: ...

    @property
    def reads(self) -> str: ...

    def scores(self, vectors: NDArray[Any]) -> Floats: ...


@dataclass(frozen=True)
class CropClassifier:
    """A trained head and how its crops were embedded (the key must match at inference)."""

    head: Head
    embedder: str
    padding: float
    reads: str = "embedding"

    @property
    def classes(self) -> tuple[str, ...]:
        return self.head.classes

    def scores(self, vectors: NDArray[Any]) -> Floats:
        """Class probabilities, one row per crop vector."""
        if not len(vectors):
            return np.zeros((0, len(self.classes)), np.float32)
        return self.head.scores(normalise(vectors))

    @classmethod
    def load(cls, path: Path, params: dict[str, Any]) -> CropClassifier:
        return cls(Head.load(path), str(params["embedder"]), float(params["padding"]))


@dataclass(frozen=True)
class CropSet:
    """Ground-truth crops' vectors and their project class ids (row i from ``media_ids[i]``)."""

    x: Floats
    class_ids: list[int]
    media_ids: list[int]
    failed: list[tuple[int, str]]


def frame(decoder: Decoder, path: Path) -> NDArray[np.uint8]:
    """The image area of the letterboxed frame the detector would see (what the pipeline
    cuts its crops from)."""
    prepared = decoder.prepare(path)
    box = prepared.box
    image: NDArray[np.uint8] = prepared.array[
        box.top : box.top + box.new_h, box.left : box.left + box.new_w
    ]
    return image


@dataclass(frozen=True)
class LabelledImage:
    """An image and its human boxes (x, y, w, h as fractions) with their project class ids."""

    media_id: int
    path: Path
    boxes: tuple[tuple[float, float, float, float], ...]
    class_ids: tuple[int, ...]


def cut_ground_truth(
    entries: Sequence[LabelledImage],
    *,
    size: int,
    imgsz: int,
    padding: float,
    failed: list[tuple[int, str]],
    on_item: Callable[[int], None] | None = None,
) -> Iterator[tuple[LabelledImage, NDArray[np.uint8]]]:
    """Each entry with boxes and its crops (one per box, ``size`` square), cut as the
    pipeline cuts them; an unreadable image is appended to ``failed`` and skipped (no
    input aborts the set). ``on_item`` gets the items done so far (progress and
    cancellation)."""
    decoder = Decoder(imgsz, rect=True)
    for done, entry in enumerate(entries, 1):
        if entry.boxes:
            try:
                image = frame(decoder, entry.path)
            except ImageUnreadable as exc:
                failed.append((entry.media_id, exc.reason))
            except (OSError, ValueError) as exc:
                failed.append((entry.media_id, f"{type(exc).__name__}: {exc}"))
            else:
                yield entry, cut_crops(image, list(entry.boxes), size, padding)
        if on_item is not None:
            on_item(done)


def ground_truth_crops(
    entries: Sequence[LabelledImage],
    embedder: CropEmbedder,
    *,
    imgsz: int,
    padding: float,
    on_item: Callable[[int], None] | None = None,
) -> CropSet:
    """Every target box of ``entries`` embedded (see ``cut_ground_truth``)."""
    rows: list[Floats] = []
    class_ids: list[int] = []
    media_ids: list[int] = []
    failed: list[tuple[int, str]] = []
    for entry, crops in cut_ground_truth(
        entries, size=embedder.size, imgsz=imgsz, padding=padding, failed=failed, on_item=on_item
    ):
        rows.append(embedder.embed(crops).astype(np.float32))
        class_ids += entry.class_ids
        media_ids += [entry.media_id] * len(entry.boxes)
    x = np.vstack(rows) if rows else np.zeros((0, embedder.dim), np.float32)
    return CropSet(x, class_ids, media_ids, failed)


def classification_metrics(
    truth: Sequence[str], predicted: Sequence[str], classes: Sequence[str]
) -> dict[str, Any]:
    """Top-1 accuracy, macro-F1 over the classes present in ``truth``, per-class precision
    and recall, and the confusion counts (truth -> predicted -> count)."""
    n = len(truth)
    confusion: dict[str, dict[str, int]] = {}
    for t, p in zip(truth, predicted, strict=True):
        confusion.setdefault(t, {}).setdefault(p, 0)
        confusion[t][p] += 1
    per_class: dict[str, dict[str, float | int]] = {}
    f1s: list[float] = []
    for name in sorted(set(classes) | set(truth)):
        tp = confusion.get(name, {}).get(name, 0)
        support = sum(confusion.get(name, {}).values())
        called = sum(row.get(name, 0) for row in confusion.values())
        precision = tp / called if called else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        if support:
            f1s.append(f1)
            per_class[name] = {
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "f1": round(f1, 4),
                "support": support,
            }
    correct = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p)
    return {
        "crops": n,
        "top1": round(correct / n, 4) if n else None,
        "macro_f1": round(float(np.mean(f1s)), 4) if f1s else None,
        "per_class": per_class,
        "confusion": confusion,
    }
