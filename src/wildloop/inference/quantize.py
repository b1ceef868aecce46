"""int8 quantisation of an ONNX detector with ONNX Runtime's quantisation tools.

Static quantisation (QDQ format, per-channel weights) calibrates activation ranges on real
inputs: letterboxed RGB images exactly as the pipeline feeds the model. Two parts stay in
float: the detection head (its convolutions and its decoding: one int8 scale cannot hold box
coordinates of hundreds of pixels and scores of 0.01 at once) and the stem (the first
convolution and its activation, on raw pixels). Measured on the trained test detector
(mAP50-95 0.070 in float), quantising the head's convolutions cost 0.009 and the stem
another 0.007; with both in float the loss was 0.002. Dynamic quantisation needs no
calibration (weights only, activation ranges found per call), but ONNX Runtime runs its
integer convolutions slowly on x86: about 5x the float model's CPU time in our measurement,
so static is the default. The quantised file runs in the same ``OnnxRuntime``.

``onnx`` (in the ``train`` extra) is needed to quantise; running the result is not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from wildloop.errors import BadInput, Unavailable

METHODS = ("static", "dynamic")
# Ops whose int8 form ONNX Runtime's CPU kernels run fast; the rest stay in float.
_STATIC_OPS = ["Conv", "Mul", "Sigmoid", "Add", "Concat", "MaxPool", "Resize", "Split", "Slice"]


def quantize_onnx(
    source: Path,
    target: Path,
    method: str,
    calibration: Iterable[np.ndarray] = (),
    on_image: Callable[[int], None] | None = None,
) -> Path:
    """Write an int8 version of ``source`` to ``target``.

    ``calibration`` yields letterboxed (H, W, 3) uint8 RGB images of one size (static only);
    ``on_image(n)`` is called as the n-th is fed, so a job can show progress.
    """
    if method not in METHODS:
        raise BadInput(f"unknown quantisation method {method!r}; use {' or '.join(METHODS)}")
    try:
        import onnx
        from onnxruntime import quantization as q
    except ImportError as exc:
        raise Unavailable(
            f"quantising needs the onnx package ({exc}); install wildloop[train] on the "
            "machine that quantises (workers that run the result do not need it)"
        ) from exc
    model = onnx.load(str(source))
    head = _float_nodes(model)
    if method == "dynamic":
        q.quantize_dynamic(
            str(source),
            str(target),
            per_channel=True,
            weight_type=q.QuantType.QInt8,
            nodes_to_exclude=head,
        )
        return target
    input_name = model.graph.input[0].name
    reader = _Reader(input_name, iter(calibration), on_image)
    q.quantize_static(
        str(source),
        str(target),
        reader,
        quant_format=q.QuantFormat.QDQ,
        per_channel=True,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        op_types_to_quantize=_STATIC_OPS,
        nodes_to_exclude=head,
        calibrate_method=q.CalibrationMethod.MinMax,
    )
    if reader.count == 0:
        raise BadInput("static quantisation needs calibration images; none could be read")
    return target


def _float_nodes(model: Any) -> list[str]:
    """Nodes kept in float: the first and the last module (the stem convolution with its
    activation, and the detection head) when the export names nodes by module
    (Ultralytics: ``/model.0/...``, ``/model.22/...``); else the first convolution and the
    nodes after the last convolutions."""
    nodes = list(model.graph.node)
    inputs = {i.name for i in model.graph.input}
    stem = next((n for n in nodes if n.op_type == "Conv" and set(n.input) & inputs), None)
    if stem is None or not nodes:
        return _decoding_nodes(model)
    first, last = _module(stem.name), _module(nodes[-1].name)
    if first and last:
        return [n.name for n in nodes if n.name.startswith((first, last))]
    return [stem.name, *_decoding_nodes(model)]


def _module(name: str) -> str | None:
    """``/model.22/`` of ``/model.22/cv2.0/Conv``; None for names without a module path."""
    parts = name.split("/")
    return f"/{parts[1]}/" if len(parts) > 2 and parts[0] == "" and parts[1] else None


def _decoding_nodes(model: Any) -> list[str]:
    """Every node after the last convolutions (the ones no Conv follows on any path to the
    output): box decoding and the concatenation with class scores."""
    consumers: dict[str, list[Any]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    convs_after: dict[str, bool] = {}

    def feeds_conv(node: Any) -> bool:
        if node.name in convs_after:
            return convs_after[node.name]
        convs_after[node.name] = False  # a guard against cycles (there are none in ONNX)
        found = any(
            nxt.op_type == "Conv" or feeds_conv(nxt)
            for out in node.output
            for nxt in consumers.get(out, [])
        )
        convs_after[node.name] = found
        return found

    return [n.name for n in model.graph.node if n.op_type != "Conv" and not feeds_conv(n)]


class _Reader:
    """ONNX Runtime's calibration reader over letterboxed images, fed one at a time."""

    def __init__(
        self, input_name: str, images: Iterator[np.ndarray], on_image: Callable[[int], None] | None
    ) -> None:
        self.input_name, self.images, self.on_image = input_name, images, on_image
        self.count = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self.images, None)
        if image is None:
            return None
        self.count += 1
        if self.on_image is not None:
            self.on_image(self.count)
        tensor = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32)
        return {self.input_name: tensor / np.float32(255.0)}

    def rewind(self) -> None:
        """Calibration reads the images once."""
