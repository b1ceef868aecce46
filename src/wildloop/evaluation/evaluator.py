"""The one evaluator: a model version's predictions on a frozen test snapshot, scored and
stored once per (model version, snapshot).

Predictions come from ``prediction_sets`` (written by the one inference pipeline); items of
the snapshot the model has not seen yet are sent through that pipeline first, so champion and
challenger are always scored on exactly the snapshot's items by the same code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from wildloop.datasets.snapshots import SnapshotData, create_snapshot, get_snapshot, load_snapshot
from wildloop.errors import BadInput, JobFailed, NotFound
from wildloop.evaluation.matching import ImageDetections, ImageTruth
from wildloop.evaluation.metrics import Scored, class_thresholds, score
from wildloop.processing.predict_job import predict_items
from wildloop.project import Project
from wildloop.store.bulk import insert_or_skip
from wildloop.store.tables import Evaluation, ModelVersion, Prediction, PredictionSet, Snapshot
from wildloop.store.types import utcnow

CHUNK = 500
UNMAPPED_CLASS = -1

# Runs the inference pipeline for (project, model version id, media ids) and stores the
# prediction sets; the engine provides it (processing.predict_job.predict_items).
Predict = Callable[[Project, int, Sequence[int]], None]


@dataclass(frozen=True)
class EvaluationRecord:
    id: int
    model_version_id: int
    model_name: str
    snapshot_id: int
    snapshot_name: str
    metrics: dict[str, Any]
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model_version_id": self.model_version_id,
            "model": self.model_name,
            "snapshot_id": self.snapshot_id,
            "snapshot": self.snapshot_name,
            "created_at": self.created_at.isoformat(),
            "metrics": self.metrics,
        }


def test_snapshot(project: Project, ref: int | str | None = None) -> SnapshotData:
    """The named test snapshot, or the latest one (frozen the first time it is needed)."""
    if ref is None:
        info, _ = create_snapshot(project, "test")
        ref = info.id
    info = get_snapshot(project, ref)
    if info.purpose != "test":
        raise BadInput(
            f"snapshot {info.name} is a {info.purpose} snapshot; models are evaluated on a "
            "test snapshot (`wildloop snapshot create --purpose test`)"
        )
    data = load_snapshot(project, info.id)
    if not data.entries:
        raise BadInput(
            "the test snapshot is empty: review some items of the test split first "
            "(`wildloop status` shows how many the test split holds)"
        )
    return data


def evaluate_model(
    project: Project,
    model_version_id: int,
    snapshot: int | str | None = None,
    *,
    predict: Predict | None = None,
) -> tuple[EvaluationRecord, Scored]:
    """Score a model on a test snapshot; stored metrics are reused, never recomputed
    differently (the evaluator is deterministic)."""
    data = test_snapshot(project, snapshot)
    _model_name(project, model_version_id)  # an unknown version fails before any work
    ensure_predictions(project, model_version_id, [e.media_id for e in data.entries], predict)
    truths, detections = scoring_inputs(project, data, model_version_id)
    thresholds = project.config.thresholds
    scored = score(
        truths,
        detections,
        data.classes,
        class_thresholds(data.classes, thresholds.default, thresholds.per_class),
        project.config.evaluation.calibration_bins,
    )
    return store_evaluation(project, model_version_id, data, scored.metrics), scored


def ensure_predictions(
    project: Project,
    model_version_id: int,
    media_ids: Sequence[int],
    predict: Predict | None = None,
) -> None:
    """Send the items the model has no prediction set for through the one pipeline; raise
    JobFailed when some still have none afterwards."""
    missing = _missing_predictions(project, model_version_id, media_ids)
    if not missing:
        return
    if predict is None:
        predict = predict_items
    predict(project, model_version_id, missing)
    still = _missing_predictions(project, model_version_id, media_ids)
    if still:
        raise JobFailed(
            f"{_model_name(project, model_version_id)} has no predictions for {len(still)} "
            f"test items (e.g. media {still[:5]}) after inference; see the failed items of "
            "the job"
        )


def store_evaluation(
    project: Project, model_version_id: int, data: SnapshotData, metrics: dict[str, Any]
) -> EvaluationRecord:
    """Keep a model's metrics on a snapshot (once per pair) and return the stored record."""
    model_name = _model_name(project, model_version_id)
    stored = select(Evaluation).where(
        Evaluation.model_version_id == model_version_id, Evaluation.snapshot_id == data.info.id
    )
    with project.db.session() as session:
        row = session.scalar(stored)
        if row is None:
            # Insert-or-skip: two evaluations of one pair at once (the web page's comparison
            # and a promotion) must not fail on the unique key; the first one stored wins.
            session.execute(
                insert_or_skip(session, Evaluation, ["model_version_id", "snapshot_id"]).values(
                    model_version_id=model_version_id,
                    snapshot_id=data.info.id,
                    metrics=metrics,
                    created_at=utcnow(),
                )
            )
            row = session.scalar(stored)
            assert row is not None
        return EvaluationRecord(
            row.id,
            model_version_id,
            model_name,
            data.info.id,
            data.info.name,
            row.metrics,
            row.created_at,
        )


