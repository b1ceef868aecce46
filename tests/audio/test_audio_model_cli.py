"""The audio head's commands end to end through the real Typer app: train, evaluate, promote
(the shared gate), predict, calibrate, export events and Raven tables, import a table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.audio.head_support import LabelledWindow, labelled_project
from tests.audio.window_support import AUDIO_CLASSES
from wildloop.cli.app import app
from wildloop.project import Project

runner = CliRunner()


@pytest.fixture
def audio_project(make_project: Callable[..., Project]) -> Project:
    return make_project(AUDIO_CLASSES, name="sounds")


@pytest.fixture
def windows(audio_project: Project, tmp_path: Path) -> list[LabelledWindow]:
    return labelled_project(audio_project, tmp_path / "audio")


def cli(project: Project, *args: str) -> dict:
    result = runner.invoke(
        app, [*args, "--project", str(project.root), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_head_commands(
    audio_project: Project, windows: list[LabelledWindow], tmp_path: Path
) -> None:
    trained = cli(audio_project, "audio", "train")
    assert trained["state"] == "succeeded"
    model = str(trained["result"]["model_version_id"])

    evaluated = cli(audio_project, "audio", "evaluate", "--model", model)
    assert evaluated["metrics"]["accuracy"] > 0.9
    promoted = cli(audio_project, "promote", model, "--no-reprocess")
    assert promoted["promoted"] is True

    predicted = cli(audio_project, "audio", "predict")
    assert predicted["state"] == "succeeded"
    assert predicted["progress"]["done"] == len(windows) - 21  # test windows were scored already

    calibrated = cli(audio_project, "audio", "calibrate", "--precision", "0.8")
    assert set(calibrated["classes"]) == set(AUDIO_CLASSES)
    assert all(v["threshold"]["threshold"] is not None for v in calibrated["classes"].values())

    summary = cli(audio_project, "audio", "export-events", str(tmp_path / "events.json"))
    document = json.loads((tmp_path / "events.json").read_text())
    assert summary["recordings"] == len(document["recordings"]) == 22
    assert document["info"]["model_version_id"] == int(model)
    owl_recordings = [
        r for r in document["recordings"] if any(e["class"] == "owl" for e in r["events"])
    ]
    assert owl_recordings and all(
        e["start"] < e["end"] and e["model_version"] for r in owl_recordings for e in r["events"]
    )

    exported = cli(audio_project, "audio", "export-raven", str(tmp_path / "raven"))
    assert len(exported["files"]) == 18  # recordings with a class; "nothing" has no selection
    table = Path(exported["files"][0])
    imported = cli(audio_project, "audio", "import-raven", str(table))
    assert imported["kept_existing"] == 3 and imported["failed"] == []


def test_a_failed_training_exits_7_after_its_json_status(
    audio_project: Project, windows: list[LabelledWindow]
) -> None:
    """The training runs and fails (no window has embeddings of this key): the status is
    printed, and the exit code says it failed, as for detector and classifier trainings."""
    args = ["audio", "train", "--embedder", "none-such", "--project", str(audio_project.root)]
    result = runner.invoke(app, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 7, result.output
    status = json.loads(result.stdout)
    assert status["state"] == "failed" and "none-such" in status["error"]

    result = runner.invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 7
    assert "training failed" in result.stderr and "challenger" not in result.stdout
