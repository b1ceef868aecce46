"""What a model said about one item, and the labels a reviewer is shown as a proposal.

The proposal is the model's boxes at or above the display threshold (per class if set):
accepting it turns exactly those boxes into human labels, each remembering the prediction it
confirms, so training can tell confirmed detections from drawn ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.config import ThresholdSettings
from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.repeats import Region
from wildloop.domain.spans import TimeSpan
from wildloop.review.repeat_decisions import active_regions
from wildloop.store.tables import Camera, Media, Prediction, PredictionSet


@dataclass(frozen=True)
class PredictionView:
    id: int
    class_id: int | None
    class_name: str
    score: float
    box: Box | None
    shown: bool
    span: TimeSpan | None = None

    @property
    def located(self) -> bool:
        """Whether it says where: a box on an image, or a span of an audio window."""
        return self.box is not None or self.span is not None


def threshold_for(thresholds: ThresholdSettings, class_name: str) -> float:
    return thresholds.per_class.get(class_name, thresholds.default)


def load_predictions(
    session: Session,
    media_id: int,
    model_id: int | None,
    thresholds: ThresholdSettings,
    regions: Sequence[Region] | None = None,
) -> list[PredictionView]:
    """The model's predictions for the item, best first, flagged as shown or below threshold.

    Boxes under ``thresholds.store`` (kept on test items for evaluation only) are left out;
    boxes inside a false-positive repeat region of the item's camera are never shown: the
    rows carry the item's camera and ``Region.covers`` tests each loaded box against
    ``regions`` (default: the regions in force), so the predictions are read once.
    """
    if model_id is None:
        return []
    rows = session.execute(
        select(Prediction, Camera.name)
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .join(Media, Media.id == PredictionSet.media_id)
        .outerjoin(Camera, Camera.id == Media.camera_id)
        .where(
            PredictionSet.media_id == media_id,
            PredictionSet.model_version_id == model_id,
            Prediction.score >= thresholds.store,
        )
        .order_by(Prediction.score.desc(), Prediction.id)
    ).all()
    regions = active_regions(session) if regions is None else regions
    out = []
    for p, camera in rows:
        box = span = None
        hidden = False
        if None not in (p.x, p.y, p.w, p.h):
            box = Box.clipped(p.x or 0.0, p.y or 0.0, p.w or 0.0, p.h or 0.0)
            hidden = camera is not None and any(r.covers(camera, box) for r in regions)
        elif p.t_start is not None and p.t_end is not None and p.t_end > p.t_start >= 0:
            span = TimeSpan(p.t_start, p.t_end)
        out.append(
            PredictionView(
                id=p.id,
                class_id=p.class_id,
                class_name=p.class_name,
                score=p.score,
                box=box,
                shown=(box is not None or span is not None)
                and p.score >= threshold_for(thresholds, p.class_name)
                and not hidden,
                span=span,
            )
        )
    return out


def unknown_classes(predictions: list[PredictionView], classes: ClassMap) -> list[str]:
    """Names of shown predictions whose class is not a project class."""
    return sorted(
        {
            p.class_name
            for p in predictions
            if p.shown and (p.class_id is None or p.class_id not in _ids(classes))
        }
    )


def proposal(predictions: list[PredictionView], classes: ClassMap) -> LabelSet:
    """The shown predictions as a label set (empty when the model saw nothing)."""
    known = _ids(classes)
    boxes = tuple(
        LabelBoxValue(box=p.box, span=p.span, class_id=p.class_id, corrects_prediction_id=p.id)
        for p in predictions
        if p.shown and p.located and p.class_id is not None and p.class_id in known
    )
    return LabelSet(boxes=boxes, empty=not boxes)


def _ids(classes: ClassMap) -> set[int]:
    return {c.id for c in classes}
