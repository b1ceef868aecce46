"""Rules that turn detections into the numbers camera-trap studies report.

A detection is one photo of one class at one camera at one camera-local time (seconds since
1970 on the camera's corrected clock, read as if it were UTC, so hour 6 is 06:00 where the
camera stood). Independent events, diel activity, trap-nights, detection rates and naive
occupancy are computed from such tuples alone, so the same rules serve labels and
predictions and can be checked by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

DAY = 86_400
HOURS = 24


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"  # weeks start on Monday (ISO)
    MONTH = "month"
    YEAR = "year"


class Detection(NamedTuple):
    """A tuple, not a dataclass: a million of them are read straight from database rows."""

    camera: int
    class_id: int
    at: int  # camera-local seconds since 1970-01-01T00:00
    predicted: int = 0  # 1 when from a model above its threshold, not a person
    boxes: int = 1  # boxes of the class in the photo (animals seen at once)


class Event(NamedTuple):
    """Detections of one class at one camera with no gap longer than the interval; a tuple
    so that events sort by camera, class and start with no key function."""

    camera: int
    class_id: int
    start: int
    end: int
    media: int
    predicted: int  # how many of the media came from predictions
    animals: int = 1  # the most boxes of the class in any one photo of the event


def independent_events(detections: Iterable[Detection], interval_s: int) -> list[Event]:
    """Group detections into independent events: a detection opens a new event when more
    than ``interval_s`` seconds passed since the previous detection of the same class at the
    same camera (the usual 30-minute rule between consecutive photos).

    Detections must come grouped by camera and in time order within each (camera, class) -
    the index order the queries read - and input out of that order raises ValueError rather
    than miscounting."""
    if interval_s < 0:
        raise ValueError("the independence interval cannot be negative")
    # Rows come camera by camera: open events are kept per class of the current camera only
    # (int keys, no tuple per row) and closed when the camera changes.
    open_events: dict[int, list[int]] = {}
    events: list[Event] = []
    seen_cameras: set[int] = set()
    current_camera: int | None = None
    for camera, class_id, at, predicted, count in detections:
        if camera != current_camera:
            if camera in seen_cameras:
                raise ValueError(f"detections of camera {camera} are not grouped by camera")
            events += _closed(current_camera, open_events)
            open_events = {}
            seen_cameras.add(camera)
            current_camera = camera
        current = open_events.get(class_id)
        if current is None:
            open_events[class_id] = [at, at, 1, predicted, count]
        elif at - current[1] > interval_s:
            events.append(Event(camera, class_id, *current))
            open_events[class_id] = [at, at, 1, predicted, count]
        elif at < current[1]:
            raise ValueError(f"detections of camera {camera} are not in time order")
        else:
            current[1] = at
            current[2] += 1
            current[3] += predicted
            if count > current[4]:
                current[4] = count
    events += _closed(current_camera, open_events)
    events.sort()
    return events


def sequence_events(detections: Iterable[Sequence[int]]) -> list[Event]:
    """Group detections by sequence instead: one event per class per sequence (a burst of one
    camera, as the review's event view shows it), counting the most boxes of the class in any
    one photo. Each detection is (camera, class, time, predicted, boxes, media, sequence); a
    photo with no sequence carries a sequence of its own. Any order."""
    grouped: dict[tuple[int, int], list[int]] = {}
    for camera, class_id, at, predicted, count, _, sequence in detections:
        state = grouped.get((sequence, class_id))
        if state is None:
            grouped[(sequence, class_id)] = [camera, at, at, 1, predicted, count]
            continue
        state[1] = min(state[1], at)
        state[2] = max(state[2], at)
        state[3] += 1
        state[4] += predicted
        state[5] = max(state[5], count)
    return sorted(Event(s[0], class_id, *s[1:]) for (_, class_id), s in grouped.items())


def _closed(camera: int | None, open_events: dict[int, list[int]]) -> list[Event]:
    if camera is None:
        return []
    return [Event(camera, class_id, *state) for class_id, state in open_events.items()]


def diel_histogram(times: Iterable[int]) -> list[int]:
    """How many of ``times`` fall in each hour of the camera-local day (index 0 = 00:00)."""
    bins = [0] * HOURS
    for t in times:
        bins[(t % DAY) // 3600] += 1
    return bins


def period_start(t: int, period: Period) -> date:
    """The first day of the period holding camera-local time ``t``."""
    day = _date(t)
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def periods_between(first: int, last: int, period: Period) -> list[date]:
    """Every period from the one holding ``first`` to the one holding ``last``, in order."""
    out: list[date] = []
    t = first
    end = period_start(last, period)
    while (p := period_start(t, period)) <= end:
        out.append(p)
        t = _after(p, period)
    return out


def _after(start: date, period: Period) -> int:
    """Seconds at the first day of the period after the one starting on ``start``."""
    if period is Period.DAY:
        nxt = start + timedelta(days=1)
    elif period is Period.WEEK:
        nxt = start + timedelta(days=7)
    elif period is Period.MONTH:
        nxt = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    else:
        nxt = date(start.year + 1, 1, 1)
    return (nxt - date(1970, 1, 1)).days * DAY


def _date(t: int) -> date:
    return datetime.fromtimestamp(t, UTC).date()


def trap_nights(first: int, last: int) -> int:
    """Nights a camera ran, taking it as working from its first to its last photo: the
    midnights between the two, and 1 for a camera whose photos all fall on one day."""
    if last < first:
        raise ValueError("a camera's last photo cannot come before its first")
    return max(1, last // DAY - first // DAY)


def rate_per_100(events: int, nights: int) -> float:
    """Independent events per 100 trap-nights (the relative abundance index)."""
    return 100.0 * events / nights if nights else 0.0


@dataclass(frozen=True)
class Occupancy:
    class_id: int
    period: date
    sites_detected: int
    sites_surveyed: int

    @property
    def naive(self) -> float:
        """The share of surveyed sites where the class was seen (no detectability model)."""
        return self.sites_detected / self.sites_surveyed if self.sites_surveyed else 0.0


def naive_occupancy(
    detected: Iterable[tuple[int, str, date]],
    surveyed: Mapping[str, set[date]],
    classes: Iterable[int],
) -> list[Occupancy]:
    """For each class and each surveyed period: sites with the class over sites surveyed.

    ``detected`` holds (class, site, period) triples. A detection at a site not surveyed in
    that period still counts the site as surveyed, so the share never exceeds 1."""
    seen: dict[tuple[int, date], set[str]] = defaultdict(set)
    for class_id, site, period in detected:
        seen[(class_id, period)].add(site)
    sites_in: dict[date, set[str]] = defaultdict(set)
    for site, periods in surveyed.items():
        for p in periods:
            sites_in[p].add(site)
    all_periods = sorted(set(sites_in) | {p for _, p in seen})
    out = []
    for class_id in sorted(set(classes) | {c for c, _ in seen}):
        for period in all_periods:
            sites = seen.get((class_id, period), set())
            out.append(Occupancy(class_id, period, len(sites), len(sites | sites_in[period])))
    return out
