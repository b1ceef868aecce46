"""Splits grouped by camera or location: made at ingest, changed only by an explicit regroup."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from tests.support.loop import label_frames
from wildloop.config import load_config
from wildloop.datasets.snapshots import create_snapshot
from wildloop.domain.splits import GroupBy, assign_split
from wildloop.errors import Conflict
from wildloop.media.cameras import CameraChange, update_camera
from wildloop.media.ingest import ingest_paths
from wildloop.media.regroup import apply_regroup, plan_regroup
from wildloop.media.summary import media_summary
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, Camera, Media, MediaSequence

SITES = {"cam01": "ridge", "cam02": "ridge", "cam03": None}


def _set_locations(project: Project, sites: dict[str, str | None]) -> None:
    with project.db.session() as session:
        for name, location in sites.items():
            session.execute(update(Camera).where(Camera.name == name).values(location=location))


def _splits_by(project: Project, what: str) -> dict[str, set[str]]:
    """Group (camera name or location-or-camera) -> splits of its media."""
    with project.db.session() as session:
        rows = session.execute(
            select(Camera.name, Camera.location, Media.split).join(
                Media, Media.camera_id == Camera.id
            )
        ).all()
    out: dict[str, set[str]] = {}
    for name, location, split in rows:
        key = name if what == "camera" else (location or f"camera:{name}")
        out.setdefault(key, set()).add(split)
    return out


def _media_match_sequences(project: Project) -> bool:
    with project.db.session() as session:
        rows = session.execute(
            select(Media.split, MediaSequence.split).join(
                MediaSequence, MediaSequence.id == Media.sequence_id
            )
        ).all()
    return all(a == b for a, b in rows)


def test_regroup_by_location_shows_the_moves_then_applies_them_when_confirmed(
    project: Project, scenes, tmp_path: Path
) -> None:
    scenes(bursts=18, seed=2)
    ingest_paths(project, [tmp_path / "scenes"])
    _set_locations(project, SITES)
    before = _splits_by(project, "location")
    assert any(len(s) > 1 for s in before.values())  # by sequence, places straddle splits

    with project.db.session() as session:
        plan = plan_regroup(project, session, GroupBy.LOCATION)
    data = plan.as_dict()
    assert data["sequences_moved"] > 0 and data["groups_in_two_splits_after"] == 0
    assert sum(row["count"] for row in data["media"]) == data["media_moved"]
    after_counts = data["media_per_split_after"]
    assert sum(after_counts.values()) == media_summary(project)["by_status"]["ok"]
    assert data["empty_splits_after"] == [s for s, n in after_counts.items() if n == 0]
    assert _splits_by(project, "location") == before  # planning moves nothing

    with project.db.session() as session:
        apply_regroup(
            project, session, plan_regroup(project, session, GroupBy.LOCATION), actor_id=None
        )
    after = _splits_by(project, "location")
    assert set(after) == {"ridge", "camera:cam03"}
    assert all(len(splits) == 1 for splits in after.values())
    assert _media_match_sequences(project)
    assert load_config(project.root).splits.group_by == GroupBy.LOCATION
    with project.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "splits.regroup"))
    assert entry is not None and entry.after["media_moved"] == data["media_moved"]


def test_new_sequences_follow_the_grouping_and_a_moved_camera_is_reported(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=12, seed=4)
    root, held = tmp_path / "scenes", tmp_path / "held"
    last_burst = [f for f in frames if f.camera == "cam01"][-1].sequence_key
    late = [f for f in frames if f.sequence_key == last_burst]  # a whole burst, ingested later
    for f in late:
        (held / f.file_name).parent.mkdir(parents=True, exist_ok=True)
        (root / f.file_name).rename(held / f.file_name)
    ingest_paths(project, [root])
    _set_locations(project, {"cam01": "ridge", "cam02": "ridge", "cam03": "creek"})
    with project.db.session() as session:
        apply_regroup(
            project, session, plan_regroup(project, session, GroupBy.LOCATION), actor_id=None
        )
    ridge_split = _splits_by(project, "location")["ridge"]

    # cam01 moves to a place that hashes to another split: its sequences stay frozen, new
    # ones follow the new place, and status reports the camera's place in two splits
    settings = project.config.splits
    place = next(
        f"valley{i}"
        for i in range(100)
        if str(assign_split(f"location:valley{i}", settings.ratios(), settings.salt))
        not in ridge_split
    )
    with project.db.session() as session:
        update_camera(session, "cam01", CameraChange(location=place), actor_id=None)
    ingest_paths(project, [held])
    cam01 = _splits_by(project, "camera")["cam01"]
    assert len(cam01) == 2 and ridge_split < cam01  # old frames kept the ridge split
    summary = media_summary(project)["splits"]
    assert summary["groups_in_two_splits"] == 1
    assert summary["examples_in_two_splits"] == [f"location:{place}"]
    with project.db.session() as session:
        apply_regroup(
            project, session, plan_regroup(project, session, GroupBy.LOCATION), actor_id=None
        )
    assert media_summary(project)["splits"]["groups_in_two_splits"] == 0
    assert len(_splits_by(project, "camera")["cam01"]) == 1


def test_regroup_that_changes_a_frozen_test_snapshot_needs_explicit_consent(
    project: Project, scenes, tmp_path: Path
) -> None:
    frames = scenes(bursts=18, seed=2)
    root = tmp_path / "scenes"
    ingest_paths(project, [root])
    with project.db.session() as session:
        by_path = dict(session.execute(select(Media.path, Media.id)).all())
    label_frames(project, frames, {f.file_name: by_path[str(root / f.file_name)] for f in frames})
    create_snapshot(project, "test")
    _set_locations(project, SITES)
    with project.db.session() as session:
        plan = plan_regroup(project, session, GroupBy.LOCATION)
        assert plan.touches_test_snapshot and plan.as_dict()["reviewed_moved"] > 0
        with pytest.raises(Conflict, match="frozen test snapshot"):
            apply_regroup(project, session, plan, actor_id=None)
    assert load_config(project.root).splits.group_by == GroupBy.SEQUENCE
    assert any(len(s) > 1 for s in _splits_by(project, "location").values())
    with project.db.session() as session:
        apply_regroup(project, session, plan, actor_id=None, allow_test_change=True)
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "splits.regroup"))
    assert entry is not None and entry.reason == "test snapshot change confirmed"
    assert all(len(s) == 1 for s in _splits_by(project, "location").values())


def test_ingest_groups_by_camera_when_configured(project: Project, scenes, tmp_path: Path) -> None:
    scenes(bursts=18, seed=2)
    project.config.splits.group_by = GroupBy.CAMERA
    ingest_paths(project, [tmp_path / "scenes"])
    assert all(len(s) == 1 for s in _splits_by(project, "camera").values())
    assert _media_match_sequences(project)


def test_status_counts_cameras_and_locations_per_split_and_hints_at_five_locations(
    project: Project, scenes, tmp_path: Path
) -> None:
    scenes(bursts=18, seed=2)
    ingest_paths(project, [tmp_path / "scenes"])
    summary = media_summary(project)
    per_split = summary["splits"]["per_split"]
    assert summary["splits"]["group_by"] == "sequence" and summary["hint"] is None
    assert sum(s["sequences"] for s in per_split.values()) == summary["sequences"]
    assert max(s["cameras"] for s in per_split.values()) <= 3
    assert summary["splits"]["cameras_without_location"] == 3
    with project.db.session() as session:
        session.add_all(Camera(name=f"extra{i}", location=f"site{i}") for i in range(5))
    assert "5 locations" in (media_summary(project)["hint"] or "")
    project.config.splits.group_by = GroupBy.LOCATION
    assert media_summary(project)["hint"] is None
