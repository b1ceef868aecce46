"""What the Models page and its JSON API show, assembled from the registry, the stored
evaluations, the retraining log and the triggers (each computed by its own service).

Every figure here comes from records: the test metrics of a version are its stored
evaluation on the latest test snapshot it was scored on (as in the retraining log), never a
number typed in or taken from the training run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from wildloop.domain.model_kinds import CLASSIFIER, DEFAULT_MIN_BOX_SCORE, DETECT, PIPELINE
from wildloop.errors import WildloopError
from wildloop.evaluation.parity import latest_parity
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import QUANTIZED, list_versions
from wildloop.store.tables import ModelAlias, ModelVersion, Snapshot
from wildloop.training.retraining_log import retraining_log
from wildloop.training.triggers import check_triggers

METRICS = ("map50", "map50_95", "precision", "recall")


@dataclass(frozen=True)
class ModelsOverview:
    versions: list[dict[str, Any]]
    log: list[dict[str, Any]]
    champion: dict[str, Any] | None
    challenger: dict[str, Any] | None
    rollback_to: dict[str, Any] | None

    @property
    def chart_key(self) -> str | None:
        return chart_key(self.log)

    def as_dict(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "champion": self.champion,
            "challenger": self.challenger,
            "rollback_to": self.rollback_to,
        }


def models_overview(project: Project) -> ModelsOverview:
    """Every version with its aliases and test metrics, newest first, plus the log rows."""
    log = retraining_log(project)
    by_id = {row["version_id"]: row for row in log}
    with project.db.session() as session:
        versions = list_versions(session)
        names: dict[int, str] = {
            r.id: r.name for r in session.execute(select(ModelVersion.id, ModelVersion.name))
        }
        snapshots: dict[int, str] = {
            r.id: r.name for r in session.execute(select(Snapshot.id, Snapshot.name))
        }
        history = aliases.champion_history(session)
        current = aliases.resolve(session, "champion")
        for v in versions:
            if v["source"] == QUANTIZED:
                v["parity"] = latest_parity(session, v["id"])
    for v in versions:
        row = by_id.get(v["id"], {})
        v["parent"] = names.get(v["parent_id"]) if v["parent_id"] else None
        v["snapshot"] = snapshots.get(v["snapshot_id"]) if v["snapshot_id"] else None
        v["test"] = {k: row.get(k) for k in METRICS} | {"snapshot": row.get("test_snapshot")}
    by_alias = {a: v for v in versions for a in v["aliases"]}
    rollback_to = None
    if current is not None and len(history) >= 2 and history[-1] == current:
        rollback_to = {"id": history[-2], "name": names.get(history[-2])}
    return ModelsOverview(
        versions, log, by_alias.get("champion"), by_alias.get("challenger"), rollback_to
    )


def two_stage_view(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """The pipelines (each with its two stages, hand-off score, handed-on and pass-through
    classes, and its classifier's scores on the test split's crops) and the versions a new
    pipeline can pair: runnable detectors and crop classifiers, newest first."""
    by_id = {v["id"]: v for v in versions}
    pipelines = []
    for v in versions:
        if v["task"] != PIPELINE:
            continue
        detector = by_id.get(v["detector_id"]) or {}
        classifier = by_id.get(v["classifier_id"]) or {}
        handoff = v["params"].get("handoff") or []
        pipelines.append(
            {
                "id": v["id"],
                "name": v["name"],
                "aliases": v["aliases"],
                "detector": {"id": v["detector_id"], "name": detector.get("name")},
                "classifier": {"id": v["classifier_id"], "name": classifier.get("name")},
                "min_box_score": v["params"].get("min_box_score"),
                "handoff": handoff,
                "pass_through": [c for c in detector.get("classes") or [] if c not in handoff],
                "crops": (classifier.get("metrics") or {}).get("test") or {},
                "created_at": v["created_at"],
            }
        )
    live = [v for v in versions if not v["retired"]]
    return {
        "pipelines": pipelines,
        "detectors": [v for v in live if v["task"] == DETECT and v["onnx_sha256"]],
        "classifiers": [v for v in live if v["task"] == CLASSIFIER],
        "default_min_box_score": DEFAULT_MIN_BOX_SCORE,
    }


def aliased(project: Project) -> dict[str, dict[str, Any]]:
    """``{"champion": {"id", "name"}, "challenger": ...}`` for the aliases that are set: what
    the comparison panel needs, without the registry's heavier figures."""
    with project.db.session() as session:
        rows = session.execute(
            select(ModelAlias.alias, ModelVersion.id, ModelVersion.name).join(
                ModelVersion, ModelVersion.id == ModelAlias.model_version_id
            )
        ).all()
    return {r.alias: {"id": r.id, "name": r.name} for r in rows}


def triggers_status(project: Project) -> dict[str, Any]:
    """The trigger settings (each with the stage it retrains), what the check says now, and
    how often the server checks."""
    settings = project.config.triggers
    status: dict[str, Any] = settings.model_dump() | {
        "schedule": settings.schedule or None,
        "classifier": None,
        "error": None,
    }
    try:
        status |= check_triggers(project).as_dict()
    except WildloopError as exc:  # a bad cron expression: show it, the page still works
        status["error"] = str(exc)
    return status


def chart_key(rows: list[dict[str, Any]]) -> str | None:
    """A hash of what the metrics chart draws (None when no version is evaluated yet), so
    the PNG is drawn once per change and cached by the browser under its own URL."""
    drawn = [
        [r["version"], r["champion"], r["promoted"], *(r[k] for k in METRICS)]
        for r in rows
        if r["map50_95"] is not None
    ]
    if not drawn:
        return None
    return hashlib.sha256(json.dumps(drawn).encode()).hexdigest()[:16]
