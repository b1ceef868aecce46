"""One decision per repeat group: false positive (a stored region, hard negatives) or real.

A false-positive decision stores the group's median box per camera as a region; the model's
boxes there are hidden from review, the grid, counts and exports on that camera
(``active_regions``; ``hidden_regions`` states the rule in SQL), and each
unreviewed frame of the group gets a label revision through ``save_labels`` (so the usual
conflict check, audit and split rules apply): the box marked false positive, and the frame
reviewed as empty when the model found nothing else on it. Frames a person already reviewed
keep their labels. A "real" decision only takes the group off the repeat list. Undo marks
the decision undone and restores each labelled frame that nobody has saved since.

The decision row, its region and its audit entry are written at once; the per-frame label
revisions of a group over ``SYNC_FRAMES`` frames (and their restoring after an undo) are the
work of a ``repeat-decision`` job (``review.repeat_job``) in chunks of ``CHUNK_FRAMES``: each
frame written is a ``repeat_decision_frames`` row in the same transaction as its revision, so
a chunk that runs again skips it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.domain.repeats import Region, RepeatGroup
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.jobs.records import submit_job
from wildloop.review.labels import current_labels, save_labels
from wildloop.store.bulk import lock_row
from wildloop.store.tables import (
    Job,
    Media,
    Prediction,
    PredictionSet,
    RepeatDecision,
    RepeatDecisionFrame,
)

DECISIONS = ("false_positive", "real")
# Up to this many frames a decision (or its undo) labels them in the request; above, a job.
SYNC_FRAMES = 200
CHUNK_FRAMES = 200
KIND_NAME = "repeat-decision"
_XYWH = (Prediction.x, Prediction.y, Prediction.w, Prediction.h)


def decided_regions(session: Session, decision: str | None = None) -> list[Region]:
    """Regions of the decisions in force (undone ones excluded), optionally of one kind."""
    query = (
        select(RepeatDecision).where(RepeatDecision.undone_at.is_(None)).order_by(RepeatDecision.id)
    )
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
    sync_frames: int | None = None,
) -> RepeatDecision:
    """Record ``decision`` on ``group`` (found by the caller with ``repeat_groups``). A
    false positive over more than ``sync_frames`` frames (default ``SYNC_FRAMES``) leaves
    their labelling to a job (``row.job_id``), submitted in this transaction."""
    if decision not in DECISIONS:
        raise BadInput(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    row = RepeatDecision(
        camera=group.camera,
        group_key=group.key,
        decision=decision,
        x=group.median.x,
        y=group.median.y,
        w=group.median.w,
        h=group.median.h,
        iou=iou,
        labelled=[],
        created_by=actor_id,
    )
    session.add(row)
    session.flush()
    if decision == "false_positive":
        frames = list(group.media_ids)
        if len(frames) <= (SYNC_FRAMES if sync_frames is None else sync_frames):
            label_frames(session, row, frames, group.prediction_ids, actor_id, classes, min_score)
        else:
            row.job_id = submit_job(
                session,
                KIND_NAME,
                {
                    "mode": "decide",
                    "decision_id": row.id,
                    "actor_id": actor_id,
                    "min_score": min_score,
                    "prediction_ids": list(group.prediction_ids),
                },
                [{"media_ids": c} for c in _chunks(frames)],
                total=len(frames),
                created_by=actor_id,
                message=f"hard negatives of repeat decision {row.id} ({group.camera})",
            )
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="repeats.decide",
        entity="repeat_decision",
        entity_id=row.id,
        after=_described(session, row) | {"frames": len(group.media_ids), "job": row.job_id},
    )
    return row


def undo(
    session: Session,
    decision_id: int,
    *,
    actor_id: int,
    classes: ClassMap,
    sync_frames: int | None = None,
) -> dict[str, Any]:
    """Undo a decision: its region stops hiding boxes at once, and each frame it labelled
    returns to the labels it had, unless someone saved that frame since (those are listed as
    kept). Over ``sync_frames`` frames (default ``SYNC_FRAMES``) the restoring is a job
    (``job_id`` in the answer)."""
    lock_row(session, RepeatDecision, decision_id)  # waits for a labelling chunk in flight
    row = session.get(RepeatDecision, decision_id, populate_existing=True)
    if row is None:
        raise NotFound(f"repeat decision {decision_id} does not exist")
    if row.undone_at is not None:
        raise Conflict(f"repeat decision {decision_id} was already undone")
    row.undone_at = datetime.now(UTC).replace(tzinfo=None)
    frames = list(
        session.scalars(
            select(RepeatDecisionFrame.media_id)
            .where(RepeatDecisionFrame.decision_id == row.id)
            .order_by(RepeatDecisionFrame.media_id)
        )
    )
    out: dict[str, Any] = {"decision": row.id}
    if len(frames) <= (SYNC_FRAMES if sync_frames is None else sync_frames):
        out |= restore_frames(session, row, frames, actor_id, classes)
    else:
        row.undo_job_id = submit_job(
            session,
            KIND_NAME,
            {"mode": "undo", "decision_id": row.id, "actor_id": actor_id},
            [{"media_ids": c} for c in _chunks(frames)],
            total=len(frames),
            created_by=actor_id,
            message=f"restoring the frames of repeat decision {row.id} ({row.camera})",
        )
        out |= {"job_id": row.undo_job_id, "frames": len(frames)}
    audit.record(
        session,
        actor_id=actor_id,
        action="repeats.undo",
        entity="repeat_decision",
        entity_id=row.id,
        before=_described(session, row),
        after={k: v for k, v in out.items() if k != "decision"},
    )
    return out


def label_frames(
    session: Session,
    row: RepeatDecision,
    media_ids: list[int],
    member_ids: tuple[int, ...] | list[int],
    actor_id: int,
    classes: ClassMap,
    min_score: float,
) -> tuple[int, int]:
    """Label ``media_ids`` (frames of the decided group) as hard negatives of ``row``:
    (frames labelled now, frames skipped). A frame this decision already labelled, or that a
    person reviewed, is skipped; so is one saved by someone in the same instant (a conflict),
    which keeps that person's labels."""
    members = set(member_ids)
    done = set(
        session.scalars(
            select(RepeatDecisionFrame.media_id).where(
                RepeatDecisionFrame.decision_id == row.id,
                RepeatDecisionFrame.media_id.in_(media_ids),
            )
        )
    )
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
        .where(PredictionSet.media_id.in_(media_ids), Prediction.score >= min_score)
        .where(PredictionSet.id.in_(_sets_of(members, media_ids)))
    ).all()
    by_media: dict[int, list[Any]] = {}
    for r in rows:
        by_media.setdefault(r.media_id, []).append(r)
    labelled = skipped = 0
    for media_id in media_ids:
        frame = by_media.get(media_id, [])
        if media_id in done or not frame or frame[0].reviewed:
            skipped += 1  # labelled by an earlier run, or a person's review stands
            continue
        try:
            with session.begin_nested():
                revision = _label_one(session, media_id, frame, members, actor_id, classes)
                session.add(
                    RepeatDecisionFrame(decision_id=row.id, media_id=media_id, revision=revision)
                )
        except Conflict:
            skipped += 1
            continue
        labelled += 1
    return labelled, skipped


