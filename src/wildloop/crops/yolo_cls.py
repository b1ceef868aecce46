"""A crop classifier trained end to end: Ultralytics classification (YOLO-cls), exported to
ONNX.

The other choice beside the head over frozen embeddings (``wildloop.crops.classifier``):
the whole network learns from the reviewed crops, so it can learn details a frozen
ImageNet backbone does not see, but without pretrained classification weights (none can be
downloaded) it starts from random ones. Its training crops are the head's ground-truth
crops (``cut_ground_truth``: the frame letterboxed at the detector's input size, the box
grown by the context padding), written as an Ultralytics classification folder; at
inference the pipeline's crop stage cuts the same crops from the frame it already decoded
and runs the ONNX export on them in one batch, so a box's "vector" is its class
probabilities and ``scores`` passes them on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from wildloop.crops.classifier import Floats, LabelledImage, cut_ground_truth
from wildloop.inference.crops import CropEmbedder, OnnxCropClassifier

METHOD = "yolo-cls"
HEAD = "head"
METHODS = (HEAD, METHOD)


@dataclass(frozen=True)
class YoloClsClassifier:
    """An ONNX YOLO-cls export and the crops it was trained on (size and padding)."""

    model: CropEmbedder
    classes: tuple[str, ...]
    padding: float
    reads: str = "class_scores"

    @property
    def embedder(self) -> str:
        return self.model.key

    def scores(self, vectors: NDArray[Any]) -> Floats:
        """The model's class probabilities, unchanged (one row per crop)."""
        return np.asarray(vectors, np.float32).reshape(len(vectors), len(self.classes))

    @classmethod
    def load(
        cls, path: Path, params: dict[str, Any], classes: Sequence[str], sha256: str
    ) -> YoloClsClassifier:
        model = OnnxCropClassifier(f"{METHOD}:{sha256[:12]}", path, int(params["crop_size"]))
        if model.dim != len(classes):
            raise ValueError(f"{path} gives {model.dim} scores for {len(classes)} classes")
        return cls(model, tuple(classes), float(params["padding"]))


@dataclass(frozen=True)
class CropFolder:
    """What ``write_crop_folder`` wrote: crops per split and class id, and failed items."""

    counts: dict[str, dict[int, int]]
    failed: list[tuple[int, str]]

    @property
    def columns(self) -> list[int]:
        """The project class ids of the crops, in Ultralytics' class order (folder names)."""
        return sorted({c for split in self.counts.values() for c in split})

    def total(self, split: str) -> int:
        return sum(self.counts.get(split, {}).values())


def class_folder(class_id: int) -> str:
    """A class's folder name: zero-padded ids sort (as Ultralytics orders classes) by id."""
    return f"{class_id:06d}"


def write_crop_folder(
    out: Path,
    splits: Mapping[str, Sequence[LabelledImage]],
    *,
    size: int,
    imgsz: int,
    padding: float,
    on_item: Callable[[int], None] | None = None,
) -> CropFolder:
    """Every target box of each split cut as the pipeline cuts it and saved as
    ``out/SPLIT/CLASS_ID/MEDIA-K.png``; every class folder exists in every split (empty
    where a split lacks the class), so each split's folder scan lines up with the class
    order. ``on_item`` gets the images done so far, over all splits."""
    counts: dict[str, dict[int, int]] = {}
    failed: list[tuple[int, str]] = []
    offset = 0
    for split, entries in splits.items():
        seen = counts.setdefault(split, {})
        base = offset

        def progress(done: int, base: int = base) -> None:
            if on_item is not None:
                on_item(base + done)

        for entry, crops in cut_ground_truth(
            entries, size=size, imgsz=imgsz, padding=padding, failed=failed, on_item=progress
        ):
            for k, (crop, class_id) in enumerate(zip(crops, entry.class_ids, strict=True)):
                folder = out / split / class_folder(class_id)
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(crop).save(folder / f"{entry.media_id}-{k}.png")
                seen[class_id] = seen.get(class_id, 0) + 1
        offset += len(entries)
    written = CropFolder(counts, failed)
    for split in splits:
        for class_id in written.columns:
            (out / split / class_folder(class_id)).mkdir(parents=True, exist_ok=True)
    return written
