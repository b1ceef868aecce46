"""Camera metadata and clock-offset fixes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from wildloop.errors import BadInput, NotFound
from wildloop.media.cameras import CameraChange, list_cameras, update_camera
from wildloop.media.ingest import ingest_paths
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, Media, MediaSequence


def test_fixing_a_clock_shifts_every_capture_time_and_keeps_splits(
    project: Project, scenes, tmp_path: Path
) -> None:
    scenes(bursts=6)
    ingest_paths(project, [tmp_path / "scenes"])
    with project.db.session() as session:
        before = {
            m.id: (m.captured_at, m.split, m.sequence_id, m.camera_id)
            for m in session.scalars(select(Media))
        }
        seq_before = {s.id: (s.started_at, s.split) for s in session.scalars(select(MediaSequence))}
    with project.db.session() as session:
        update_camera(
            session, "cam01", CameraChange(clock_offset_seconds=3600, location="north"), None
        )
    with project.db.session() as session:
        cam01 = next(c for c in list_cameras(session) if c["name"] == "cam01")
        after = {
            m.id: (m.captured_at, m.split, m.sequence_id, m.camera_id)
            for m in session.scalars(select(Media))
        }
        sequences = {
            s.id: (s.started_at, s.split, s.camera_id)
            for s in session.scalars(select(MediaSequence))
        }
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "camera.update")
        ).one()
    assert cam01["clock_offset_seconds"] == 3600 and cam01["location"] == "north"
    shifted = [i for i, v in before.items() if v[0] + timedelta(hours=1) == after[i][0]]
    unchanged = [i for i, v in before.items() if v[0] == after[i][0]]
    assert len(shifted) == cam01["media"] and len(shifted) + len(unchanged) == len(before)
    assert all(before[i][1:] == after[i][1:] for i in before)
    assert all(sequences[i][1] == seq_before[i][1] for i in sequences)
    assert audit.before["clock_offset_seconds"] == 0 and audit.after["clock_offset_seconds"] == 3600


def test_bad_camera_updates_are_refused(project: Project, scenes, tmp_path: Path) -> None:
    scenes(bursts=1)
    ingest_paths(project, [tmp_path / "scenes"])
    with project.db.session() as session, pytest.raises(NotFound, match="no camera named"):
        update_camera(session, "nope", CameraChange(location="x"), None)
    with project.db.session() as session, pytest.raises(BadInput, match="latitude"):
        update_camera(session, "cam01", CameraChange(latitude=123.0), None)
