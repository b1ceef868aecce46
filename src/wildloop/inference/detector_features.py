"""Crop vectors from the detector's own feature maps, pooled over each box in the same pass.

A YOLOv8 ONNX export ends in a Detect head fed by three neck feature maps (strides 8, 16
and 32; 64 + 128 + 256 channels for a YOLOv8n). ``add_feature_outputs`` copies the model
with those maps added as extra graph outputs (the head and ``output0`` untouched), so one
forward gives the boxes and the features. ``pool_boxes`` then averages each map over a box's
region (RoI average pooling, the box mapped through the letterbox into input pixels and then
into each map's cells) and concatenates the levels: one vector per box, with no second
decode and no second model run. The features are whatever the detector learnt to tell its
classes apart with, so they suit a queue over the detector's own predictions.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from wildloop.inference.crops import CropModelUnavailable
from wildloop.inference.letterbox import Letterbox
from wildloop.inference.onnx_runtime import OnnxRuntime

FEATURES_VERSION = 1  # bump when the chosen maps change: derived files are keyed by it
_LAYER = re.compile(r"^/model\.(\d+)/")


def head_inputs(model: Any) -> list[str]:
    """The feature maps the detection head reads: tensors made outside the last
    ``/model.N/`` block and consumed inside it (YOLOv8's Detect), in first-use order."""
    layers = [int(m.group(1)) for n in model.graph.node if (m := _LAYER.match(n.name))]
    if not layers:
        raise CropModelUnavailable(
            "this ONNX detector has no /model.N/ node names (not an Ultralytics export): "
            "its feature maps cannot be found; use an image embedder instead"
        )
    last = max(layers)
    head = f"/model.{last}/"
    made_in_head = {o for n in model.graph.node if n.name.startswith(head) for o in n.output}
    # Only earlier blocks' outputs: a dynamic export also feeds the head shape arithmetic.
    made_before = {
        o
        for n in model.graph.node
        if (m := _LAYER.match(n.name)) and int(m.group(1)) < last
        for o in n.output
    }
    found: list[str] = []
    for node in model.graph.node:
        if not node.name.startswith(head):
            continue
        for name in node.input:
            if name in made_before and name not in made_in_head and name not in found:
                found.append(name)
    if not found:
        raise CropModelUnavailable("no feature maps feed this detector's head")
    return found


def add_feature_outputs(source: Path, target: Path, tensors: Sequence[str] = ()) -> list[str]:
    """Write a copy of the ONNX model ``source`` to ``target`` with ``tensors`` (default:
    the head's input maps) as extra outputs after the original ones; returns their names."""
    try:
        import onnx  # the train extra's graph library: needed only to derive this file
    except ImportError:
        raise CropModelUnavailable(
            "detector features need the onnx package (pip install onnx) to add outputs"
        ) from None
    model = onnx.load(str(source))
    names = list(tensors) or head_inputs(model)
    present = {o.name for o in model.graph.output}
    for name in names:
        if name not in present:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
    target.parent.mkdir(parents=True, exist_ok=True)
    # Per process and thread: two workers deriving at once must not share a partial file.
    partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.partial")
    onnx.save(model, str(partial))
    partial.replace(target)
    return names


def box_cells(xyxy: NDArray[np.float64], stride: float, grid: tuple[int, int]) -> NDArray[np.int64]:
    """Cell ranges (x1, y1, x2, y2; end exclusive) of a map of ``grid`` (h, w) cells each
    ``stride`` input pixels wide covering each box (input pixels), at least one cell."""
    rows, cols = grid
    cells = np.empty((len(xyxy), 4), np.int64)
    cells[:, 0] = np.clip(np.floor(xyxy[:, 0] / stride), 0, cols - 1)
    cells[:, 1] = np.clip(np.floor(xyxy[:, 1] / stride), 0, rows - 1)
    cells[:, 2] = np.clip(np.ceil(xyxy[:, 2] / stride), cells[:, 0] + 1, cols)
    cells[:, 3] = np.clip(np.ceil(xyxy[:, 3] / stride), cells[:, 1] + 1, rows)
    return cells


def pool_boxes(
    maps: Sequence[NDArray[np.float32]], xyxy: NDArray[np.float64], input_height: int
) -> NDArray[np.float32]:
    """RoI average pooling: each box's (input pixels x1, y1, x2, y2) mean over every map
    ((C, H, W) of one image), the levels concatenated -> (boxes, sum of C)."""
    xyxy = np.asarray(xyxy, np.float64).reshape(-1, 4)
    parts = []
    for fmap in maps:
        channels, rows, cols = fmap.shape
        cells = box_cells(xyxy, input_height / rows, (rows, cols))
        # An integral image makes every box's mean four look-ups, whatever its size.
        integral = np.zeros((channels, rows + 1, cols + 1), np.float64)
        integral[:, 1:, 1:] = fmap.astype(np.float64).cumsum(1).cumsum(2)
        x1, y1, x2, y2 = cells.T
        sums = integral[:, y2, x2] - integral[:, y1, x2] - integral[:, y2, x1] + integral[:, y1, x1]
        parts.append((sums / ((x2 - x1) * (y2 - y1))).T.astype(np.float32))
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(xyxy), 0), np.float32)


