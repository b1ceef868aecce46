"""ONNX Runtime on CPU: the torch-free runtime every worker can run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from wildloop.errors import BadInput
from wildloop.inference import nms


class OnnxRuntime:
    name = "onnxruntime"
    device = "cpu"
    stride = 32

    def __init__(self, path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # Decode threads share the cores: spinning ORT threads would steal their time.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        # Exports without dynamic axes take one fixed batch size and image size.
        dims = list(model_input.shape)
        self.fixed_batch = dims[0] if isinstance(dims[0], int) else None
        self.fixed_size = (dims[2], dims[3]) if all(isinstance(d, int) for d in dims[2:]) else None

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self.run_outputs(batch)[0]

    def run_outputs(self, batch: np.ndarray) -> list[np.ndarray]:
        """Every output of the model for ``batch`` (uint8 NHWC), the first being the raw
        detections; a derived model with feature outputs adds its maps after it."""
        batch = self._fit_fixed_size(batch)
        step = self.fixed_batch or len(batch)
        parts: list[list[np.ndarray]] = []
        for start in range(0, len(batch), step):
            part = batch[start : start + step]
            missing = step - len(part)
            if missing:  # a static batch dimension: fill with copies, drop their outputs
                part = np.concatenate([part, np.repeat(part[-1:], missing, axis=0)])
            tensor = np.ascontiguousarray(part.transpose(0, 3, 1, 2), dtype=np.float32)
            tensor *= 1.0 / 255.0
            raw = self.session.run(None, {self.input_name: tensor})
            parts.append([np.asarray(o)[: step - missing] for o in raw])
        if len(parts) == 1:
            return parts[0]
        return [np.concatenate(outs) for outs in zip(*parts, strict=True)]

    def fed_height(self, batch: np.ndarray) -> int:
        """The input height the model actually sees for ``batch`` (a static size pads)."""
        return int(self.fixed_size[0]) if self.fixed_size is not None else int(batch.shape[1])

    def _fit_fixed_size(self, batch: np.ndarray) -> np.ndarray:
        """Pad a letterboxed batch at the bottom and right up to a static input size; box
        coordinates are measured from the top left, so they stay valid."""
        if self.fixed_size is None or batch.shape[1:3] == self.fixed_size:
            return batch
        height, width = self.fixed_size
        if batch.shape[1] > height or batch.shape[2] > width:
            raise BadInput(
                f"this ONNX model only accepts {width}x{height} inputs but got "
                f"{batch.shape[2]}x{batch.shape[1]}; register it with --imgsz {max(height, width)} "
                "or export it with dynamic axes"
            )
        padded = np.full((len(batch), height, width, 3), 114, dtype=batch.dtype)
        padded[:, : batch.shape[1], : batch.shape[2]] = batch
        return padded

    def postprocess(
        self, raw: np.ndarray, conf: Sequence[float], iou: float, max_det: int
    ) -> list[np.ndarray]:
        return nms.detections(raw, conf, iou, max_det)
