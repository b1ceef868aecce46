"""A per-recording summary of a head's events, in the spirit of MegaDetector's batch JSON.

One JSON document: ``info`` (format, model version, embedder, window settings, thresholds
used) and ``recordings``, each with its file, site, start time, duration and ``events``
(class, start, end, max score, windows, model version). Thresholds come from the version's
calibration when it has one, else ``thresholds.default``; downstream tools read events
without knowing about windows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import select

from wildloop import __version__
from wildloop.atomic import atomic_open
from wildloop.audio.calibrate import stored_thresholds
from wildloop.audio.events import WindowScore, merge_events
from wildloop.domain.paths import readable_text
from wildloop.errors import BadInput
from wildloop.project import Project
from wildloop.registry.versions import get_version
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet
from wildloop.store.types import utcnow

FORMAT = "wildloop-audio-events 1.0"


def recording_summary(project: Project, model: str | int = "champion") -> dict[str, Any]:
    """Events of every recording the head has scored (a scored recording without events
    is listed with none)."""
    with project.db.session() as session:
        version = get_version(session, model)
        if version.task != "audio-head":
            raise BadInput(f"{version.name} is not an audio head")
        version_id, name, params = version.id, version.name, dict(version.params)
        thresholds = stored_thresholds(project, version)
        rows = session.execute(
            select(
                Media.parent_id,
                Media.t_start,
                Media.t_end,
                Prediction.class_name,
                Prediction.score,
            )
            .join(PredictionSet, PredictionSet.media_id == Media.id)
            .outerjoin(Prediction, Prediction.prediction_set_id == PredictionSet.id)
            .where(
                PredictionSet.model_version_id == version_id,
                PredictionSet.status == "ok",
                Media.kind == "window",
            )
        ).all()
        recordings = session.execute(
            select(Media.id, Media.path, Media.duration_s, Media.captured_at, Camera.name)
            .outerjoin(Camera, Camera.id == Media.camera_id)
            .where(Media.kind == "audio", Media.status == "ok")
            .order_by(Media.id)
        ).all()
    default = project.config.thresholds.default
    events = merge_events(
        (
            WindowScore(int(r.parent_id), r.t_start, r.t_end, r.class_name, r.score)
            for r in rows
            if r.class_name is not None  # a window scored with nothing above `store`
        ),
        thresholds,
        default,
    )
    by_recording: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_recording[event.recording_id].append(event.as_dict() | {"model_version": name})
    scored = {int(r.parent_id) for r in rows}
    return {
        "info": {
            "format": FORMAT,
            "created": utcnow().isoformat(),
            "wildloop": __version__,
            "model": name,
            "model_version_id": version_id,
            "embedder": params.get("embedder"),
            "window_s": params.get("window_s"),
            "hop_s": params.get("hop_s"),
            "thresholds": {"default": default, "per_class": thresholds},
        },
        "recordings": [
            {
                "file": readable_text(r.path),
                "recording_id": r.id,
                "site": r.name,
                "started_at": r.captured_at.isoformat() if r.captured_at else None,
                "duration_s": r.duration_s,
                "events": by_recording.get(int(r.id), []),
            }
            for r in recordings
            if int(r.id) in scored
        ],
    }


def export_summary(project: Project, out: Path, model: str | int = "champion") -> dict[str, Any]:
    """Write the summary to ``out`` (atomically) and return counts."""
    summary = recording_summary(project, model)
    with atomic_open(out) as fh:
        fh.write(json.dumps(summary, indent=1).encode("utf-8"))
    return {
        "path": str(out),
        "recordings": len(summary["recordings"]),
        "events": sum(len(r["events"]) for r in summary["recordings"]),
    }