def restore_frames(
    session: Session, row: RepeatDecision, media_ids: list[int], actor_id: int, classes: ClassMap
) -> dict[str, list[int]]:
    """Give ``media_ids`` (frames ``row`` labelled) back the labels they had before, unless
    someone saved one since (kept). A frame already restored or kept is not touched again."""
    restored, kept = [], []
    pending = session.scalars(
        select(RepeatDecisionFrame)
        .where(
            RepeatDecisionFrame.decision_id == row.id,
            RepeatDecisionFrame.media_id.in_(media_ids),
            RepeatDecisionFrame.undo_outcome.is_(None),
        )
        .order_by(RepeatDecisionFrame.media_id)
    ).all()
    for frame in pending:
        now = session.scalar(select(Media.label_revision).where(Media.id == frame.media_id))
        if now != frame.revision:
            frame.undo_outcome = "kept"
            kept.append(frame.media_id)
            continue
        before = current_labels(session, frame.media_id, revision=frame.revision - 1) or LabelSet()
        save_labels(
            session,
            frame.media_id,
            before,
            author_id=actor_id,
            classes=classes,
            expected_revision=frame.revision,
            source="repeats",
            action="repeats.undo_labels",
            reviewed=False,
        )
        frame.undo_outcome = "restored"
        restored.append(frame.media_id)
    session.flush()
    return {"restored": restored, "kept": kept}


