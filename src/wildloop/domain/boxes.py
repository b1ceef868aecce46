"""Bounding boxes in one convention: normalised to the image, top-left corner plus size.

Every exchange format (YOLO centre boxes, COCO pixel boxes, MegaDetector normalised boxes)
converts through here, so a box means the same thing in every table and export.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rounding slack for boxes computed in floating point from pixel values.
EDGE_TOLERANCE = 1e-3


class BoxOutsideImage(ValueError):
    """The box does not lie within the image."""


@dataclass(frozen=True)
class Box:
    """A box with x, y (top-left) and w, h, all as fractions of image width/height."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        values = (self.x, self.y, self.w, self.h)
        if any(v != v for v in values):  # NaN
            raise BoxOutsideImage("box has a NaN coordinate")
        if self.w <= 0 or self.h <= 0:
            raise BoxOutsideImage(f"box has no area (w={self.w:.4f}, h={self.h:.4f})")
        tol = EDGE_TOLERANCE
        if self.x < -tol or self.y < -tol or self.x + self.w > 1 + tol or self.y + self.h > 1 + tol:
            raise BoxOutsideImage(
                f"box x={self.x:.4f} y={self.y:.4f} w={self.w:.4f} h={self.h:.4f} "
                "extends outside the image (coordinates must lie in 0..1)"
            )

    @classmethod
    def clipped(cls, x: float, y: float, w: float, h: float) -> Box:
        """Build a box after clipping it to the image (for model outputs, not for human input)."""
        x0, y0 = min(max(x, 0.0), 1.0), min(max(y, 0.0), 1.0)
        x1, y1 = min(max(x + w, 0.0), 1.0), min(max(y + h, 0.0), 1.0)
        return cls(x0, y0, max(x1 - x0, 1e-6), max(y1 - y0, 1e-6))

    @classmethod
    def from_yolo(cls, cx: float, cy: float, w: float, h: float) -> Box:
        return cls(cx - w / 2, cy - h / 2, w, h)

    @classmethod
    def from_pixels(cls, x: float, y: float, w: float, h: float, width: int, height: int) -> Box:
        return cls(x / width, y / height, w / width, h / height)

    def to_yolo(self) -> tuple[float, float, float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2, self.w, self.h)

    def to_pixels(self, width: int, height: int) -> tuple[float, float, float, float]:
        return (self.x * width, self.y * height, self.w * width, self.h * height)

    @property
    def area(self) -> float:
        return self.w * self.h

    def iou(self, other: Box) -> float:
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0
