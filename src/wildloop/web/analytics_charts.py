"""Bar geometry for the analytics page's inline SVG charts: numbers in, rectangles out.

Kept apart from the template so the arithmetic (scales, gaps, labels) is plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from wildloop.analytics.report import ActivityReport

WIDTH, HEIGHT = 480, 120


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    label: str
    value: int


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    peak: int
    first: str
    last: str


def charts(report: ActivityReport) -> dict[str, list[Chart]]:
    """Per class: events by hour of day, and photos per period (summed over cameras)."""
    diel = [
        bars(name, [(f"{h:02d}:00", n) for h, n in enumerate(bins)])
        for name, bins in report.diel.items()
    ]
    per_period: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in report.counts:
        per_period[row["class"]][row["period"]] += row["media"]
    counts = [bars(name, sorted(periods.items())) for name, periods in sorted(per_period.items())]
    return {"diel": diel, "counts": counts}


# A timeline spanning more days than this counts weeks.
DAILY_UP_TO = 62


def timeline(title: str, times: list[datetime]) -> Chart:
    """Sightings per day (per ISO week, Monday-labelled, beyond ``DAILY_UP_TO`` days) from
    the first to the last, empty periods included so gaps show."""
    days = sorted(t.date() for t in times)
    if not days:
        return bars(title, [])
    weekly = (days[-1] - days[0]).days >= DAILY_UP_TO
    step = timedelta(days=7 if weekly else 1)

    def start(d: date) -> date:
        return d - timedelta(days=d.weekday()) if weekly else d

    counts: dict[date, int] = defaultdict(int)
    for d in days:
        counts[start(d)] += 1
    periods, at = [], start(days[0])
    while at <= days[-1]:
        periods.append((at.isoformat(), counts.get(at, 0)))
        at += step
    return bars(f"{title} per {'week' if weekly else 'day'}", periods)


def bars(title: str, values: list[tuple[str, int]]) -> Chart:
    peak = max((v for _, v in values), default=0)
    step = WIDTH / max(len(values), 1)
    bars = []
    for i, (label, value) in enumerate(values):
        h = HEIGHT * value / peak if peak else 0.0
        bars.append(Bar(i * step + 1, HEIGHT - h, max(step - 2, 1), h, label, value))
    first = values[0][0] if values else ""
    last = values[-1][0] if values else ""
    return Chart(title, bars, peak, first, last)
