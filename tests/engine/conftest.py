"""Fixtures for the engine tests: tiny detectors built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

DEER_CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]


@pytest.fixture(scope="session")
def untrained_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised YOLOv8n-shaped detector with the deer classes (mechanics only)."""
    from wildloop.inference.ultralytics_adapter import build_untrained

    return build_untrained(
        tmp_path_factory.mktemp("models") / "untrained.pt", DEER_CLASSES, imgsz=160
    )
