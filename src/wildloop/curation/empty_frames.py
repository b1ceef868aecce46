"""Frames a person reviewed as empty where the champion is sure of an animal.

Cheap next to the box issues (no vectors, no folds): the champion's best box on each
reviewed-empty image, if it scores ``min_score`` or more. Marking a frame empty records the
model's boxes as false positives, so that record is the reviewer's opinion here; a box hidden
by a repeat decision's region (a deliberate group decision) is left out. The model never trained
on what it predicts here only if the frame was not in its training snapshot; a detector's
score is no calibrated probability either, hence a high bar and a place in the same list for
the same second look, not an automatic change.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.registry.aliases import resolve
from wildloop.review.hidden_regions import hidden_regions
from wildloop.store.tables import (
    LabelIssue,
    LabelRevision,
    Media,
    Prediction,
    PredictionSet,
)

MIN_SCORE = 0.9


def sure_empty_issues(
    session: Session, min_score: float = MIN_SCORE, job_id: int | None = None
) -> list[LabelIssue]:
    """Unranked open issues, one per reviewed-empty image (its best sure champion box),
    leaving out frames decided at their current revision."""
    champion = resolve(session, "champion")
    if champion is None:
        return []
    decided = {
        (int(media_id), int(revision))
        for media_id, revision in session.execute(
            select(LabelIssue.media_id, LabelIssue.revision).where(
                LabelIssue.status != "open", LabelIssue.label_box_id.is_(None)
            )
        )
    }
    query = (
        select(
            Media.id,
            Media.label_revision,
            Media.split,
            LabelRevision.author_id,
            Prediction.id.label("prediction_id"),
            Prediction.class_id,
            Prediction.score,
        )
        .join(
            LabelRevision,
            (LabelRevision.media_id == Media.id) & (LabelRevision.revision == Media.label_revision),
        )
        .join(
            PredictionSet,
            (PredictionSet.media_id == Media.id) & (PredictionSet.model_version_id == champion),
        )
        .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
        .where(
            Media.kind == "image",
            Media.reviewed.is_(True),
            LabelRevision.empty.is_(True),
            Prediction.score >= min_score,
            Prediction.class_id.is_not(None),
            Prediction.w.is_not(None),
        )
        .order_by(Media.id, Prediction.score.desc(), Prediction.id)
    )
    hidden = hidden_regions(session)
    if hidden is not None:  # a box in a decided false-positive region is no one's opinion
        query = query.where(hidden.shows(Prediction, Media.camera_id))
    rows = session.execute(query).all()
    issues: dict[int, LabelIssue] = {}
    for r in rows:
        if r.id in issues or (r.id, r.label_revision) in decided:
            continue
        issues[r.id] = LabelIssue(
            job_id=job_id,
            media_id=r.id,
            label_box_id=None,
            prediction_id=r.prediction_id,
            revision=r.label_revision,
            box_index=0,
            labelled_by=r.author_id,
            split=r.split,
            given_class_id=None,
            suggested_class_id=r.class_id,
            given_probability=1.0 - float(r.score),
            suggested_probability=float(r.score),
            quality=1.0 - float(r.score),
            rank=0,
            status="open",
        )
    return list(issues.values())
