"""The settings a prediction set was made with, beyond the model version itself.

Location priors, sequence smoothing, the store thresholds and a pipeline's hand-off all
change what a model's predictions say; two sets of one version made under different settings
are different answers. A predict job fixes these settings when it is submitted (its chunks
all apply the same ones, even if the project's configuration changes meanwhile), and every
set it writes points to one ``prediction_settings`` row holding them, stored once per
distinct value.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.config import ProjectConfig
from wildloop.domain.model_kinds import PIPELINE
from wildloop.store.bulk import insert_or_skip
from wildloop.store.tables import ModelVersion, PredictionSet, PredictionSettings
from wildloop.store.types import utcnow


def settings_for(config: ProjectConfig, version: ModelVersion) -> dict[str, Any]:
    """The output-shaping settings a job running ``version`` would apply now."""
    settings: dict[str, Any] = {
        "priors": {"mode": config.priors.mode, "factor": config.priors.factor},
        "smoothing": {"enabled": config.smoothing.enabled, "weak": config.smoothing.weak},
        "thresholds": {
            "store": config.thresholds.store,
            "store_test": config.thresholds.store_test,
        },
        "inference": {"iou": config.inference.iou, "max_det": config.inference.max_det},
    }
    if version.task == PIPELINE:
        settings["pipeline"] = {
            "min_box_score": float(version.params.get("min_box_score", 0.0)),
            "handoff": sorted(version.params.get("handoff") or []),
        }
    return settings


def settings_row(session: Session, settings: dict[str, Any]) -> int:
    """The id of the row holding ``settings`` (inserted the first time they are used)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    session.execute(
        insert_or_skip(session, PredictionSettings, ["digest"]).values(
            digest=digest, settings=settings, created_at=utcnow()
        )
    )
    found = session.scalar(select(PredictionSettings.id).where(PredictionSettings.digest == digest))
    assert found is not None
    return found


def describe(settings: dict[str, Any] | None) -> str:
    """One line a person reads: "priors hard, smoothing off, store 0.10"."""
    if not settings:
        return "not recorded (made before settings were recorded, or imported)"
    priors = settings["priors"]
    smoothing = settings["smoothing"]
    parts = [
        "priors "
        + (priors["mode"] + (f" x{priors['factor']:g}" if priors["mode"] == "soft" else "")),
        "smoothing " + (f"on (weak < {smoothing['weak']:g})" if smoothing["enabled"] else "off"),
        f"store {settings['thresholds']['store']:g}",
    ]
    if settings.get("pipeline"):
        pipeline = settings["pipeline"]
        handed = ", ".join(pipeline["handoff"]) or "none"
        parts.append(f"hand-off from {pipeline['min_box_score']:g} ({handed})")
    return ", ".join(parts)


def settings_of_version(session: Session, version_id: int) -> list[dict[str, Any]]:
    """Each distinct settings value the version's prediction sets were made under, with how
    many sets (None: sets without recorded settings), most used first."""
    counts = session.execute(
        select(PredictionSet.settings_id, func.count())
        .where(PredictionSet.model_version_id == version_id)
        .group_by(PredictionSet.settings_id)
    ).all()
    ids = [sid for sid, _ in counts if sid is not None]
    values: dict[int, dict[str, Any]] = dict(
        session.execute(
            select(PredictionSettings.id, PredictionSettings.settings).where(
                PredictionSettings.id.in_(ids)
            )
        ).all()
    )
    out = [
        {
            "settings_id": sid,
            "sets": int(n),
            "settings": values.get(sid) if sid is not None else None,
            "described": describe(values.get(sid) if sid is not None else None),
        }
        for sid, n in counts
    ]
    return sorted(out, key=lambda r: -r["sets"])
