"""Camera (deployment) metadata: place, coordinates, and the fix for a wrong clock.

Changing a camera's clock offset shifts the capture times of all its media and sequences by
the difference, in one transaction. Sequences and their frozen splits stay as they are: every
frame of the camera moves by the same amount, so no burst is split or joined.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.errors import BadInput, NotFound
from wildloop.store.tables import Camera, Media, MediaSequence
from wildloop.tallies import maintained


@dataclass(frozen=True)
class CameraChange:
    location: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    clock_offset_seconds: int | None = None


def list_cameras(session: Session) -> list[dict[str, Any]]:
    counts = dict(
        session.execute(
            select(Media.camera_id, func.count())
            .where(Media.status == "ok")
            .group_by(Media.camera_id)
        ).all()
    )
    return [
        {
            "name": c.name,
            "location": c.location,
            "latitude": c.latitude,
            "longitude": c.longitude,
            "make": c.make,
            "model": c.model,
            "clock_offset_seconds": c.clock_offset_seconds,
            "media": counts.get(c.id, 0),
        }
        for c in session.scalars(select(Camera).order_by(Camera.name))
    ]


def update_camera(session: Session, name: str, change: CameraChange, actor_id: int | None) -> None:
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        raise NotFound(f"no camera named {name!r}; `wildloop camera list` shows them")
    if change.latitude is not None and not -90 <= change.latitude <= 90:
        raise BadInput(f"latitude {change.latitude} is outside -90..90")
    if change.longitude is not None and not -180 <= change.longitude <= 180:
        raise BadInput(f"longitude {change.longitude} is outside -180..180")
    before = _state(camera)
    if change.location is not None:
        camera.location = change.location
    if change.latitude is not None:
        camera.latitude = change.latitude
    if change.longitude is not None:
        camera.longitude = change.longitude
    if change.clock_offset_seconds is not None:
        delta = timedelta(seconds=change.clock_offset_seconds - camera.clock_offset_seconds)
        if delta:
            _shift_times(session, camera.id, delta)
            maintained.rebuild(session, [camera.id])  # hours and days move with the clock
        camera.clock_offset_seconds = change.clock_offset_seconds
    audit.record(
        session,
        actor_id=actor_id,
        action="camera.update",
        entity="camera",
        entity_id=camera.id,
        before=before,
        after=_state(camera),
    )


def record_clock_offset(session: Session, name: str, seconds: int, actor_id: int | None) -> None:
    """Record a clock offset that the stored capture times already include (an imported
    package whose timestamps were corrected before export): nothing shifts."""
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        raise NotFound(f"no camera named {name!r}; `wildloop camera list` shows them")
    before = _state(camera)
    camera.clock_offset_seconds = seconds
    audit.record(
        session,
        actor_id=actor_id,
        action="camera.clock_recorded",
        entity="camera",
        entity_id=camera.id,
        before=before,
        after=_state(camera),
    )


def _shift_times(session: Session, camera_id: int, delta: timedelta) -> None:
    """Shift in Python, row by row in executemany batches: portable across dialects."""
    for table, columns in ((Media, ("captured_at",)), (MediaSequence, ("started_at", "ended_at"))):
        selected = [getattr(table, c) for c in columns]
        rows = session.execute(
            select(table.id, *selected).where(table.camera_id == camera_id)
        ).all()
        changes = [
            {"id": row[0]}
            | {c: (v + delta if v else v) for c, v in zip(columns, row[1:], strict=True)}
            for row in rows
        ]
        for start in range(0, len(changes), 5000):
            session.execute(update(table), changes[start : start + 5000])


def _state(camera: Camera) -> dict[str, Any]:
    return {
        "location": camera.location,
        "latitude": camera.latitude,
        "longitude": camera.longitude,
        "clock_offset_seconds": camera.clock_offset_seconds,
    }
