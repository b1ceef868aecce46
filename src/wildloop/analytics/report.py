"""The analytics report: counts over time, diel activity, detection rates and naive occupancy.

One read of detections and camera effort (``analytics.detections``), then the pure rules of
``domain.activity``. The same report backs the CLI, the JSON and CSV API and the page.
Predictions count only when asked for (``labels+predictions``), only on unreviewed items, only
above their class threshold, and every figure says how many of its photos were predicted.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from wildloop.analytics.detections import (
    CameraSpan,
    camera_spans,
    individual_sightings,
    maintained_detections,
    predicted_detections,
)
from wildloop.config import ThresholdSettings
from wildloop.domain.activity import (
    DAY,
    Detection,
    Event,
    Period,
    independent_events,
    naive_occupancy,
    period_start,
    periods_between,
    rate_per_100,
    sequence_events,
    trap_nights,
)
from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput
from wildloop.store.raw_read import raw_rows
from wildloop.store.tables import AnalyticsDay, AnalyticsDiel
from wildloop.tallies import maintained
from wildloop.tallies.labelled import labelled_rows

ALL_CAMERAS = "(all)"


class Source(StrEnum):
    LABELS = "labels"
    LABELS_AND_PREDICTIONS = "labels+predictions"


class Per(StrEnum):
    """What an event is: an independent detection (photos of a class at a camera with no gap
    over the interval) or a sequence (one burst of a camera, as the review's event view)."""

    DETECTION = "detection"
    EVENT = "event"


@dataclass(frozen=True)
class AnalyticsQuery:
    source: Source = Source.LABELS
    interval_minutes: int = 30
    period: Period = Period.MONTH
    since: datetime | None = None  # camera-local, inclusive
    until: datetime | None = None  # camera-local, exclusive
    per: Per = Per.DETECTION

    def __post_init__(self) -> None:
        if not 0 <= self.interval_minutes <= 7 * 24 * 60:
            raise BadInput("the independence interval must be 0..10080 minutes (one week)")
        if self.since and self.until and self.since >= self.until:
            raise BadInput("since must come before until")

    def why_not_maintained(self) -> str | None:
        """Why this query cannot be read from the maintained sums (None: it can)."""
        if self.per is not Per.DETECTION:
            return "events per sequence are grouped on request"
        if self.source is not Source.LABELS:
            return "predictions are not kept in the maintained sums"
        if self.interval_minutes != maintained.INTERVAL_MINUTES:
            return f"the sums are kept at the {maintained.INTERVAL_MINUTES}-minute interval"
        if self.since or self.until:
            return "a window cuts events at its edges"
        return None


@dataclass
class ActivityReport:
    source: str
    interval_minutes: int
    period: str
    per: str = str(Per.DETECTION)
    # "maintained" (sums kept on save) or "exact" (grouped from the photos now), and why.
    computed: str = "exact"
    computed_note: str = ""
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
    "counts": ["period", "class", "camera", "media", "media_predicted", "events", "animals"],
    "diel": ["class", "hour", "events"],
    "rates": ["class", "camera", "events", "trap_nights", "per_100_trap_nights"],
    "occupancy": ["period", "class", "sites_detected", "sites_surveyed", "naive_occupancy"],
    "sites": ["site", "period", "class", "detected"],
    "individuals": ["period", "class", "site", "individuals", "sightings"],
}


@dataclass
class Tally:
    """The sums every table is made of: rows of (camera, class, camera-local day, detections,
    predicted ones, events started, their animals: most boxes in one photo, summed); per
    class the events started in each hour of the day."""

    cells: list[tuple[int, int, int, int, int, int, int]]
    diel: dict[int, list[int]]


def activity_report(
    session: Session,
    classes: ClassMap,
    thresholds: ThresholdSettings,
    query: AnalyticsQuery,
    *,
    exact: bool = False,
) -> ActivityReport:
    """Compute every figure of the report for the query. From the maintained sums when the
    query allows it (labels, 30 minutes, no window, per detection) and they are built;
    otherwise exact from the detections, saying why. ``exact`` reads the labels themselves
    (what the maintained tables are checked against)."""
    built = not exact and maintained.is_built(session)
    why = query.why_not_maintained() if built else "the maintained sums are not built yet"
    if exact:
        why = "asked for the exact path"
    if why is None:
        counted = _maintained_tally(session)
        how, note = "maintained", "sums kept up to date as labels are saved"
    else:
        counted = _exact_tally(session, classes, thresholds, query, from_labels=not built)
        how, note = "exact", why
    spans = camera_spans(session, query.since, query.until)
    sightings = individual_sightings(session, query.since, query.until)
    report = build_report(counted, spans, classes, query, sightings)
    report.computed, report.computed_note = how, note
    return report


def _maintained_tally(session: Session) -> Tally:
    day, diel = AnalyticsDay, AnalyticsDiel
    cells = raw_rows(
        session,
        select(
            day.camera_id, day.class_id, day.day, day.media, literal(0), day.events, day.animals
        ),
    )
    hours: dict[int, list[int]] = {}
    for k, hour, n in raw_rows(
        session,
        select(diel.class_id, diel.hour, func.sum(diel.events)).group_by(diel.class_id, diel.hour),
    ):
        hours.setdefault(k, [0] * 24)[hour] = int(n)
    return Tally(cells, hours)


