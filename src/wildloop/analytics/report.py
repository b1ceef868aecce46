"""The analytics report: counts over time, diel activity, detection rates and naive occupancy.

One read of detections and camera effort (``analytics.detections``), then the pure rules of
``domain.activity``. The same report backs the CLI, the JSON and CSV API and the page.
Predictions count only when asked for (``labels+predictions``), only on unreviewed items, only
above their class threshold, and every figure says how many of its photos were predicted.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from wildloop.analytics.detections import (
    CameraSpan,
    camera_spans,
    individual_sightings,
    labelled_detections,
    predicted_detections,
)
from wildloop.config import ThresholdSettings
from wildloop.domain.activity import (
    DAY,
    Detection,
    Event,
    Period,
    diel_histogram,
    independent_events,
    naive_occupancy,
    period_start,
    periods_between,
    rate_per_100,
    trap_nights,
)
from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput

ALL_CAMERAS = "(all)"


class Source(StrEnum):
    LABELS = "labels"
    LABELS_AND_PREDICTIONS = "labels+predictions"


@dataclass(frozen=True)
class AnalyticsQuery:
    source: Source = Source.LABELS
    interval_minutes: int = 30
    period: Period = Period.MONTH
    since: datetime | None = None  # camera-local, inclusive
    until: datetime | None = None  # camera-local, exclusive

    def __post_init__(self) -> None:
        if not 0 <= self.interval_minutes <= 7 * 24 * 60:
            raise BadInput("the independence interval must be 0..10080 minutes (one week)")
        if self.since and self.until and self.since >= self.until:
            raise BadInput("since must come before until")


@dataclass
class ActivityReport:
    source: str
    interval_minutes: int
    period: str
    media: int = 0
    media_predicted: int = 0
    events: int = 0
    counts: list[dict[str, Any]] = field(default_factory=list)
    diel: dict[str, list[int]] = field(default_factory=dict)
    rates: list[dict[str, Any]] = field(default_factory=list)
    occupancy: list[dict[str, Any]] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)
    individuals: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def csv(self, table: str) -> str:
        """One of the report's tables (counts, diel, rates, occupancy, sites, individuals) as
        CSV text."""
        rows = self._table(table)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=TABLES[table], lineterminator="\n")
        writer.writeheader()  # also for an empty table: a script still sees the columns
        writer.writerows(rows)
        return out.getvalue()

    def _table(self, table: str) -> list[dict[str, Any]]:
        if table == "diel":
            return [
                {"class": name, "hour": hour, "events": n}
                for name, bins in self.diel.items()
                for hour, n in enumerate(bins)
            ]
        if table not in TABLES:
            raise BadInput(f"no table {table!r}; the tables are {', '.join(TABLES)}")
        rows: list[dict[str, Any]] = getattr(self, table)
        return rows


TABLES: dict[str, list[str]] = {
    "counts": ["period", "class", "camera", "media", "media_predicted", "events"],
    "diel": ["class", "hour", "events"],
    "rates": ["class", "camera", "events", "trap_nights", "per_100_trap_nights"],
    "occupancy": ["period", "class", "sites_detected", "sites_surveyed", "naive_occupancy"],
    "sites": ["site", "period", "class", "detected"],
    "individuals": ["period", "class", "site", "individuals", "sightings"],
}


def activity_report(
    session: Session, classes: ClassMap, thresholds: ThresholdSettings, query: AnalyticsQuery
) -> ActivityReport:
    """Compute every figure of the report for the query's window and source."""
    detections = labelled_detections(session, query.since, query.until)
    if query.source is Source.LABELS_AND_PREDICTIONS:
        per_class = {
            classes.id_of(name): t for name, t in thresholds.per_class.items() if name in classes
        }
        predicted = predicted_detections(
            session, per_class, thresholds.default, query.since, query.until
        )
        detections = list(heapq.merge(detections, predicted, key=_camera_time))
    spans = camera_spans(session, query.since, query.until)
    sightings = individual_sightings(session, query.since, query.until)
    return build_report(detections, spans, classes, query, sightings)


