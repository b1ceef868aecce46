"""A CSV per event: for each burst (sequence) in the snapshot and each class a person
labelled in it, the event's count (the most boxes of that class in any one frame).

The per-event view of ``corrections.csv`` (``wildloop export -f csv --per event``): one row
per (event, class), and one row with an empty class and count 0 for an event whose
human-labelled frames show no animal. Frames without a human label (pseudo-labelled items)
are counted in ``frames`` but never in a count.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

from wildloop.datasets.exporters.context import ExportContext
from wildloop.datasets.snapshots import SnapshotEntry
from wildloop.domain.events import event_counts

COLUMNS = (
    "event",
    "camera",
    "split",
    "start",
    "end",
    "frames",
    "labelled_frames",
    "class",
    "count",
)


def export_event_counts(ctx: ExportContext) -> list[Path]:
    events: dict[str, list[SnapshotEntry]] = defaultdict(list)
    for entry in ctx.data.entries:
        events[entry.group].append(entry)
    name_of = ctx.data.classes.name_of
    path = ctx.out / "events.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for group in sorted(events):
            frames = events[group]
            labelled = [e for e in frames if not e.pseudo]
            times = [e.captured_at for e in frames if e.captured_at is not None]
            base = {
                "event": group,
                "camera": frames[0].camera or "",
                "split": frames[0].split,
                "start": min(times).isoformat() if times else "",
                "end": max(times).isoformat() if times else "",
                "frames": len(frames),
                "labelled_frames": len(labelled),
            }
            if not labelled:
                continue
            counts = event_counts([name_of(t.class_id) for t in e.targets] for e in labelled)
            for name, count in counts.items() or [("", 0)]:
                writer.writerow(base | {"class": name, "count": count})
    return [path]
