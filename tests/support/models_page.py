"""Fixtures for the Models page: a labelled project with a frozen test set, two models whose
predictions are recorded in the real tables (the loop tests' helpers), users of every role
and logged-in HTTP clients; plus the engine's tiny detectors for the registry commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.detectors import untrained_onnx, untrained_pt  # noqa: F401 (fixtures)
from tests.support.loop import ingest_frames, label_frames, model_from_truth
from tests.support.review import add_users, logged_in_clients
from wildloop.datasets.snapshots import create_snapshot, list_snapshots, load_snapshot
from wildloop.evaluation.compare_job import KIND as COMPARE
from wildloop.evaluation.promotion import make_first_champion
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.web.app import create_app

USERS = {"ada": "admin", "rita": "reviewer", "vic": "viewer"}


@dataclass(frozen=True)
class ModelsSetup:
    project: Project
    champion: int
    challenger: int

    def champion_now(self) -> int | None:
        with self.project.db.session() as session:
            return aliases.resolve(session, "champion")


def build_models(
    project: Project, frames_root: Path, frames: list, **challenger: Any
) -> ModelsSetup:
    """v1 (fair) is champion; v2 is the challenger, degraded as ``challenger`` says."""
    label_frames(project, frames, ingest_frames(project, frames, frames_root))
    add_users(project, USERS)
    info, _ = create_snapshot(project, "test")
    data = load_snapshot(project, info.id)
    v1 = model_from_truth(project, data, "v1", keep=0.7, jitter=0.05, seed=1, source="trained")
    v2 = model_from_truth(project, data, "v2", seed=2, source="trained", **challenger)
    with project.db.session() as session:
        make_first_champion(session, v1, None, classes=project.classes)
        aliases.move_alias(session, "challenger", v2, None, "trained (test)")
    # Reprocessing needs model files; these test models only have stored predictions.
    project.config.triggers.reprocess_after_promotion = False
    project.config.evaluation.bootstrap_samples = 200  # an interval still, in a fifth the time
    return ModelsSetup(project, v1, v2)


def another_model(setup: ModelsSetup, name: str, seed: int, keep: float = 0.97) -> int:
    """One more version with stored predictions on the setup's test snapshot."""
    test = list_snapshots(setup.project, "test")[0]
    data = load_snapshot(setup.project, test.id)
    return model_from_truth(
        setup.project, data, name, keep=keep, jitter=0.02, seed=seed, source="trained"
    )


@pytest.fixture
def better_challenger(project: Project, scenes, tmp_path: Path) -> ModelsSetup:
    return build_models(
        project, tmp_path / "scenes", scenes(bursts=24, seed=12), keep=0.97, jitter=0.02
    )


@pytest.fixture
def weaker_challenger(project: Project, scenes, tmp_path: Path) -> ModelsSetup:
    return build_models(
        project, tmp_path / "scenes", scenes(bursts=24, seed=12), keep=0.4, relabel=0.3, jitter=0.08
    )


@pytest.fixture
def clients(project: Project, start_executor) -> Iterator[Callable[..., TestClient]]:
    """``client(name)``: a TestClient logged in as that user, sharing one app, with the
    comparison worker `wildloop serve` runs (trainings and loops stay queued)."""
    start_executor(project, workers=0, lanes=(COMPARE,))
    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        yield client
