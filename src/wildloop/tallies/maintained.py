"""Analytics kept up to date as labels are saved, so the report reads sums, not photos.

Four tables follow the labels (``store.tables``): ``analytics_detections`` (each class in
each reviewed photo, with its boxes), ``analytics_events`` (independent events at the
default 30-minute interval), ``analytics_days`` (per camera, class and camera-local day:
detections, events started, their animals) and ``analytics_diel`` (per camera, class and
hour of the day: events started). ``review.labels.save_labels`` calls
``refresh`` for every save (undo, batch actions and imports go through it), a camera's clock
offset change rebuilds that camera, and ``rebuild`` fills everything from the labels.

A change of detections at times t1..tn of one camera's class can only touch the events that
overlap [t1 - interval, tn + interval]: those are deleted and the detections they span are
grouped again; events further away keep a gap longer than the interval to every change.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from wildloop.domain.activity import DAY, Detection, Event, independent_events
from wildloop.store.bulk import lock_row
from wildloop.store.tables import (
    AnalyticsDay,
    AnalyticsDetection,
    AnalyticsDiel,
    AnalyticsEvent,
    AnalyticsState,
    Camera,
)
from wildloop.tallies.labelled import labelled_rows

INTERVAL_MINUTES = 30
INTERVAL_S = INTERVAL_MINUTES * 60
DEFERRED = "wildloop.analytics.deferred"
_CHUNK = 500

# (media id, camera, class, time, boxes)
Row = tuple[int, int, int, int, int]
HourKey = tuple[int, int, int, int]  # camera, class, day, hour


def is_built(session: Session, *, lock: bool = False) -> bool:
    """Whether the tables hold every label (else the report computes from the labels).
    ``lock`` (a save's refresh) shares the state row, so it waits for a full rebuild in
    flight and then sees it built, rather than slip between the rebuild's read and commit."""
    query = select(AnalyticsState.built).where(AnalyticsState.id == 1)
    if lock:
        query = query.with_for_update(read=True)
    return bool(session.scalar(query))


def refresh(session: Session, media_ids: Collection[int]) -> None:
    """Bring the tables in line with the current labels of ``media_ids``, in the caller's
    transaction. Inside ``deferred`` the ids are collected and refreshed together at the end."""
    pending: set[int] | None = session.info.get(DEFERRED)
    if pending is not None:
        pending.update(media_ids)
        return
    if media_ids and is_built(session, lock=True):
        _refresh(session, sorted(media_ids))


@contextmanager
def deferred(session: Session) -> Iterator[None]:
    """Refresh every item saved inside the block once, at its end: an import of thousands
    regroups each touched stretch of a camera's series once, not once per photo."""
    if DEFERRED in session.info:
        yield
        return
    session.info[DEFERRED] = set()
    try:
        yield
    finally:
        pending: set[int] = session.info.pop(DEFERRED)
    refresh(session, pending)


def rebuild(session: Session, camera_ids: Collection[int] | None = None) -> int:
    """Fill the tables from the labels: for ``camera_ids`` only (a changed clock offset), or
    for every camera, which marks the tables built. Returns the detections stored."""
    if camera_ids is not None and not is_built(session):
        return 0
    if camera_ids is None:
        lock_row(session, AnalyticsState, 1)  # saves wait, then refresh what they changed
    _lock(session, camera_ids)
    for table in (AnalyticsDetection, AnalyticsEvent, AnalyticsDay, AnalyticsDiel):
        statement = delete(table)
        if camera_ids is not None:
            statement = statement.where(table.camera_id.in_(camera_ids))
        session.execute(statement)
    rows = labelled_rows(session, camera_ids=camera_ids)
    stored = [(r[5], r[0], r[1], r[2], r[4]) for r in rows]
    _insert_detections(session, stored)
    ordered = sorted(Detection(*r[:5]) for r in rows)
    events = independent_events(ordered, INTERVAL_S)
    hours: dict[HourKey, list[int]] = defaultdict(lambda: [0, 0, 0])
    for _, cam, cls, at, _ in stored:
        hours[_hour_key(cam, cls, at)][0] += 1
    _insert_events(session, events, hours, sign=1)
    days: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    diel: Counter[tuple[int, int, int]] = Counter()
    for (cam, cls, day, hour), (media, started, animals) in hours.items():
        cell = days[(cam, cls, day)]
        cell[0] += media
        cell[1] += started
        cell[2] += animals
        if started:
            diel[(cam, cls, hour)] += started
    if days:
        session.execute(
            insert(AnalyticsDay),
            [
                {"camera_id": k[0], "class_id": k[1], "day": k[2]}
                | {"media": v[0], "events": v[1], "animals": v[2]}
                for k, v in days.items()
            ],
        )
    if diel:
        session.execute(
            insert(AnalyticsDiel),
            [
                {"camera_id": k[0], "class_id": k[1], "hour": k[2], "events": n}
                for k, n in diel.items()
            ],
        )
    if camera_ids is None:
        _mark_built(session)
    return len(stored)


def _mark_built(session: Session) -> None:
    done = session.execute(
        update(AnalyticsState).where(AnalyticsState.id == 1).values(built=True)
    ).rowcount  # type: ignore[attr-defined]
    if not done:
        session.add(AnalyticsState(id=1, built=True))
        session.flush()


def _lock(session: Session, camera_ids: Collection[int] | None) -> None:
    """Take the cameras' rows (PostgreSQL; SQLite has one writer): two saves at one camera
    regroup its events one after the other, each seeing the other's committed rows."""
    query = select(Camera.id).order_by(Camera.id).with_for_update()
    if camera_ids is not None:
        query = query.where(Camera.id.in_(sorted(camera_ids)))
    session.execute(query).all()


def _refresh(session: Session, media_ids: Sequence[int]) -> None:
    new: set[Row] = set()
    old: set[Row] = set()
    d = AnalyticsDetection
    cameras: set[int] = set()
    for start in range(0, len(media_ids), _CHUNK):
        chunk = media_ids[start : start + _CHUNK]
        new.update((r[5], r[0], r[1], r[2], r[4]) for r in labelled_rows(session, media_ids=chunk))
        cameras.update(session.scalars(select(d.camera_id).where(d.media_id.in_(chunk))))
    cameras.update(row[1] for row in new)
    _lock(session, cameras)
    for start in range(0, len(media_ids), _CHUNK):
        chunk = media_ids[start : start + _CHUNK]
        old.update(
            session.execute(
                select(d.media_id, d.camera_id, d.class_id, d.at, d.boxes).where(
                    d.media_id.in_(chunk)
                )
            )
        )
    gone, added = old - new, new - old
    if not gone and not added:
        return
    # Rewrite the items' rows whole: a delete by media id walks the primary key (a delete by
    # (media, class) pairs would scan the table on SQLite).
    changed_items = sorted({row[0] for row in gone | added})
    for start in range(0, len(changed_items), _CHUNK):
        session.execute(delete(d).where(d.media_id.in_(changed_items[start : start + _CHUNK])))
    rewritten = set(changed_items)
    _insert_detections(session, sorted(row for row in new if row[0] in rewritten))
    hours: dict[HourKey, list[int]] = defaultdict(lambda: [0, 0, 0])
    changed: dict[tuple[int, int], list[int]] = defaultdict(list)
    for rows, sign in ((gone, -1), (added, 1)):
        for _, cam, cls, at, _ in rows:
            hours[_hour_key(cam, cls, at)][0] += sign
            changed[(cam, cls)].append(at)
    for (cam, cls), times in changed.items():
        _regroup(session, cam, cls, min(times) - INTERVAL_S, max(times) + INTERVAL_S, hours)
    _apply_hours(session, hours)


def _regroup(
    session: Session, cam: int, cls: int, low: int, high: int, hours: dict[HourKey, list[int]]
) -> None:
    """Group again the detections of events overlapping [low, high] (and any new ones)."""
    e = AnalyticsEvent
    series = (e.camera_id == cam, e.class_id == cls)
    # Events of a series do not overlap, so start order is end order: the overlapping ones
    # begin with the last event starting at or before ``low`` (if it reaches it).
    before = session.scalar(select(func.max(e.started)).where(*series, e.started <= low))
    first = before if before is not None else low
    touched = [
        ev
        for ev in session.execute(
            select(e.id, e.started, e.ended, e.media, e.animals).where(
                *series, e.started >= first, e.started <= high
            )
        ).all()
        if ev.ended >= low
    ]
    lo = min([low + INTERVAL_S, *(ev.started for ev in touched)])
    hi = max([high - INTERVAL_S, *(ev.ended for ev in touched)])
    if touched:
        session.execute(delete(e).where(e.id.in_([ev.id for ev in touched])))
    for ev in touched:
        cell = hours[_hour_key(cam, cls, ev.started)]
        cell[1] -= 1
        cell[2] -= ev.animals
    d = AnalyticsDetection
    rows = session.execute(
        select(d.at, d.boxes)
        .where(d.camera_id == cam, d.class_id == cls, d.at >= lo, d.at <= hi)
        .order_by(d.at)
    ).all()
    events = independent_events([Detection(cam, cls, at, 0, n) for at, n in rows], INTERVAL_S)
    _insert_events(session, events, hours, sign=1)


def _insert_events(
    session: Session, events: list[Event], hours: dict[HourKey, list[int]], sign: int
) -> None:
    if events:
        session.execute(
            insert(AnalyticsEvent),
            [
                {"camera_id": ev.camera, "class_id": ev.class_id, "started": ev.start}
                | {"ended": ev.end, "media": ev.media, "animals": ev.animals}
                for ev in events
            ],
        )
    for ev in events:
        cell = hours[_hour_key(ev.camera, ev.class_id, ev.start)]
        cell[1] += sign
        cell[2] += sign * ev.animals


def _insert_detections(session: Session, rows: Sequence[Row]) -> None:
    if rows:
        session.execute(
            insert(AnalyticsDetection),
            [
                {"media_id": m, "camera_id": cam, "class_id": cls, "at": at, "boxes": n}
                for m, cam, cls, at, n in rows
            ],
        )


def _apply_hours(session: Session, deltas: dict[HourKey, list[int]]) -> None:
    """Fold hourly deltas into the daily sums (detections, events, animals) and the diel
    sums (events by hour), and add them."""
    days: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    diel: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0])
    for (cam, cls, day, hour), (dm, de, da) in deltas.items():
        cell = days[(cam, cls, day)]
        cell[0] += dm
        cell[1] += de
        cell[2] += da
        diel[(cam, cls, hour)][0] += de
    _apply(session, AnalyticsDay, "day", ("media", "events", "animals"), days)
    _apply(session, AnalyticsDiel, "hour", ("events",), diel)
    session.flush()


