"""Fixtures shared by the crop-classifier training tests (head and YOLO-cls)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.loop import ingest_frames, label_frames
from wildloop.cli.demo_cmds import DEMO_DETECTOR
from wildloop.evaluation.promotion import make_first_champion
from wildloop.models.registration import register_model
from wildloop.project import Project


@pytest.fixture
def two_stage(project: Project, scenes: Any, tmp_path: Path) -> tuple[Project, int]:
    """Generated scenes labelled as a person would, and the demo detector as champion."""
    frames = scenes(bursts=16, seed=3)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    detector = register_model(project, DEMO_DETECTOR, "demo-detector")
    with project.db.session() as session:
        make_first_champion(session, detector.id, None, "first", classes=project.classes)
    return project, detector.id
