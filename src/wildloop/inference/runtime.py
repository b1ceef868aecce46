"""The model-runtime seam: ONNX Runtime on CPU, PyTorch fp16 on CUDA, picked automatically.

A runtime takes a batch of letterboxed uint8 RGB images (N, H, W, 3), all of one shape,
and returns per-image detections in input pixels. Runtimes are cached per process by the
artifact's hash, so a worker that sees a new champion loads it once and never restarts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from wildloop.errors import BadInput, Unavailable
from wildloop.inference.onnx_runtime import OnnxRuntime
from wildloop.inference.torch_runtime import TorchRuntime

_CACHE_SIZE = 3


class DetectorRuntime(Protocol):
    name: str
    device: str
    stride: int

    def forward(self, batch: np.ndarray) -> Any:
        """Run the model on (N, H, W, 3) uint8 RGB; returns the raw (N, 4+C, A) output."""

    def postprocess(
        self, raw: Any, conf: Sequence[float], iou: float, max_det: int
    ) -> list[np.ndarray]:
        """NMS on the raw output, with each image's score threshold -> per image (k, 6):
        x1, y1, x2, y2, score, class index."""


@dataclass(frozen=True)
class RuntimeChoice:
    kind: str  # onnx | torch
    device: str  # cpu | cuda | cuda:N

    @property
    def artifact_format(self) -> str:
        """The model file this runtime loads: the ``.pt`` for torch, the ONNX export else."""
        return "pt" if self.kind == "torch" else "onnx"


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def choose(kind: str = "auto", device: str = "auto") -> RuntimeChoice:
    """``auto`` picks PyTorch fp16 on CUDA when torch sees a GPU, else ONNX Runtime on CPU."""
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if kind == "auto":
        kind = "torch" if device.startswith("cuda") else "onnx"
    if kind not in ("onnx", "torch"):
        raise BadInput(f"unknown runtime {kind!r}; use auto, onnx or torch")
    if device.startswith("cuda") and not cuda_available():
        raise Unavailable(f"device {device} requested but torch sees no CUDA GPU")
    return RuntimeChoice(kind, device)


_cache: OrderedDict[tuple[str, str, str, int], DetectorRuntime] = OrderedDict()
_lock = threading.Lock()


def load(
    sha256: str,
    choice: RuntimeChoice,
    verified_path: Callable[[], Path],
    threads: int = 0,
) -> DetectorRuntime:
    """The runtime for the artifact ``sha256`` in ``choice.artifact_format``, cached per
    process. Only on a cache miss is ``verified_path`` called: the caller hash-checks the
    file there, so a file is verified before its first load and never re-hashed after."""
    key = (sha256, choice.kind, choice.device, threads)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    path = verified_path()
    runtime: DetectorRuntime
    if choice.kind == "onnx":
        runtime = OnnxRuntime(path, threads=threads)
    else:
        runtime = TorchRuntime(path, device=choice.device)
    with _lock:
        _cache[key] = runtime
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return runtime


def clear_cache() -> None:
    with _lock:
        _cache.clear()
