"""Fixtures shared by the crop-classifier training tests (head and YOLO-cls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.loop import demo_champion
from wildloop.project import Project


@pytest.fixture
def two_stage(project: Project, scenes: Any, tmp_path: Path) -> tuple[Project, int]:
    """Generated scenes labelled as a person would, and the demo detector as champion."""
    return project, demo_champion(project, scenes(bursts=16, seed=3), tmp_path / "scenes")
