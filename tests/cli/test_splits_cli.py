"""`wildloop splits regroup` and the split report of `wildloop status`, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import run
from wildloop.media.cameras import CameraChange, update_camera
from wildloop.media.ingest import ingest_paths
from wildloop.project import Project
from wildloop.store.tables import Camera


def test_regroup_shows_the_moves_and_applies_only_with_yes(
    tmp_path: Path, scenes, db_url: str
) -> None:
    scenes(bursts=18, seed=2)
    project = str(tmp_path / "proj")
    run("init", project, "--name", "p", "--classes", "deer", "--database-url", db_url)
    run("ingest", str(tmp_path / "scenes"), "-p", project)
    for camera, place in (("cam01", "ridge"), ("cam02", "ridge"), ("cam03", "creek")):
        run("camera", "set", camera, "--location", place, "-p", project)
    before = json.loads(run("status", "--json", "-p", project).stdout)
    dry = run("splits", "regroup", "--by", "location", "-p", project)
    assert "would move" in dry.stdout and "Nothing changed" in dry.stdout
    assert json.loads(run("status", "--json", "-p", project).stdout) == before
    plan = json.loads(run("splits", "regroup", "--by", "location", "-p", project, "--json").stdout)
    assert plan["applied"] is False and plan["sequences_moved"] > 0
    for row in plan["sequences"]:
        assert row["from"] != row["to"] and f"│ {row['from']}" in dry.stdout
    applied = run("splits", "regroup", "--by", "location", "--yes", "-p", project)
    assert "moved" in applied.stdout
    after = json.loads(run("status", "--json", "-p", project).stdout)
    assert after["splits"]["group_by"] == "location"
    assert sum(s["locations"] for s in after["splits"]["per_split"].values()) == 2
    text = run("status", "-p", project).stdout
    assert "splits grouped by location" in text and "locations" in text
    again = json.loads(run("splits", "regroup", "--by", "location", "-p", project, "--json").stdout)
    assert again["sequences_moved"] == 0


def test_many_locations_grouped_by_sequence_get_a_hint(tmp_path: Path, scenes) -> None:
    scenes(bursts=6, seed=1)
    project = tmp_path / "proj"
    run("init", str(project), "--name", "p", "--classes", "deer")
    proj = Project.open(project)
    try:
        ingest_paths(proj, [tmp_path / "scenes"])  # cameras cam01..cam03
        names = ["cam01", "cam02", "cam03", "extra1", "extra2"]
        with proj.db.session() as session:
            session.add_all([Camera(name="extra1"), Camera(name="extra2")])
        with proj.db.session() as session:
            for i, name in enumerate(names[:4]):
                update_camera(session, name, CameraChange(location=f"site{i}"), None)
    finally:
        proj.close()
    placed = run("camera", "set", "extra2", "--location", "site4", "-p", str(project))
    assert "hint:" in placed.stderr and "splits regroup --by location" in placed.stderr
    (tmp_path / "empty").mkdir()
    assert "5 locations" in run("ingest", str(tmp_path / "empty"), "-p", str(project)).stderr
    assert "hint:" in run("status", "-p", str(project)).stderr
    assert "5 locations" in json.loads(run("status", "--json", "-p", str(project)).stdout)["hint"]