def _apply(
    session: Session,
    table: type[AnalyticsDay] | type[AnalyticsDiel],
    third: str,
    names: tuple[str, ...],
    deltas: dict[tuple[int, int, int], list[int]],
) -> None:
    """Add deltas to sums keyed by (camera, class, ``third``); a sum that falls to nothing
    is deleted. Existing sums are read per camera and class through the primary key."""
    deltas = {k: v for k, v in deltas.items() if any(v)}
    wanted: dict[tuple[int, int], set[int]] = defaultdict(set)
    for cam, cls, k in deltas:
        wanted[(cam, cls)].add(k)
    column = getattr(table, third)
    values = [getattr(table, n) for n in names]
    have: dict[tuple[int, int, int], list[int]] = {}
    for (cam, cls), keys in wanted.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), _CHUNK):
            for k, *sums in session.execute(
                select(column, *values).where(
                    table.camera_id == cam,
                    table.class_id == cls,
                    column.in_(ordered[start : start + _CHUNK]),
                )
            ):
                have[(cam, cls, k)] = list(sums)
    for key, delta in deltas.items():
        cam, cls, k = key
        now = [a + b for a, b in zip(have.get(key, [0] * len(names)), delta, strict=True)]
        where = (table.camera_id == cam, table.class_id == cls, column == k)
        if key not in have:
            session.execute(
                insert(table).values(
                    {"camera_id": cam, "class_id": cls, third: k}
                    | dict(zip(names, now, strict=True))
                )
            )
        elif not any(now):
            session.execute(delete(table).where(*where))
        else:
            session.execute(update(table).where(*where).values(dict(zip(names, now, strict=True))))


def _hour_key(cam: int, cls: int, at: int) -> HourKey:
    return cam, cls, at // DAY, at % DAY // 3600
