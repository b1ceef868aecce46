"""Reading an ONNX detector's own description (class names, input size) without running it."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from wildloop.errors import BadInput


@dataclass(frozen=True)
class OnnxInfo:
    classes: list[str] | None
    imgsz: int | None
    dynamic_batch: bool


def read_onnx(path: Path) -> OnnxInfo:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise BadInput(f"{path.name} is not a loadable ONNX model: {exc}") from exc
    meta = session.get_modelmeta().custom_metadata_map
    inputs = session.get_inputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise BadInput(f"{path.name}: expected one image input of shape (batch, 3, H, W)")
    return OnnxInfo(
        classes=class_names(meta),
        imgsz=_imgsz(meta, inputs[0].shape),
        dynamic_batch=not isinstance(inputs[0].shape[0], int),
    )


def class_names(metadata: dict[str, str]) -> list[str] | None:
    """Class names from the metadata Ultralytics stores in its ONNX exports, if present."""
    raw = metadata.get("names")
    if not raw:
        return None
    try:
        names = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return None
    if isinstance(names, dict):
        return [str(names[k]) for k in sorted(names)]
    if isinstance(names, list):
        return [str(n) for n in names]
    return None


def _imgsz(metadata: dict[str, str], shape: list[object]) -> int | None:
    if isinstance(shape[2], int) and isinstance(shape[3], int):
        return max(shape[2], shape[3])
    raw = metadata.get("imgsz")
    if raw:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return None
        if isinstance(value, (list, tuple)):
            return int(max(value))
        return int(value)
    return None
