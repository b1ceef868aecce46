"""The loop's commands, in process: thin wiring over the services, JSON out, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.support.loop import ingest_frames, label_frames, model_from_truth
from wildloop.cli.app import app
from wildloop.datasets.snapshots import load_snapshot
from wildloop.errors import Conflict
from wildloop.project import Project

runner = CliRunner()


def invoke(project: Project, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, [*args, "-p", str(project.root)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout


@pytest.fixture
def labelled(project: Project, scenes, tmp_path: Path) -> Project:
    frames = scenes(bursts=30, seed=12)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    return project


def test_snapshot_and_export_commands(labelled: Project, tmp_path: Path) -> None:
    project = labelled
    created = json.loads(invoke(project, "snapshot", "create", "--json"))
    assert created["created"] and created["name"] == "training-0001"
    again = json.loads(invoke(project, "snapshot", "create", "--json"))
    assert not again["created"] and again["id"] == created["id"]
    invoke(project, "snapshot", "create", "--purpose", "test")
    listed = json.loads(invoke(project, "snapshot", "list", "--json"))
    assert [s["purpose"] for s in listed] == ["training", "test"]
    assert "doe" in invoke(project, "snapshot", "show", "training-0001")  # the class table
    for fmt in ("yolo", "coco", "coco-ct", "csv"):
        out = json.loads(invoke(project, "export", "--format", fmt, "--json"))
        assert Path(out["folder"], "README.md").is_file()
    dp = json.loads(
        invoke(project, "export", "--format", "camtrap-dp", "--coordinates", "1.5,2.5", "--json")
    )
    assert dp["validation_problems"] == []
    with pytest.raises(Conflict):
        runner.invoke(
            app, ["export", "--format", "coco", "-p", str(project.root)], catch_exceptions=False
        )


def test_evaluate_compare_promote_and_log_commands(labelled: Project) -> None:
    project = labelled
    invoke(project, "snapshot", "create", "--purpose", "test")
    data = load_snapshot(project, "test-0001")
    good = model_from_truth(project, data, "good", keep=0.95, seed=1, source="trained")
    weak = model_from_truth(project, data, "weak", keep=0.4, relabel=0.4, seed=2, source="trained")
    evaluated = json.loads(invoke(project, "evaluate", "good", "--json"))
    assert evaluated["metrics"]["map50_95"] > 0.5
    first = json.loads(invoke(project, "promote", "good", "--no-reprocess", "--json"))
    assert first["promoted"]
    compared = json.loads(invoke(project, "compare", "weak", "champion", "--json"))
    assert compared["champion"]["model_version_id"] == good
    assert compared["challenger"]["model_version_id"] == weak
    assert not compared["decision"]["promote"]
    refused = invoke(project, "promote", "weak", "--no-reprocess", code=Conflict.exit_code)
    assert "REFUSED" in refused and "does not beat" in refused
    log = json.loads(invoke(project, "retrain-log", "--json"))
    assert [r["version"] for r in log["rows"]] == ["good", "weak"]
    assert Path(log["chart"]).is_file()
    csv_text = invoke(project, "retrain-log", "--csv")
    assert csv_text.startswith("date,version")
    check = json.loads(invoke(project, "triggers", "check", "--json"))
    assert check["due"] == "reviewed" and check["job_id"] is None  # --run not given
