"""`wildloop analytics report|csv` on the hand-computed fixture, as a subprocess."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.cli.test_cli import run
from tests.support.analytics import CLASSES, build_analytics_project


def test_report_json_and_csv(make_project: Any, tmp_path: Path) -> None:
    project = make_project(CLASSES)
    build_analytics_project(project, tmp_path / "photos")
    root = str(project.root)
    body = json.loads(run("analytics", "report", "--project", root, "--json").stdout)
    assert (body["media"], body["events"]) == (7, 5)
    text = run("analytics", "report", "--project", root, "--interval", "60").stdout
    assert "7 photos (0 predicted) in 4 independent events (60 min)" in text
    out = tmp_path / "occupancy.csv"
    run("analytics", "csv", "occupancy", "--project", root, "--out", str(out))
    assert "2024-01-01,fox,2,2,1.0" in out.read_text().splitlines()
    bad = run("analytics", "csv", "everything", "--project", root, ok=False)
    assert bad.returncode != 0 and "no table 'everything'" in bad.stderr