def decision_status(session: Session, decision_id: int) -> dict[str, Any]:
    """A decision and the progress of its jobs (labelling, and restoring after an undo):
    what a client polls after a 202."""
    row = session.get(RepeatDecision, decision_id)
    if row is None:
        raise NotFound(f"repeat decision {decision_id} does not exist")
    return {
        "decision_id": row.id,
        "decision": row.decision,
        "camera": row.camera,
        "undone": row.undone_at is not None,
        "labelled": labelled_count(session, row.id),
        "job": _job_state(session, row.job_id),
        "undo_job": _job_state(session, row.undo_job_id),
    }


def labelled_count(session: Session, decision_id: int) -> int:
    """How many frames the decision has labelled as hard negatives so far."""
    return int(
        session.scalar(select(func.count()).where(RepeatDecisionFrame.decision_id == decision_id))
        or 0
    )


def undo_outcomes(session: Session, decision_id: int) -> dict[str, list[int]]:
    """The frames an undo restored and those it kept (saved since), in media order."""
    rows = session.execute(
        select(RepeatDecisionFrame.media_id, RepeatDecisionFrame.undo_outcome)
        .where(
            RepeatDecisionFrame.decision_id == decision_id,
            RepeatDecisionFrame.undo_outcome.is_not(None),
        )
        .order_by(RepeatDecisionFrame.media_id)
    ).all()
    return {outcome: [int(m) for m, o in rows if o == outcome] for outcome in ("restored", "kept")}


def labelled_frames(session: Session, decision_id: int) -> list[list[int]]:
    """[media id, revision written] of each frame the decision labelled, in media order."""
    rows = session.execute(
        select(RepeatDecisionFrame.media_id, RepeatDecisionFrame.revision)
        .where(RepeatDecisionFrame.decision_id == decision_id)
        .order_by(RepeatDecisionFrame.media_id)
    ).all()
    return [[int(m), int(r)] for m, r in rows]


def _job_state(session: Session, job_id: int | None) -> dict[str, Any] | None:
    job = session.get(Job, job_id) if job_id is not None else None
    if job is None:
        return None
    return {
        "id": job.id,
        "state": job.state,
        "done": job.progress_done,
        "total": job.progress_total,
        "message": job.message,
    }


def _label_one(
    session: Session,
    media_id: int,
    frame: list[Any],
    members: set[int],
    actor_id: int,
    classes: ClassMap,
) -> int:
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
        expected_revision=frame[0].label_revision,
        source="repeats",
        action="repeats.hard_negative",
        reviewed=nothing_else,
    )
    return int(saved.revision)


def _sets_of(members: set[int], media_ids: list[int]) -> Select[Any]:
    """The prediction sets the group's boxes on these frames came from (the champion's)."""
    return (
        select(Prediction.prediction_set_id)
        .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
        .where(Prediction.id.in_(members), PredictionSet.media_id.in_(media_ids))
    )


def _chunks(media_ids: list[int]) -> list[list[int]]:
    return [media_ids[i : i + CHUNK_FRAMES] for i in range(0, len(media_ids), CHUNK_FRAMES)]


def _described(session: Session, row: RepeatDecision) -> dict[str, Any]:
    return {
        "camera": row.camera,
        "group": row.group_key,
        "decision": row.decision,
        "box": [round(v, 5) for v in (row.x, row.y, row.w, row.h)],
        "iou": row.iou,
        "labelled": labelled_count(session, row.id),
        "undone": row.undone_at is not None,
    }
