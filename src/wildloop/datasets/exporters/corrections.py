"""A CSV of what the model said and what the person said, who said it, and when.

One row per label box of every human-labelled item in the snapshot (and one per item marked
empty), with the prediction the box corrected when there was one. ``kind`` sorts rows into
confirmed, relabelled, moved, missed (the model saw nothing), false_positive, invalid, drawn
and empty, so a reviewer can filter for the mistakes that matter.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from wildloop.datasets.exporters.context import ExportContext
from wildloop.domain.boxes import Box
from wildloop.domain.paths import readable_path
from wildloop.store.tables import LabelBox, LabelRevision, ModelVersion, Prediction, PredictionSet

COLUMNS = (
    "media_id",
    "file",
    "split",
    "sequence",
    "revision_id",
    "reviewer",
    "reviewed_at",
    "kind",
    "model_version",
    "model_class",
    "model_score",
    "model_box",
    "human_class",
    "human_box",
    "invalid_reason",
    "note",
)
# A corrected box this close to the model's box counts as the same place.
SAME_PLACE_IOU = 0.9
CHUNK = 500


def export_corrections(ctx: ExportContext) -> list[Path]:
    path = ctx.out / "corrections.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in correction_rows(ctx):
            writer.writerow(row)
    return [path]


def correction_rows(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    entries = {e.label_revision_id: e for e in ctx.data.entries if e.label_revision_id}
    classes = ctx.data.classes
    ids = sorted(entries)
    with ctx.project.db.session() as session:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            revisions = {
                r.id: r
                for r in session.scalars(select(LabelRevision).where(LabelRevision.id.in_(chunk)))
            }
            predictions = _corrected_predictions(session, revisions.values())
            for revision_id in chunk:
                revision, entry = revisions[revision_id], entries[revision_id]
                base = {
                    "media_id": entry.media_id,
                    "file": readable_path(entry.path),
                    "split": entry.split,
                    "sequence": entry.group,
                    "revision_id": revision_id,
                    "reviewer": entry.labelled_by,
                    "reviewed_at": entry.labelled_at.isoformat() if entry.labelled_at else "",
                    "note": revision.note or "",
                }
                if revision.empty and not revision.boxes:
                    yield base | {"kind": "empty"}
                for box in revision.boxes:
                    model = predictions.get(box.corrects_prediction_id or -1)
                    yield base | _box_columns(box, model, classes.name_of)


def _corrected_predictions(session: Any, revisions: Any) -> dict[int, tuple[Prediction, str]]:
    ids = [b.corrects_prediction_id for r in revisions for b in r.boxes if b.corrects_prediction_id]
    if not ids:
        return {}
    rows = session.execute(
        select(Prediction, ModelVersion.name)
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .join(ModelVersion, ModelVersion.id == PredictionSet.model_version_id)
        .where(Prediction.id.in_(ids))
    ).all()
    return {p.id: (p, name) for p, name in rows}


def _box_columns(
    box: LabelBox, model: tuple[Prediction, str] | None, name_of: Any
) -> dict[str, Any]:
    human_box = _fmt_box((box.x, box.y, box.w, box.h))
    out: dict[str, Any] = {
        "human_class": name_of(box.class_id) if box.class_id is not None else "",
        "human_box": human_box,
        "invalid_reason": box.invalid_reason or "",
    }
    if model is not None:
        prediction, version = model
        out |= {
            "model_version": version,
            "model_class": prediction.class_name,
            "model_score": f"{prediction.score:.4f}",
            "model_box": _fmt_box((prediction.x, prediction.y, prediction.w, prediction.h)),
        }
    out["kind"] = _kind(box, model[0] if model else None, name_of)
    return out


def _kind(box: LabelBox, prediction: Prediction | None, name_of: Any) -> str:
    if box.false_positive:
        return "false_positive"
    if box.invalid_reason:
        return "invalid"
    if box.missed:
        return "missed"
    if prediction is None:
        return "drawn"
    human_class = name_of(box.class_id) if box.class_id is not None else ""
    if prediction.class_name != human_class:
        return "relabelled"
    if (
        _iou((box.x, box.y, box.w, box.h), (prediction.x, prediction.y, prediction.w, prediction.h))
        < SAME_PLACE_IOU
    ):
        return "moved"
    return "confirmed"


def _iou(a: Sequence[float | None], b: Sequence[float | None]) -> float:
    if None in a or None in b:
        return 0.0
    try:
        return Box(*(float(v or 0) for v in a)).iou(Box.clipped(*(float(v or 0) for v in b)))
    except ValueError:
        return 0.0


def _fmt_box(values: Sequence[float | None]) -> str:
    if None in values:
        return ""
    return " ".join(f"{float(v or 0):.4f}" for v in values)