def stored_evaluations(
    project: Project, model_version_id: int | None = None
) -> list[EvaluationRecord]:

    with project.db.session() as session:
        query = (
            select(Evaluation, ModelVersion.name, Snapshot.name)
            .join(ModelVersion, ModelVersion.id == Evaluation.model_version_id)
            .join(Snapshot, Snapshot.id == Evaluation.snapshot_id)
            .order_by(Evaluation.id)
        )
        if model_version_id is not None:
            query = query.where(Evaluation.model_version_id == model_version_id)
        return [
            EvaluationRecord(
                e.id, e.model_version_id, model, e.snapshot_id, snap, e.metrics, e.created_at
            )
            for e, model, snap in session.execute(query).all()
        ]


def scoring_inputs(
    project: Project, data: SnapshotData, model_version_id: int
) -> tuple[list[ImageTruth], list[ImageDetections]]:
    """Truth boxes and the model's detections for every snapshot item, in snapshot order."""
    dets = model_detections(project, model_version_id, [e.media_id for e in data.entries])
    truths, detections = [], []
    for entry in data.entries:
        truths.append(
            ImageTruth.of(
                [(t.box.x, t.box.y, t.box.w, t.box.h) for t in entry.targets],
                [t.class_id for t in entry.targets],
                entry.group,
            )
        )
        rows = dets.get(entry.media_id, [])
        detections.append(
            ImageDetections.of([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
        )
    return truths, detections


def model_detections(
    project: Project, model_version_id: int, media_ids: Sequence[int]
) -> dict[int, list[tuple[tuple[float, float, float, float], float, int]]]:
    """The model's boxes per media item (box, score, project class id or UNMAPPED_CLASS)."""
    out: dict[int, list[tuple[tuple[float, float, float, float], float, int]]] = defaultdict(list)
    with project.db.session() as session:
        for start in range(0, len(media_ids), CHUNK):
            rows = session.execute(
                select(
                    PredictionSet.media_id,
                    Prediction.class_id,
                    Prediction.score,
                    Prediction.x,
                    Prediction.y,
                    Prediction.w,
                    Prediction.h,
                )
                .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
                .where(
                    PredictionSet.model_version_id == model_version_id,
                    PredictionSet.status == "ok",
                    PredictionSet.media_id.in_(media_ids[start : start + CHUNK]),
                )
                .order_by(Prediction.id)
            ).all()
            for r in rows:
                if None in (r.x, r.y, r.w, r.h):
                    continue
                cls = r.class_id if r.class_id is not None else UNMAPPED_CLASS
                out[r.media_id].append(((r.x, r.y, r.w, r.h), float(r.score), int(cls)))
    return out


def _missing_predictions(
    project: Project, model_version_id: int, media_ids: Sequence[int]
) -> list[int]:
    have: set[int] = set()
    with project.db.session() as session:
        for start in range(0, len(media_ids), CHUNK):
            have |= set(
                session.scalars(
                    select(PredictionSet.media_id).where(
                        PredictionSet.model_version_id == model_version_id,
                        PredictionSet.status == "ok",
                        PredictionSet.media_id.in_(media_ids[start : start + CHUNK]),
                    )
                )
            )
    return [m for m in media_ids if m not in have]


def _model_name(project: Project, model_version_id: int) -> str:
    with project.db.session() as session:
        name = session.scalar(select(ModelVersion.name).where(ModelVersion.id == model_version_id))
    if name is None:
        raise NotFound(f"no model version {model_version_id}; see `wildloop models list`")
    return name
