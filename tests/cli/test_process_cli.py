"""The engine's commands end to end through the real Typer app (CliRunner)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from wildloop.cli.app import app
from wildloop.errors import Unavailable
from wildloop.project import Project
from wildloop.synthetic.scenes import Frame

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_model_process_reprocess_jobs_and_export(
    project: Project, scenes: Callable[..., list[Frame]], untrained_onnx: Path, tmp_path: Path
) -> None:
    p = ["--project", str(project.root)]
    scenes(bursts=2, seed=8)
    # Nothing is champion yet: ingest --process says so instead of failing silently.
    first = runner.invoke(app, ["ingest", str(tmp_path / "scenes"), "--process", *p])
    assert first.exit_code != 0 and "promote" in str(first.exception)
    out = _ok("model", "register", str(untrained_onnx), "--name", "v1", "--promote", *p)
    assert "champion: none -> 1 (v1)" in out  # the first champion: nothing to compare with
    _ok("model", "register", str(untrained_onnx), "--name", "v2", *p)
    versions = json.loads(_ok("model", "list", "--json", *p))
    assert [v["name"] for v in versions] == ["v2", "v1"] and versions[1]["aliases"] == ["champion"]

    out = _ok("process", *p)
    assert "succeeded" in out
    out = _ok("reprocess", "--model", "v2", "--scope", "unreviewed", *p)
    assert "succeeded" in out and "reviewed items now disagree" in out
    jobs = json.loads(_ok("jobs", "list", "--json", *p))
    assert [j["state"] for j in jobs] == ["succeeded", "succeeded"]
    shown = json.loads(_ok("jobs", "show", str(jobs[0]["id"]), "--json", *p))
    assert shown["result"]["before"]["name"] == "v1"

    # Replacing the champion goes through the gate, which needs a test set to compare on.
    gated = runner.invoke(app, ["model", "promote", "v2", "--force", "--reason", "test", *p])
    assert gated.exit_code != 0 and "test snapshot is empty" in str(gated.exception)
    assert json.loads(_ok("model", "show", "champion", *p))["name"] == "v1"
    export = tmp_path / "md.json"
    _ok("predictions", "export-md", str(export), "--model", "v2", *p)
    assert len(json.loads(export.read_text())["images"]) == len(
        list(tmp_path.glob("scenes/*/*.jpg"))
    )
    _ok("predictions", "validate-md", str(export))
    queued = json.loads(_ok("reprocess", "--model", "v1", "--no-wait", "--json", *p))
    assert "job_id" in queued
    _ok("jobs", "cancel", str(queued["job_id"]), *p)
    assert "cancelled" in _ok("jobs", "list", *p)


def test_missing_weights_message(project: Project, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "model",
            "register",
            str(tmp_path / "yolov8n.pt"),
            "--name",
            "base",
            "--project",
            str(project.root),
        ],
    )
    assert isinstance(result.exception, Unavailable)
    assert "never downloads" in str(result.exception)
