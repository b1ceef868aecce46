"""Letterbox geometry, the same as Ultralytics' ``LetterBox``, and its inverse for boxes.

Keeping the geometry identical (rounding included) is what lets the pipeline's boxes match
Ultralytics' own predictions for the same weights. ``rect`` pads only to the stride (as
Ultralytics does for a single image), which for 16:9 photos is 40% less work than a square.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class Letterbox:
    """How one image of ``width`` x ``height`` maps into a model input of ``shape``."""

    width: int
    height: int
    ratio: float
    new_w: int
    new_h: int
    left: int
    top: int
    shape: tuple[int, int]  # (input height, input width)


def plan(width: int, height: int, imgsz: int, stride: int = 32, rect: bool = True) -> Letterbox:
    ratio = min(imgsz / height, imgsz / width)
    new_w, new_h = round(width * ratio), round(height * ratio)
    dw, dh = imgsz - new_w, imgsz - new_h
    if rect:
        dw, dh = dw % stride, dh % stride
    half_w, half_h = dw / 2, dh / 2
    left, right = round(half_w - 0.1), round(half_w + 0.1)
    top, bottom = round(half_h - 0.1), round(half_h + 0.1)
    return Letterbox(
        width=width,
        height=height,
        ratio=ratio,
        new_w=new_w,
        new_h=new_h,
        left=left,
        top=top,
        shape=(new_h + top + bottom, new_w + left + right),
    )


def place(resized: np.ndarray, box: Letterbox) -> np.ndarray:
    """Put a resized HxWx3 image on a grey canvas of the input shape."""
    canvas = np.full((*box.shape, 3), PAD_VALUE, dtype=np.uint8)
    canvas[box.top : box.top + box.new_h, box.left : box.left + box.new_w] = resized
    return canvas


def to_normalised(xyxy: np.ndarray, box: Letterbox) -> np.ndarray:
    """Boxes in input pixels (x1, y1, x2, y2) -> (x, y, w, h) as fractions of the image."""
    out = xyxy.astype(np.float64, copy=True)
    out[:, [0, 2]] = (out[:, [0, 2]] - box.left) / box.ratio
    out[:, [1, 3]] = (out[:, [1, 3]] - box.top) / box.ratio
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, box.width) / box.width
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, box.height) / box.height
    out[:, 2] -= out[:, 0]
    out[:, 3] -= out[:, 1]
    return out
