"""One TFLite model run with ``ai-edge-litert``: batch resizing and output dequantisation.

Shared by every TFLite embedder (audio windows, image crops) so there is one place that
knows the interpreter's quirks: it is not thread-safe (callers hold one per thread or a
lock), it must be re-allocated when the batch size changes, and int8 models return
quantised integers that mean nothing until scaled by the output's (scale, zero point).
Models are passed as bytes: mapping a read-only file (``model_path``) crashed the interpreter
with a bus error on this machine.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np
from numpy.typing import NDArray


def litert_available() -> bool:
    return importlib.util.find_spec("ai_edge_litert") is not None


class TFLiteModel:
    """A loaded model: ``run`` takes a batch shaped like the input (any batch size)."""

    def __init__(self, model: bytes, threads: int = 1, tensor: str | None = None) -> None:
        """``tensor`` names an intermediate tensor to read instead of the model's output
        (a classifier's pooled features); the interpreter then keeps every tensor."""
        # ai-edge-litert is imported only when a TFLite model is used, so nothing that never
        # runs one pays for loading it.
        from ai_edge_litert.interpreter import Interpreter

        with warnings.catch_warnings():
            # Keeping every tensor is how an intermediate one is read; litert warns that it
            # is meant for debugging (it costs memory: ~10 MB for a MobileNet).
            warnings.simplefilter("ignore", UserWarning)
            self._interpreter = Interpreter(
                model_content=model,
                num_threads=threads,
                experimental_preserve_all_tensors=tensor is not None,
            )
        inputs = self._interpreter.get_input_details()[0]
        output = self._interpreter.get_output_details()[0]
        if tensor is not None:
            named = [t for t in self._interpreter.get_tensor_details() if t["name"] == tensor]
            if not named:
                raise ValueError(f"the TFLite model has no tensor named {tensor!r}")
            output = named[0]
        self.input_shape: tuple[int, ...] = tuple(int(s) for s in inputs["shape"])
        self.input_dtype = np.dtype(inputs["dtype"])
        self._input = int(inputs["index"])
        self._output = int(output["index"])
        scale, zero = output["quantization"]
        self._scale, self._zero = float(scale), int(zero)
        self.output_dim = int(np.prod(output["shape"][1:]))
        self._batch = int(self.input_shape[0])
        self._single_only = False
        self._interpreter.allocate_tensors()

    def run(self, batch: NDArray[np.generic]) -> NDArray[np.float32]:
        """The model's output for ``batch`` as float32 rows (dequantised when int8)."""
        if self._single_only and len(batch) != 1:
            # A model whose graph fixes batch 1 (a Reshape to (1, ...)) runs row by row.
            return np.concatenate([self.run(batch[i : i + 1]) for i in range(len(batch))])
        if len(batch) != self._batch:
            try:
                self._interpreter.resize_tensor_input(self._input, [len(batch), *batch.shape[1:]])
                self._interpreter.allocate_tensors()
            except (RuntimeError, ValueError):
                if len(batch) == 1:
                    raise
                self._single_only = True
                self._interpreter.resize_tensor_input(self._input, [1, *batch.shape[1:]])
                self._interpreter.allocate_tensors()
                self._batch = 1
                return self.run(batch)
            self._batch = len(batch)
        self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, self.input_dtype))
        self._interpreter.invoke()
        out = np.asarray(self._interpreter.get_tensor(self._output)).reshape(len(batch), -1)
        if self._scale:
            return ((out.astype(np.float32) - self._zero) * self._scale).astype(np.float32)
        return out.astype(np.float32, copy=True)
