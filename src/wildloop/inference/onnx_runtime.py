"""ONNX Runtime on CPU: the torch-free runtime every worker can run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

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
        self.input_name = self.session.get_inputs()[0].name

    def forward(self, batch: np.ndarray) -> np.ndarray:
        tensor = np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)
        tensor *= 1.0 / 255.0
        return self.session.run(None, {self.input_name: tensor})[0]  # type: ignore[no-any-return]

    def postprocess(
        self, raw: np.ndarray, conf: float, iou: float, max_det: int
    ) -> list[np.ndarray]:
        return nms.detections(raw, conf, iou, max_det)
