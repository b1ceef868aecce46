"""One decision per repeat group: false positive (a stored region, hard negatives) or real.

A false-positive decision stores the group's median box per camera as a region; the model's
boxes there are hidden from review, the grid, counts and exports on that camera
(``active_regions``; ``hidden_regions`` states the rule in SQL), and each
unreviewed frame of the group gets a label revision through ``save_labels`` (so the usual
conflict check, audit and split rules apply): the box marked false positive, and the frame
reviewed as empty when the model found nothing else on it. Frames a person already reviewed
keep their labels. A "real" decision only takes the group off the repeat list. Undo marks
the decision undone and restores each labelled frame that nobody has saved since.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.repeats import Region, RepeatGroup
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.review.labels import current_labels, save_labels
from wildloop.store.tables import Media, Prediction, PredictionSet, RepeatDecision

DECISIONS = ("false_positive", "real")
_XYWH = (Prediction.x, Prediction.y, Prediction.w, Prediction.h)


def decided_regions(session: Session, decision: str | None = None) -> list[Region]:
    """Regions of the decisions in force (undone ones excluded), optionally of one kind."""
    query = select(RepeatDecision).where(RepeatDecision.undone_at.is_(None))
    if decision is not None:
        query = query.where(RepeatDecision.decision == decision)
    return [Region(r.camera, Box(r.x, r.y, r.w, r.h), r.iou) for r in session.scalars(query).all()]


def active_regions(session: Session) -> list[Region]:
    """The false-positive regions in force: the model's boxes there are hidden."""
    return decided_regions(session, "false_positive")


def decide(
    session: Session,
    group: RepeatGroup,
    decision: str,
    *,
    actor_id: int,
    classes: ClassMap,
    iou: float,
    min_score: float,
) -> RepeatDecision:
    """Record ``decision`` on ``group`` (found by the caller with ``repeat_groups``)."""
    if decision not in DECISIONS:
        raise BadInput(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    labelled: list[list[int]] = []
    if decision == "false_positive":
        labelled = _label_hard_negatives(session, group, actor_id, classes, min_score)
    row = RepeatDecision(
        camera=group.camera,
        group_key=group.key,
        decision=decision,
        x=group.median.x,
        y=group.median.y,
        w=group.median.w,
        h=group.median.h,
        iou=iou,
        labelled=labelled,
        created_by=actor_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="repeats.decide",
        entity="repeat_decision",
        entity_id=row.id,
        after=_described(row),
    )
    return row


def undo(session: Session, decision_id: int, *, actor_id: int, classes: ClassMap) -> dict[str, Any]:
    """Undo a decision: its region stops hiding boxes, and each frame it labelled returns to
    the labels it had, unless someone saved that frame since (those are listed as kept)."""
    row = session.get(RepeatDecision, decision_id)
    if row is None:
        raise NotFound(f"repeat decision {decision_id} does not exist")
    if row.undone_at is not None:
        raise Conflict(f"repeat decision {decision_id} was already undone")
    restored, kept = [], []
    for media_id, revision in row.labelled:
        now = session.scalar(select(Media.label_revision).where(Media.id == media_id))
        if now != revision:
            kept.append(media_id)
            continue
        before = current_labels(session, media_id, revision=revision - 1) or LabelSet()
        save_labels(
            session,
            media_id,
            before,
            author_id=actor_id,
            classes=classes,
            expected_revision=revision,
            source="repeats",
            action="repeats.undo_labels",
            reviewed=False,
        )
        restored.append(media_id)
    row.undone_at = datetime.now(UTC).replace(tzinfo=None)
    audit.record(
        session,
        actor_id=actor_id,
        action="repeats.undo",
        entity="repeat_decision",
        entity_id=row.id,
        before=_described(row),
        after={"restored": restored, "kept": kept},
    )
    return {"decision": row.id, "restored": restored, "kept": kept}


def _label_hard_negatives(
    session: Session, group: RepeatGroup, actor_id: int, classes: ClassMap, min_score: float
) -> list[list[int]]:
    members = set(group.prediction_ids)
    rows = session.execute(
        select(
            PredictionSet.media_id,
            Prediction.id,
            *_XYWH,
            Media.reviewed,
            Media.label_revision,
        )
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .join(Media, Media.id == PredictionSet.media_id)
        .where(PredictionSet.media_id.in_(group.media_ids), Prediction.score >= min_score)
        .where(PredictionSet.id.in_(_sets_of(group)))
    ).all()
    by_media: dict[int, list[Any]] = {}
    for r in rows:
        by_media.setdefault(r.media_id, []).append(r)
    labelled = []
    for media_id in group.media_ids:
        frame = by_media.get(media_id, [])
        if not frame or frame[0].reviewed:
            continue  # a person's review of the frame stands
        revision = frame[0].label_revision
        current = current_labels(session, media_id) or LabelSet()
        corrected = {b.corrects_prediction_id for b in current.boxes}
        negatives = tuple(
            LabelBoxValue(
                box=Box.clipped(r.x, r.y, r.w, r.h),
                class_id=None,
                corrects_prediction_id=r.id,
                false_positive=True,
            )
            for r in frame
            if r.id in members and r.id not in corrected
        )
        others = any(r.id not in members for r in frame)
        nothing_else = not others and not any(b.trainable for b in current.boxes)
        saved = save_labels(
            session,
            media_id,
            LabelSet(boxes=current.boxes + negatives, empty=nothing_else, note=current.note),
            author_id=actor_id,
            classes=classes,
            expected_revision=revision,
            source="repeats",
            action="repeats.hard_negative",
            reviewed=nothing_else,
        )
        labelled.append([media_id, saved.revision])
    return labelled


def _sets_of(group: RepeatGroup) -> Select[int]:
    """The prediction sets the group's boxes came from (the champion's, on these frames)."""
    return select(Prediction.prediction_set_id).where(Prediction.id.in_(group.prediction_ids))


def _described(row: RepeatDecision) -> dict[str, Any]:
    return {
        "camera": row.camera,
        "group": row.group_key,
        "decision": row.decision,
        "box": [round(v, 5) for v in (row.x, row.y, row.w, row.h)],
        "iou": row.iou,
        "labelled": len(row.labelled),
        "undone": row.undone_at is not None,
    }
