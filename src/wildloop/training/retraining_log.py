"""The retraining log: one row per model version, computed from records, never typed in.

The seed kept ``retraining_log.csv`` by hand (date, version, photos added, precision, recall,
mAP50, notes), and its figures drifted from the training records. Here every column comes
from the database: the version's creation, the snapshot it was trained on (items added since
the previous trained version's snapshot), its stored evaluation on the test snapshot, and the
gate decisions in the audit trail. Two-stage projects retrain a detector and a crop
classifier on their own: each row says its ``stage`` (detector, classifier, pipeline, audio
head) and what started its training (``trigger``: manual, loop, reviewed, schedule), and
items added are counted against the previous version of the same stage.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from wildloop.domain.model_kinds import CLASSIFIER, PIPELINE
from wildloop.evaluation import plots
from wildloop.project import Project
from wildloop.store.tables import (
    AuditEntry,
    Evaluation,
    ModelAlias,
    ModelVersion,
    Snapshot,
    SnapshotItem,
)

COLUMNS = (
    "date",
    "version",
    "snapshot",
    "items",
    "items_added",
    "test_snapshot",
    "precision",
    "recall",
    "map50",
    "map50_95",
    "accuracy",
    "macro_f1",
    "stage",
    "trigger",
    "champion",
    "notes",
)
_DECISIONS = {
    "model.gate.pass": "promoted",
    "model.gate.refuse": "refused",
    "model.gate.override": "promoted by override",
}
_STAGES = {CLASSIFIER: "classifier", PIPELINE: "pipeline", "audio-head": "audio head"}


def retraining_log(project: Project) -> list[dict[str, Any]]:
    """Rows in version order; metrics are on the latest test snapshot each version has."""
    with project.db.session() as session:
        versions = list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))
        champion = session.scalar(
            select(ModelAlias.model_version_id).where(ModelAlias.alias == "champion")
        )
        evaluations: dict[int, tuple[Evaluation, str]] = {}
        for evaluation, snap in session.execute(
            select(Evaluation, Snapshot.name)
            .join(Snapshot, Snapshot.id == Evaluation.snapshot_id)
            .order_by(Evaluation.snapshot_id, Evaluation.id)
        ).all():
            evaluations[evaluation.model_version_id] = (evaluation, snap)
        decisions: dict[int, list[str]] = {}
        for entry in session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(tuple(_DECISIONS)), AuditEntry.entity == "model_version")
            .order_by(AuditEntry.id)
        ):
            decisions.setdefault(int(entry.entity_id), []).append(_decision_note(entry))
        sizes = _snapshot_sizes(session, {v.snapshot_id for v in versions if v.snapshot_id})
        added = _items_added(session, versions, sizes)
        snapshot_names = {r.id: r.name for r in session.execute(select(Snapshot.id, Snapshot.name))}
    rows = []
    for v in versions:
        found = evaluations.get(v.id)
        metrics = found[0].metrics if found else {}
        notes = [*decisions.get(v.id, [])]
        if v.notes:
            notes.append(v.notes)
        rows.append(
            {
                "date": v.created_at.strftime("%Y-%m-%d %H:%M"),
                "version": v.name,
                "version_id": v.id,
                "snapshot": snapshot_names.get(v.snapshot_id) if v.snapshot_id else None,
                "items": sizes.get(v.snapshot_id) if v.snapshot_id else None,
                "items_added": added.get(v.id),
                "test_snapshot": found[1] if found else None,
                # Audio heads report macro precision/recall, accuracy and macro-F1 instead.
                "precision": metrics.get("precision", metrics.get("macro_precision")),
                "recall": metrics.get("recall", metrics.get("macro_recall")),
                "map50": metrics.get("map50"),
                "map50_95": metrics.get("map50_95"),
                "accuracy": metrics.get("accuracy"),
                "macro_f1": metrics.get("macro_f1"),
                "stage": stage_name(v.task),
                "trigger": (v.params or {}).get("trigger"),
                "champion": v.id == champion,
                "promoted": any(n.startswith("promoted") for n in decisions.get(v.id, [])),
                "notes": "; ".join(notes),
            }
        )
    return rows


def stage_name(task: str) -> str:
    """The stage a version of this task is, as the log and the triggers name it."""
    return _STAGES.get(task, "detector")


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: (f"{row[k]:.4f}" if isinstance(row.get(k), float) else row.get(k)) for k in COLUMNS}
        )
    return out.getvalue()


def write_chart(project: Project, rows: list[dict[str, Any]], out: Path | None = None) -> Path:
    """The metrics-over-versions chart (evaluated versions only)."""
    target = out or project.path("runs") / "retraining_log.png"
    evaluated = [r for r in rows if r["map50_95"] is not None or r["macro_f1"] is not None]
    return plots.metrics_over_versions(evaluated, target)


def _snapshot_sizes(session: Session, snapshot_ids: set[int]) -> dict[int, int]:
    if not snapshot_ids:
        return {}
    rows = session.execute(
        select(SnapshotItem.snapshot_id, func.count())
        .where(SnapshotItem.snapshot_id.in_(snapshot_ids))
        .group_by(SnapshotItem.snapshot_id)
    )
    return {int(row[0]): int(row[1]) for row in rows}


def _items_added(
    session: Session, versions: list[ModelVersion], sizes: dict[int, int]
) -> dict[int, int]:
    """Per trained version: items of its snapshot that the previous trained version of the
    same stage lacked, counted in the database (snapshots can hold hundreds of thousands)."""
    added: dict[int, int] = {}
    previous: dict[str, int] = {}
    for version in versions:
        snapshot_id, stage = version.snapshot_id, stage_name(version.task)
        if not snapshot_id:
            continue
        before = previous.get(stage)
        if before is None:
            added[version.id] = sizes.get(snapshot_id, 0)
        elif before == snapshot_id:
            added[version.id] = 0
        else:
            earlier = aliased(SnapshotItem)
            query = (
                select(func.count())
                .select_from(SnapshotItem)
                .where(
                    SnapshotItem.snapshot_id == snapshot_id,
                    ~select(earlier.media_id)
                    .where(
                        earlier.snapshot_id == before,
                        earlier.media_id == SnapshotItem.media_id,
                    )
                    .exists(),
                )
            )
            added[version.id] = session.scalar(query) or 0
        previous[stage] = snapshot_id
    return added


def _decision_note(entry: AuditEntry) -> str:
    label = _DECISIONS[entry.action]
    after = entry.after or {}
    reasons = (after.get("decision") or {}).get("reasons") or []
    text = f"{label} ({entry.at:%Y-%m-%d}): {'; '.join(reasons)}"
    if entry.reason:
        text += f" [override reason: {entry.reason}]"
    return text
