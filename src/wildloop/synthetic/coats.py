"""Generated photos of individual animals: each one a coat of stripes of its own period,
colours and direction on a box, over a noisy background. Truth for re-identification tests
and benchmarks, where real photos of known individuals are not at hand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

WIDTH, HEIGHT = 320, 240


@dataclass(frozen=True)
class Coat:
    """Stripes of one period and two colours: what tells one animal from another."""

    period: int
    colours: tuple[tuple[int, int, int], tuple[int, int, int]]
    vertical: bool


def random_coat(rng: np.random.Generator) -> Coat:
    a, b = (tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in range(2))
    return Coat(int(rng.integers(2, 20)), (a, b), bool(rng.integers(0, 2)))  # type: ignore[arg-type]


def photo(
    coat: Coat, rng: np.random.Generator, jitter: int = 12, light: float = 0.0
) -> tuple[NDArray[np.uint8], tuple[float, float, float, float]]:
    """One frame with the animal at a random place and size; returns the image and its box
    (x, y, w, h as fractions). ``jitter`` is the per-pixel noise on the coat; ``light`` the
    spread of a per-photo brightness gain (0: every photo lit alike)."""
    image = rng.integers(60, 120, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    w, h = int(rng.integers(90, 130)), int(rng.integers(70, 100))
    x, y = int(rng.integers(0, WIDTH - w)), int(rng.integers(0, HEIGHT - h))
    axis = np.arange(w if coat.vertical else h)
    band = (axis // coat.period) % 2
    patch = np.array(coat.colours, np.uint8)[band]
    patch = patch[None, :, :].repeat(h, 0) if coat.vertical else patch[:, None, :].repeat(w, 1)
    noise = rng.integers(-jitter, jitter + 1, patch.shape)
    image[y : y + h, x : x + w] = np.clip(patch.astype(int) + noise, 0, 255).astype(np.uint8)
    if light:
        gain = 1.0 + float(rng.uniform(-light, light))
        image = np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return image, (x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT)
