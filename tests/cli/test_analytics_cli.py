"""`wildloop analytics report|csv` on the hand-computed fixture, in process (CliRunner): the
subprocess path and its exit codes are covered once for every command in test_cli.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from tests.support.analytics import CLASSES, build_analytics_project
from wildloop.cli.app import app
from wildloop.errors import BadInput


def test_report_json_and_csv(make_project: Any, tmp_path: Path) -> None:
    project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    root = str(project.root)
    runner = CliRunner()
    env = {"COLUMNS": "200", "NO_COLOR": "1"}
    result = runner.invoke(app, ["analytics", "report", "-p", root, "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["media"], body["events"]) == (7, 5)
    result = runner.invoke(app, ["analytics", "report", "-p", root, "--interval", "60"], env=env)
    assert "7 detections (0 predicted) in 4 independent events (60 min)" in result.output
    out = tmp_path / "occupancy.csv"
    args = ["analytics", "csv", "occupancy", "-p", root, "--out", str(out)]
    assert runner.invoke(app, args, env=env).exit_code == 0
    assert "2024-01-01,fox,2,2,1.0" in out.read_text().splitlines()
    bad = runner.invoke(app, ["analytics", "csv", "everything", "-p", root], env=env)
    assert isinstance(bad.exception, BadInput) and "no table 'everything'" in str(bad.exception)


def test_per_event_and_rebuild_from_the_cli(make_project: Any, tmp_path: Path) -> None:
    project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    root = str(project.root)
    per_event = CliRunner().invoke(
        app, ["analytics", "report", "--per", "event", "--json", "-p", root]
    )
    assert per_event.exit_code == 0, per_event.output
    body = json.loads(per_event.output)
    assert (body["per"], body["events"], body["computed"]) == ("event", 7, "exact")
    bad = CliRunner().invoke(app, ["analytics", "report", "--per", "burst", "-p", root])
    assert bad.exit_code != 0
    rebuilt = CliRunner().invoke(app, ["analytics", "rebuild", "-p", root])
    assert rebuilt.exit_code == 0 and "from 7 detections" in rebuilt.output
