"""Per-class thresholds and calibration of a head from the windows people reviewed.

The windows used are reviewed windows outside the head's training data (validation and test
splits by default) that the head has scored; windows it has not scored go through the predict
job first. The result (thresholds, score->probability curves, reliability) is written to
``runs/calibration/<version>/`` as JSON with a reliability diagram, and read back by event
exports so "events above threshold" means "events at the target precision".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from wildloop.audio.evaluation import species_of, window_table
from wildloop.audio.thresholds import class_report
from wildloop.errors import BadInput
from wildloop.evaluation import plots
from wildloop.evaluation.evaluator import ensure_predictions
from wildloop.project import Project
from wildloop.registry.versions import get_version
from wildloop.store.tables import LabelRevision, Media, MediaSequence, ModelVersion

DEFAULT_SPLITS = ("val", "test")


@dataclass(frozen=True)
class ReviewedWindow:
    media_id: int
    label_revision_id: int | None
    group: str


def reviewed_windows(project: Project, splits: tuple[str, ...]) -> list[ReviewedWindow]:
    """Reviewed windows of these splits at their current label revision."""
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, LabelRevision.id.label("revision_id"), MediaSequence.key)
            .join(
                LabelRevision,
                (LabelRevision.media_id == Media.id)
                & (LabelRevision.revision == Media.label_revision),
            )
            .outerjoin(MediaSequence, MediaSequence.id == Media.sequence_id)
            .where(
                Media.kind == "window",
                Media.status == "ok",
                Media.reviewed.is_(True),
                Media.split.in_(splits),
            )
            .order_by(Media.id)
        ).all()
    return [ReviewedWindow(r.id, r.revision_id, r.key or f"media/{r.id}") for r in rows]


def calibration_dir(project: Project, version: ModelVersion) -> Path:
    return project.path("runs") / "calibration" / version.name


def calibrate_head(
    project: Project,
    model: str | int = "champion",
    *,
    target_precision: float = 0.9,
    splits: tuple[str, ...] = DEFAULT_SPLITS,
) -> dict[str, Any]:
    """Thresholds for ``target_precision`` and calibration per class; written and returned."""
    if not 0 < target_precision <= 1:
        raise BadInput("the target precision must lie in (0, 1]")
    with project.db.session() as session:
        version = get_version(session, model)
        session.expunge(version)
    if version.task != "audio-head":
        raise BadInput(f"{version.name} is not an audio head")
    windows = reviewed_windows(project, splits)
    if not windows:
        raise BadInput(
            f"no reviewed windows in the {', '.join(splits)} split(s) yet: review some first"
        )
    ensure_predictions(project, version.id, [w.media_id for w in windows])
    table = window_table(project, windows, version)
    classes = species_of(version)
    per_class = class_report(
        classes,
        table.truth,
        table.scores,
        target_precision,
        project.config.evaluation.calibration_bins,
    )
    folder = calibration_dir(project, version)
    folder.mkdir(parents=True, exist_ok=True)
    figure = plots.reliability(
        {
            name: {"calibration": {"bins": values["reliability"], "ece": values["ece"]}}
            for name, values in per_class.items()
            if values["threshold"]["positives"]
        },
        folder / "reliability.png",
    )
    result = {
        "model": version.name,
        "model_version_id": version.id,
        "target_precision": target_precision,
        "splits": list(splits),
        "windows": len(windows),
        "classes": per_class,
        "figures": {"reliability": str(figure)},
    }
    (folder / "calibration.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


def stored_thresholds(project: Project, version: ModelVersion) -> dict[str, float]:
    """Thresholds from the version's last calibration (empty if it was never calibrated)."""
    path = calibration_dir(project, version) / "calibration.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: float(values["threshold"]["threshold"])
        for name, values in data["classes"].items()
        if values["threshold"]["threshold"] is not None
    }