def input_pixels(
    boxes: Sequence[tuple[float, float, float, float]], box: Letterbox
) -> NDArray[np.float64]:
    """Boxes as fractions of the image (x, y, w, h) -> input pixels (x1, y1, x2, y2)."""
    xywh = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1 = box.left + xywh[:, 0] * box.new_w
    y1 = box.top + xywh[:, 1] * box.new_h
    return np.stack([x1, y1, x1 + xywh[:, 2] * box.new_w, y1 + xywh[:, 3] * box.new_h], axis=1)


class DetectorFeatureRuntime(OnnxRuntime):
    """An ONNX detector derived by ``add_feature_outputs``: ``forward`` gives the boxes'
    raw output like any runtime, ``forward_with_features`` the feature maps beside it."""

    def __init__(self, path: Path, threads: int = 0) -> None:
        super().__init__(path, threads=threads)
        outputs = self.session.get_outputs()
        if len(outputs) < 2:
            raise CropModelUnavailable(f"{path.name} has no feature outputs")
        self.feature_names = [o.name for o in outputs[1:]]

    def forward_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, FeatureMaps]:
        """The raw detections (N, 4+C, A) for ``batch`` and its feature maps."""
        outputs = self.run_outputs(batch)
        maps = [np.asarray(o, np.float32) for o in outputs[1:]]
        return outputs[0], FeatureMaps(maps, self.fed_height(batch))


@dataclass(frozen=True)
class FeatureMaps:
    """A batch's feature maps (each (N, C, H, W)) and the input height they were made from
    (a static-size model pads the batch, so it may exceed the batch's own)."""

    maps: list[NDArray[np.float32]]
    input_height: int

    def pool(self, image: int, xyxy: NDArray[np.float64]) -> NDArray[np.float32]:
        """Image ``image``'s vectors for boxes in input pixels."""
        return pool_boxes([m[image] for m in self.maps], xyxy, self.input_height)


class DetectorFeatureEmbedder:
    """The crop stage's handle on detector features: a key and a size, and no model of its
    own (the pipeline pools the detector's maps). ``embed`` refuses crops cut from a file,
    since these vectors exist only inside the detector's pass."""

    size = 0

    def __init__(self, key: str, dim: int) -> None:
        self.key = key
        self.dim = dim

    def embed(self, crops: NDArray[np.uint8]) -> NDArray[np.float32]:
        raise CropModelUnavailable(
            f"{self.key} vectors come from the detector's pass over whole frames: "
            "crops cut from files need an image embedder (crops.model = mobilenet_v1)"
        )