def build_report(
    detections: list[Detection],
    spans: list[CameraSpan],
    classes: ClassMap,
    q: AnalyticsQuery,
    sightings: list[tuple[int, int, int, int]] | None = None,
) -> ActivityReport:
    """The report from detections in camera-time order, the cameras' effort and the
    confirmed sightings of individuals (camera, class, time, individual)."""
    events = independent_events(detections, q.interval_minutes * 60)
    report = ActivityReport(str(q.source), q.interval_minutes, str(q.period))
    report.media = len(detections)
    report.media_predicted = sum(p for _, _, _, p in detections)
    report.events = len(events)
    cameras = {s.id: s for s in spans}

    def name(class_id: int) -> str:
        return classes.display_name(class_id) or f"class {class_id}"

    def camera(camera_id: int) -> str:
        span = cameras.get(camera_id)
        return span.name if span else f"camera {camera_id}"

    period_of = _PeriodCache(q.period)
    report.counts = _counts(detections, events, period_of, name, camera)
    by_class: dict[int, list[Event]] = defaultdict(list)
    for e in events:
        by_class[e.class_id].append(e)
    report.diel = {name(c): diel_histogram(e.start for e in by_class[c]) for c in sorted(by_class)}
    report.rates = _rates(events, spans, name)
    surveyed: dict[str, set[date]] = defaultdict(set)
    for s in spans:
        surveyed[s.site].update(periods_between(s.first, s.last, q.period))
    site_of = {s.id: s.site for s in spans}
    seen = {
        (e.class_id, site_of.get(e.camera, camera(e.camera)), period_of(e.start)) for e in events
    }
    report.occupancy = [
        {
            "period": o.period.isoformat(),
            "class": name(o.class_id),
            "sites_detected": o.sites_detected,
            "sites_surveyed": o.sites_surveyed,
            "naive_occupancy": round(o.naive, 4),
        }
        for o in naive_occupancy(seen, surveyed, by_class)
    ]
    report.sites = [
        {
            "site": site,
            "period": p.isoformat(),
            "class": name(c),
            "detected": int((c, site, p) in seen),
        }
        for site in sorted(surveyed)
        for p in sorted(surveyed[site])
        for c in sorted(by_class)
    ]
    report.individuals = _individuals(sightings or [], site_of, period_of, name, camera)
    return report


def _individuals(
    sightings: list[tuple[int, int, int, int]],
    site_of: dict[int, str],
    period_of: _PeriodCache,
    name: Any,
    camera: Any,
) -> list[dict[str, Any]]:
    """Distinct individuals seen per period, class and site, and over all sites."""
    seen: dict[tuple[date, int, str], set[int]] = defaultdict(set)
    photos: Counter[tuple[date, int, str]] = Counter()
    for cam, class_id, at, individual in sightings:
        for site in (site_of.get(cam, camera(cam)), ALL_CAMERAS):
            key = (period_of(at), class_id, site)
            seen[key].add(individual)
            photos[key] += 1
    return [
        {
            "period": p.isoformat(),
            "class": name(c),
            "site": site,
            "individuals": len(ids),
            "sightings": photos[(p, c, site)],
        }
        for (p, c, site), ids in sorted(
            seen.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] == ALL_CAMERAS, kv[0][2])
        )
    ]


def _camera_time(d: Detection) -> tuple[int, int]:
    return d[0], d[2]  # by position: rows from the database are tuples, not Detections


class _PeriodCache:
    """period_start by day number: one date computation per day, not per photo."""

    def __init__(self, period: Period) -> None:
        self.period = period
        self.days: dict[int, date] = {}

    def __call__(self, t: int) -> date:
        day = t // DAY
        found = self.days.get(day)
        if found is None:
            found = self.days[day] = period_start(day * DAY, self.period)
        return found


def _counts(
    detections: list[Detection],
    events: list[Event],
    period_of: _PeriodCache,
    name: Any,
    camera: Any,
) -> list[dict[str, Any]]:
    # Per (camera, class, day) first, with int keys: one cheap update per photo; days fold
    # into periods afterwards.
    per_day: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
    predicted_per_day: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
    for cam, class_id, at, from_model in detections:
        per_day[(cam, class_id)][at // DAY] += 1
        if from_model:
            predicted_per_day[(cam, class_id)][at // DAY] += 1
    media: Counter[tuple[date, int, int]] = Counter()
    predicted: Counter[tuple[date, int, int]] = Counter()
    for (cam, class_id), days in per_day.items():
        for day, n in days.items():
            media[(period_of(day * DAY), class_id, cam)] += n
    for (cam, class_id), days in predicted_per_day.items():
        for day, n in days.items():
            predicted[(period_of(day * DAY), class_id, cam)] += n
    started = Counter((period_of(e.start), e.class_id, e.camera) for e in events)
    return [
        {
            "period": p.isoformat(),
            "class": name(c),
            "camera": camera(cam),
            "media": n,
            "media_predicted": predicted[(p, c, cam)],
            "events": started[(p, c, cam)],
        }
        for (p, c, cam), n in sorted(media.items())
    ]


def _rates(events: list[Event], spans: list[CameraSpan], name: Any) -> list[dict[str, Any]]:
    counts = Counter((e.camera, e.class_id) for e in events)
    class_ids = sorted({c for _, c in counts})
    nights = {s.id: trap_nights(s.first, s.last) for s in spans}
    rows = []
    for c in class_ids:
        for s in spans:
            n = counts[(s.id, c)]
            rows.append(_rate_row(name(c), s.name, n, nights[s.id]))
        total = sum(counts[(s.id, c)] for s in spans)
        rows.append(_rate_row(name(c), ALL_CAMERAS, total, sum(nights.values())))
    return rows


def _rate_row(class_name: str, camera: str, events: int, nights: int) -> dict[str, Any]:
    return {
        "class": class_name,
        "camera": camera,
        "events": events,
        "trap_nights": nights,
        "per_100_trap_nights": round(rate_per_100(events, nights), 4),
    }