def _exact_tally(
    session: Session,
    classes: ClassMap,
    thresholds: ThresholdSettings,
    query: AnalyticsQuery,
    from_labels: bool,
) -> Tally:
    per_event = query.per is Per.EVENT
    rows: list[tuple[int, ...]]
    if from_labels:
        rows = list(labelled_rows(session, query.since, query.until))
    else:
        rows = maintained_detections(session, query.since, query.until, with_sequence=per_event)
    if query.source is Source.LABELS_AND_PREDICTIONS:
        per_class = {
            classes.id_of(name): t for name, t in thresholds.per_class.items() if name in classes
        }
        predicted = predicted_detections(
            session, per_class, thresholds.default, query.since, query.until
        )
        rows = sorted([*rows, *predicted], key=_series_time)
    if per_event:
        events = sequence_events(rows)
    else:
        events = independent_events((Detection(*r[:5]) for r in rows), query.interval_minutes * 60)
    return tally(rows, events)


def tally(detections: Iterable[tuple[int, ...]], events: Iterable[Event]) -> Tally:
    """The sums from detections (camera, class, time, predicted, ...) and their events."""
    cells: dict[tuple[int, int, int], list[int]] = {}
    for d in detections:
        key = (d[0], d[1], d[2] // DAY)
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = [0, 0, 0, 0]
        cell[0] += 1
        cell[1] += d[3]
    diel: dict[int, list[int]] = {}
    for e in events:
        cell = cells[(e.camera, e.class_id, e.start // DAY)]
        cell[2] += 1
        cell[3] += e.animals
        diel.setdefault(e.class_id, [0] * 24)[e.start % DAY // 3600] += 1
    return Tally([(*k, *v) for k, v in cells.items()], diel)  # type: ignore[misc]


def build_report(
    counted: Tally,
    spans: list[CameraSpan],
    classes: ClassMap,
    q: AnalyticsQuery,
    sightings: list[tuple[int, int, int, int]] | None = None,
) -> ActivityReport:
    """The report from the sums, the cameras' effort and the confirmed sightings of
    individuals (camera, class, time, individual)."""
    report = ActivityReport(str(q.source), q.interval_minutes, str(q.period), str(q.per))
    cameras = {s.id: s for s in spans}

    def name(class_id: int) -> str:
        return classes.display_name(class_id) or f"class {class_id}"

    def camera(camera_id: int) -> str:
        span = cameras.get(camera_id)
        return span.name if span else f"camera {camera_id}"

    period_of = _PeriodCache(q.period)
    per_period: dict[tuple[date, int, int], list[int]] = {}
    per_camera: Counter[tuple[int, int]] = Counter()
    for cam, class_id, day, media, predicted, events, animals in counted.cells:
        report.media += media
        report.media_predicted += predicted
        report.events += events
        per_camera[(cam, class_id)] += events
        key = (period_of(day * DAY), class_id, cam)
        cell = per_period.get(key)
        if cell is None:
            per_period[key] = [media, predicted, events, animals]
        else:
            for i, n in enumerate((media, predicted, events, animals)):
                cell[i] += n
    report.counts = [
        {
            "period": p.isoformat(),
            "class": name(c),
            "camera": camera(cam),
            "media": n[0],
            "media_predicted": n[1],
            "events": n[2],
            "animals": n[3],
        }
        for (p, c, cam), n in sorted(per_period.items())
        if n[0]
    ]
    with_events = sorted(counted.diel)
    report.diel = {name(c): counted.diel[c] for c in with_events}
    report.rates = _rates(per_camera, spans, name)
    surveyed: dict[str, set[date]] = defaultdict(set)
    for s in spans:
        surveyed[s.site].update(periods_between(s.first, s.last, q.period))
    site_of = {s.id: s.site for s in spans}
    seen = {(c, site_of.get(cam, camera(cam)), p) for (p, c, cam), n in per_period.items() if n[2]}
    report.occupancy = [
        {
            "period": o.period.isoformat(),
            "class": name(o.class_id),
            "sites_detected": o.sites_detected,
            "sites_surveyed": o.sites_surveyed,
            "naive_occupancy": round(o.naive, 4),
        }
        for o in naive_occupancy(seen, surveyed, with_events)
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
        for c in with_events
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


def _series_time(d: tuple[int, ...]) -> tuple[int, int, int]:
    return d[0], d[1], d[2]


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


def _rates(
    events: Counter[tuple[int, int]], spans: list[CameraSpan], name: Any
) -> list[dict[str, Any]]:
    class_ids = sorted({c for (_, c), n in events.items() if n})
    nights = {s.id: trap_nights(s.first, s.last) for s in spans}
    rows = []
    for c in class_ids:
        for s in spans:
            rows.append(_rate_row(name(c), s.name, events[(s.id, c)], nights[s.id]))
        total = sum(events[(s.id, c)] for s in spans)
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
