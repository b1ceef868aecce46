"""Events: consecutive windows above a class's threshold merged into one (start, end, class).

Windows overlap (3 s windows every 1.5 s), so one call lights up several; a listener wants
"katydid from 12.0 to 19.5 s, best score 0.97", not six rows. Windows of one recording and
one class merge while each starts before the previous one ends (plus ``gap_s``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WindowScore:
    recording_id: int
    t_start: float
    t_end: float
    class_name: str
    score: float


@dataclass(frozen=True)
class Event:
    recording_id: int
    class_name: str
    start: float
    end: float
    max_score: float
    windows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "class": self.class_name,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "max_score": round(self.max_score, 4),
            "windows": self.windows,
        }


def merge_events(
    scores: Iterable[WindowScore],
    thresholds: Mapping[str, float],
    default_threshold: float,
    gap_s: float = 0.0,
) -> list[Event]:
    """Events of every recording and class, ordered by recording, start and class."""
    runs: dict[tuple[int, str], list[WindowScore]] = defaultdict(list)
    for s in scores:
        if s.score >= thresholds.get(s.class_name, default_threshold):
            runs[(s.recording_id, s.class_name)].append(s)
    events: list[Event] = []
    for (recording_id, name), hits in runs.items():
        hits.sort(key=lambda s: s.t_start)
        first = hits[0]
        start, end, best, count = first.t_start, first.t_end, first.score, 1
        for s in hits[1:]:
            if s.t_start <= end + gap_s:
                end, best, count = max(end, s.t_end), max(best, s.score), count + 1
                continue
            events.append(Event(recording_id, name, start, end, best, count))
            start, end, best, count = s.t_start, s.t_end, s.score, 1
        events.append(Event(recording_id, name, start, end, best, count))
    events.sort(key=lambda e: (e.recording_id, e.start, e.class_name))
    return events
