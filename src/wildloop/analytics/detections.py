"""Reading detections and camera effort from the database.

A detection is one class in one reviewed photo (a photo with a deer and a boar is one of
each), with its boxes of that class. ``labelled_rows`` reads them from the labels themselves
(the exact path, and what ``analytics.maintained`` stores); ``maintained_detections`` reads
the stored copy. Capture times are turned into integers by the database, so Python handles
a few integers per row and never a datetime. Capture times are already
corrected for camera clock offsets (``media.cameras`` shifts them when an offset changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Select, func, literal, select
from sqlalchemy.orm import Session

from wildloop.domain.activity import Detection
from wildloop.registry import aliases
from wildloop.review.hidden_regions import hidden_media
from wildloop.store.epoch import epoch_seconds
from wildloop.store.raw_read import raw_rows
from wildloop.store.tables import (
    AnalyticsDetection,
    Camera,
    Individual,
    Media,
    PredictionSet,
    Sighting,
)
from wildloop.tallies.labelled import labelled_rows

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
    """Every class in every reviewed photo, from the labels (the exact path), as detections
    in camera-time order."""
    return [Detection(*r[:5]) for r in labelled_rows(session, since, until)]


def maintained_detections(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    with_sequence: bool = False,
) -> list[tuple[int, ...]]:
    """The same detections from ``analytics_detections`` (kept on save), in camera, class and
    time order: one index, no join, unless the sequences are asked for."""
    d = AnalyticsDetection
    columns: list[Any] = [d.camera_id, d.class_id, d.at, literal(0), d.boxes]
    query = select(*columns).order_by(d.camera_id, d.class_id, d.at)
    if with_sequence:
        query = query.add_columns(d.media_id, func.coalesce(Media.sequence_id, -Media.id)).join(
            Media, Media.id == d.media_id
        )
    if since is not None:
        query = query.where(d.at >= _seconds(since))
    if until is not None:
        query = query.where(d.at < _seconds(until))
    return raw_rows(session, query)


def _seconds(when: datetime) -> int:
    return int(when.replace(tzinfo=UTC).timestamp())


def predicted_detections(
    session: Session,
    thresholds: Mapping[int, float],
    default_threshold: float,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[tuple[int, int, int, int, int, int, int]]:
    """Unreviewed items whose champion's top class scores at least its class threshold,
    marked as predicted, in camera-time order, as (camera, class, time, 1, 1, media id,
    sequence) like ``labelled_rows``; items whose boxes all lie in a false-positive
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
            func.coalesce(Media.sequence_id, -Media.id),
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
    rows: Iterable[tuple[int, int, int, int, int, float, int]] = raw_rows(session, query)
    hidden = hidden_media(session, champion, floor)
    return [
        (cam, cls, at, 1, 1, media_id, sequence)
        for cam, cls, at, _, media_id, score, sequence in rows
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
