"""Bar geometry for the analytics page's inline SVG charts: numbers in, rectangles out.

Kept apart from the template so the arithmetic (scales, gaps, labels) is plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

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
        _bars(name, [(f"{h:02d}:00", n) for h, n in enumerate(bins)])
        for name, bins in report.diel.items()
    ]
    per_period: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in report.counts:
        per_period[row["class"]][row["period"]] += row["media"]
    counts = [_bars(name, sorted(periods.items())) for name, periods in sorted(per_period.items())]
    return {"diel": diel, "counts": counts}


def _bars(title: str, values: list[tuple[str, int]]) -> Chart:
    peak = max((v for _, v in values), default=0)
    step = WIDTH / max(len(values), 1)
    bars = []
    for i, (label, value) in enumerate(values):
        h = HEIGHT * value / peak if peak else 0.0
        bars.append(Bar(i * step + 1, HEIGHT - h, max(step - 2, 1), h, label, value))
    first = values[0][0] if values else ""
    last = values[-1][0] if values else ""
    return Chart(title, bars, peak, first, last)
