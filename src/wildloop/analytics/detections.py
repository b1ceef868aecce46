"""Reading detections and camera effort from the database, fast enough for a million media.

Labelled items come from one partial covering index in camera-time order
(``ix_media_labelled_camera_time``) with capture times turned into integers by the database,
so Python handles three integers per row and never a datetime. Capture times are already
corrected for camera clock offsets (``media.cameras`` shifts them when an offset changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, literal, select
from sqlalchemy.orm import Session

from wildloop.domain.activity import Detection
from wildloop.registry import aliases
from wildloop.review.hidden_regions import hidden_media
from wildloop.store import hints
from wildloop.store.epoch import epoch_seconds
from wildloop.store.raw_read import raw_rows
from wildloop.store.tables import Camera, Individual, Media, PredictionSet, Sighting

Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class CameraSpan:
    """A camera, its site, and its first and last photo (camera-local epoch seconds)."""

    id: int
    name: str
    site: str
    first: int
    last: int


def labelled_detections(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[Detection]:
    """Every reviewed item with an animal class, as detections in camera-time order."""
    t = epoch_seconds(Media.captured_at)
    query = (
        select(Media.camera_id, Media.label_class_id, t, literal(0))
        .where(
            Media.label_class_id.is_not(None),
            Media.camera_id.is_not(None),
            Media.captured_at.is_not(None),
            Media.status == "ok",
        )
        .order_by(Media.camera_id, Media.captured_at)
    )
    query = _window(query, since, until)
    query = hints.use_index(query, Media, "ix_media_labelled_camera_time")
    return raw_rows(session, query)  # type: ignore[return-value]


def predicted_detections(
    session: Session,
    thresholds: Mapping[int, float],
    default_threshold: float,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[Detection]:
    """Unreviewed items whose champion's top class scores at least its class threshold,
    marked as predicted, in camera-time order; items whose boxes all lie in a false-positive
    repeat region of their camera are left out. Empty before a champion is deployed."""
    champion = aliases.resolve(session, "champion")
    if champion is None:
        return []
    floor = min([default_threshold, *thresholds.values()])
    query = (
        select(
            Media.camera_id,
            PredictionSet.top_class_id,
            epoch_seconds(Media.captured_at),
            literal(1),
            Media.id,
            PredictionSet.top_score,
        )
        .join(PredictionSet, PredictionSet.media_id == Media.id)
        .where(
            PredictionSet.model_version_id == champion,
            PredictionSet.top_class_id.is_not(None),
            PredictionSet.top_score >= floor,
            Media.reviewed.is_(False),
            Media.camera_id.is_not(None),
            Media.captured_at.is_not(None),
            Media.status == "ok",
        )
        .order_by(Media.camera_id, Media.captured_at)
    )
    query = _window(query, since, until)
    # The WHERE clause rules out NULLs.
    rows: Iterable[tuple[int, int, int, int, int, float]] = raw_rows(session, query)
    hidden = hidden_media(session, champion, floor)
    return [
        Detection(cam, cls, at, 1)
        for cam, cls, at, _, media_id, score in rows
        if score >= thresholds.get(cls, default_threshold) and media_id not in hidden
    ]


def individual_sightings(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[int, int, int, int]]:
    """Person-confirmed sightings as (camera, individual's class, camera-local epoch seconds,
    individual); suggestions wait for a person and do not count."""
    query = (
        select(
            Media.camera_id,
            Individual.class_id,
            epoch_seconds(Media.captured_at),
            Sighting.individual_id,
        )
        .join(Media, Media.id == Sighting.media_id)
        .join(Individual, Individual.id == Sighting.individual_id)
        .where(
            Sighting.source == "person",
            Media.camera_id.is_not(None),
            Media.captured_at.is_not(None),
            Media.status == "ok",
        )
    )
    rows = session.execute(_window(query, since, until)).all()
    return [(int(c), int(k), int(t), int(i)) for c, k, t, i in rows if c is not None]


def camera_spans(
    session: Session, since: datetime | None = None, until: datetime | None = None
) -> list[CameraSpan]:
    """Each camera with photos in the window and its first and last photo there: the effort
    behind trap-nights and occupancy. One statement; per camera, two index probes."""
    first = _edge(since, until, last=False)
    last = _edge(since, until, last=True)
    rows = session.execute(
        select(Camera.id, Camera.name, Camera.location, first, last).order_by(Camera.id)
    ).all()
    return [
        CameraSpan(cam_id, name, location or name, _epoch(start), _epoch(end or start))
        for cam_id, name, location, start, end in rows
        if start is not None
    ]


def _edge(since: datetime | None, until: datetime | None, last: bool) -> Any:
    order = Media.captured_at.desc() if last else Media.captured_at.asc()
    query = (
        select(Media.captured_at)
        .where(
            Media.camera_id == Camera.id,
            Media.captured_at.is_not(None),
            Media.status == "ok",
        )
        .order_by(order)
        .limit(1)
    )
    return _window(query, since, until).correlate(Camera).scalar_subquery()


def _epoch(value: datetime | str) -> int:
    # A correlated subquery's column comes back untyped on SQLite: ISO text there.
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return int(when.replace(tzinfo=UTC).timestamp())


def _window(query: Q, since: datetime | None, until: datetime | None) -> Q:
    if since is not None:
        query = query.where(Media.captured_at >= since)
    if until is not None:
        query = query.where(Media.captured_at < until)
    return query
