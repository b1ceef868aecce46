"""Review actions on one item: accept, change class, mark invalid or empty, note, undo, mark
for retraining, and saving boxes drawn by hand.

Every label action starts from what the reviewer was shown (the item's human labels if it
was reviewed, else the model's proposal), changes it, and saves a new label revision with the
optimistic check, so a second reviewer saving the same item gets a Conflict, never a silent
overwrite. Every action also writes an audit entry (save_labels writes it for labels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.config import ThresholdSettings
from wildloop.domain.classes import ClassMap
from wildloop.domain.labels import InvalidReason, LabelBoxValue, LabelSet
from wildloop.domain.spans import TimeSpan
from wildloop.errors import BadInput, NotFound
from wildloop.review.labels import current_labels, save_labels
from wildloop.review.predictions import (
    PredictionView,
    load_predictions,
    proposal,
    unknown_classes,
)
from wildloop.store.tables import LabelRevision, Media, Prediction, PredictionSet
from wildloop.store.types import utcnow
from wildloop.users.roles import Actor, require_writer

LABEL_ACTIONS = ("accept", "set_class", "invalid", "empty", "note", "undo")
MARK_ACTIONS = ("mark", "unmark")
ACTIONS = LABEL_ACTIONS + MARK_ACTIONS
MARKS = ("missed", "false_positive")
BOX_ACTIONS = ("set_class", "invalid")
UNREVIEW_SOURCE = "unreview"
MAX_NOTE = 2000


@dataclass(frozen=True)
class ReviewContext:
    """Project settings an action needs: classes and display thresholds."""

    classes: ClassMap
    thresholds: ThresholdSettings


@dataclass(frozen=True)
class Action:
    """One review action. ``box`` picks one box (by its index in the shown labels) for
    set_class and invalid; without it they apply to every box."""

    name: str
    class_id: int | None = None
    reason: InvalidReason | None = None
    note: str | None = None
    box: int | None = None
    mark: str | None = None
    revision: int | None = None  # for undo: the revision to undo (default: the current one)

    def __post_init__(self) -> None:
        if self.name not in ACTIONS:
            raise BadInput(f"unknown action {self.name!r}; use one of {', '.join(ACTIONS)}")
        if self.name == "set_class" and self.class_id is None:
            raise BadInput("set_class needs a class")
        if self.name == "invalid" and self.reason is None:
            reasons = ", ".join(r.value for r in InvalidReason)
            raise BadInput(f"invalid needs a reason: one of {reasons}")
        if self.name == "mark" and self.mark not in MARKS:
            raise BadInput(f"mark needs a kind: one of {', '.join(MARKS)}")
        if self.box is not None and self.name not in BOX_ACTIONS:
            raise BadInput(
                f"'box' picks the box that {' or '.join(BOX_ACTIONS)} changes; "
                f"{self.name} applies to the whole item, so leave it out"
            )
        if self.note is not None and len(self.note) > MAX_NOTE:
            raise BadInput(f"a note may have at most {MAX_NOTE} characters")


@dataclass(frozen=True)
class ActionResult:
    media_id: int
    revision: int
    reviewed: bool
    marked: str | None
    label_class_id: int | None


class NothingToLabel(BadInput):
    """The action needs boxes and the item has none (a batch skips such items)."""


def perform_action(
    session: Session,
    ctx: ReviewContext,
    actor: Actor,
    media_id: int,
    action: Action,
    *,
    expected_revision: int | None,
    model_id: int | None,
    empty_when_no_boxes: bool = False,
) -> None:
    """Apply ``action`` to one item; ``result_of`` reads its new state (batches, applying
    to thousands, do not). With ``empty_when_no_boxes`` (a whole burst at once), set_class on
    a frame without boxes records it as an empty frame instead of refusing."""
    require_writer(actor)
    if action.name in MARK_ACTIONS:
        set_mark(session, actor, media_id, action.mark if action.name == "mark" else None)
    elif action.name == "undo":
        undo(
            session,
            ctx,
            actor,
            media_id,
            expected_revision=expected_revision,
            revision=action.revision,
        )
    else:
        labels = _changed_labels(session, ctx, media_id, action, model_id, empty_when_no_boxes)
        save_labels(
            session,
            media_id,
            labels,
            author_id=actor.id,
            classes=ctx.classes,
            expected_revision=expected_revision,
            action=f"labels.{action.name}",
        )


def save_boxes(
    session: Session,
    ctx: ReviewContext,
    actor: Actor,
    media_id: int,
    labels: LabelSet,
    *,
    expected_revision: int | None,
    model_id: int | None,
) -> ActionResult:
    """Save labels edited by hand (boxes drawn, moved, resized, deleted). Each shown
    prediction that no box confirms any more is recorded as a false positive."""
    require_writer(actor)
    predictions = load_predictions(session, media_id, model_id, ctx.thresholds)
    _check_prediction_refs(session, media_id, labels)
    confirmed = {b.corrects_prediction_id for b in labels.boxes if not b.false_positive}
    kept = tuple(b for b in labels.boxes if not b.false_positive)
    rejected = tuple(
        LabelBoxValue(
            box=p.box,
            span=p.span,
            class_id=None,
            corrects_prediction_id=p.id,
            false_positive=True,
        )
        for p in predictions
        if p.shown and p.located and p.id not in confirmed
    )
    if labels.empty and kept:
        raise BadInput("an item marked empty cannot keep boxes; delete them or unset empty")
    final = LabelSet(boxes=kept + rejected, empty=not kept, note=labels.note)
    save_labels(
        session,
        media_id,
        final,
        author_id=actor.id,
        classes=ctx.classes,
        expected_revision=expected_revision,
        action="labels.edit_boxes",
    )
    return result_of(session, media_id)


def set_mark(session: Session, actor: Actor, media_id: int, kind: str | None) -> None:
    """Mark an item for retraining (missed detection / false positive) or clear the mark."""
    require_writer(actor)
    row = session.execute(
        select(Media.marked, Media.status).where(Media.id == media_id)
    ).one_or_none()
    if row is None:
        raise NotFound(f"media {media_id} does not exist")
    if row.status != "ok":
        raise BadInput(f"media {media_id} failed ingest and cannot be marked")
    if row.marked == kind:
        return
    now = utcnow()
    session.execute(
        update(Media)
        .where(Media.id == media_id)
        .values(
            marked=kind,
            marked_at=now if kind else None,
            marked_by=actor.id if kind else None,
        )
    )
    audit.record(
        session,
        actor_id=actor.id,
        action="media.mark" if kind else "media.unmark",
        entity="media",
        entity_id=media_id,
        before={"marked": row.marked},
        after={"marked": kind},
    )


def undo(
    session: Session,
    ctx: ReviewContext,
    actor: Actor,
    media_id: int,
    *,
    expected_revision: int | None,
    revision: int | None = None,
) -> None:
    """Undo ``revision`` (default: the latest): bring back the labels the item had before it,
    as a new revision. Undoing the first review returns the item to unreviewed. A client
    undoing several of its own saves names each one, newest first."""
    require_writer(actor)
    current = session.scalar(select(Media.label_revision).where(Media.id == media_id))
    if current is None:
        raise NotFound(f"media {media_id} does not exist")
    if current == 0:
        raise BadInput(f"media {media_id} has no labels to undo")
    undone = current if revision is None else revision
    if not 1 <= undone <= current:
        raise BadInput(f"media {media_id} has revisions 1..{current}; cannot undo {undone}")
    target = undone - 1
    labels, reviewed = LabelSet(), False
    if target > 0:
        row = session.scalar(
            select(LabelRevision).where(
                LabelRevision.media_id == media_id, LabelRevision.revision == target
            )
        )
        reviewed = row is not None and row.source != UNREVIEW_SOURCE
        labels = current_labels(session, media_id, revision=target) or LabelSet()
    save_labels(
        session,
        media_id,
        labels,
        author_id=actor.id,
        classes=ctx.classes,
        expected_revision=expected_revision,
        action="labels.undo",
        source="review" if reviewed else UNREVIEW_SOURCE,
        reviewed=reviewed,
    )


def result_of(session: Session, media_id: int) -> ActionResult:
    row = session.execute(
        select(Media.label_revision, Media.reviewed, Media.marked, Media.label_class_id).where(
            Media.id == media_id
        )
    ).one()
    return ActionResult(
        media_id=media_id,
        revision=row.label_revision,
        reviewed=bool(row.reviewed),
        marked=row.marked,
        label_class_id=row.label_class_id,
    )


def shown_labels(
    session: Session, ctx: ReviewContext, media_id: int, model_id: int | None
) -> tuple[LabelSet | None, list[PredictionView]]:
    """The item's current human labels (None if unreviewed) and the model's predictions."""
    reviewed = session.scalar(select(Media.reviewed).where(Media.id == media_id))
    if reviewed is None:
        raise NotFound(f"media {media_id} does not exist")
    labels = current_labels(session, media_id) if reviewed else None
    return labels, load_predictions(session, media_id, model_id, ctx.thresholds)


# --- how each label action changes the shown labels --------------------------------------------


def _changed_labels(
    session: Session,
    ctx: ReviewContext,
    media_id: int,
    action: Action,
    model_id: int | None,
    empty_when_no_boxes: bool,
) -> LabelSet:
    labels, predictions = shown_labels(session, ctx, media_id, model_id)
    if action.name == "empty":
        return _empty(labels, predictions, action.note)
    if action.name == "set_class" and action.box is None and action.class_id is not None:
        whole = _window_span(session, media_id)
        if whole is not None:
            return _whole_window(whole, action.class_id, labels, predictions, action.note)
    if labels is None:
        labels = _proposal_for(action, predictions, ctx)
    boxes = [b for b in labels.boxes if not b.false_positive]
    rejected = tuple(b for b in labels.boxes if b.false_positive)
    note = action.note if action.note is not None else labels.note
    if action.name in ("accept", "note"):
        return replace(labels, note=note)
    if not boxes:
        if empty_when_no_boxes and action.name == "set_class":
            return LabelSet(boxes=rejected, empty=True, note=note)
        raise NothingToLabel(
            f"media {media_id} has no box to {'classify' if action.name == 'set_class' else 'mark'}"
            "; draw one first (drag on the image), or mark the item empty"
        )
    picked = _picked(boxes, action.box)
    changed = [_change_box(b, action) if i in picked else b for i, b in enumerate(boxes)]
    return LabelSet(boxes=tuple(changed) + rejected, empty=False, note=note)


def _proposal_for(
    action: Action, predictions: list[PredictionView], ctx: ReviewContext
) -> LabelSet:
    """The model's shown boxes as labels; set_class may relabel boxes of unknown classes."""
    if action.name == "set_class":
        boxes = tuple(
            LabelBoxValue(
                box=p.box, span=p.span, class_id=action.class_id, corrects_prediction_id=p.id
            )
            for p in predictions
            if p.shown and p.located
        )
        return LabelSet(boxes=boxes, empty=not boxes)
    unknown = unknown_classes(predictions, ctx.classes)
    if unknown:
        raise BadInput(
            f"the model predicted {', '.join(unknown)}, not a project class; "
            "choose a class (number keys) or delete those boxes before accepting"
        )
    return proposal(predictions, ctx.classes)


def _picked(boxes: list[LabelBoxValue], index: int | None) -> set[int]:
    if index is None:
        return set(range(len(boxes)))
    if not 0 <= index < len(boxes):
        raise BadInput(f"box {index} does not exist; the item shows {len(boxes)} box(es)")
    return {index}


def _change_box(box: LabelBoxValue, action: Action) -> LabelBoxValue:
    if action.name == "set_class":
        # A new species fixes "wrong species"; other reasons stay.
        reason = None if box.invalid_reason is InvalidReason.WRONG_SPECIES else box.invalid_reason
        return replace(box, class_id=action.class_id, invalid_reason=reason)
    return replace(box, invalid_reason=action.reason)


def _empty(
    labels: LabelSet | None, predictions: list[PredictionView], note: str | None
) -> LabelSet:
    """No animal: every shown prediction becomes a false-positive record."""
    fps = tuple(
        LabelBoxValue(
            box=p.box,
            span=p.span,
            class_id=None,
            corrects_prediction_id=p.id,
            false_positive=True,
        )
        for p in predictions
        if p.shown and p.located
    )
    return LabelSet(
        boxes=fps, empty=True, note=note if note is not None else (labels.note if labels else None)
    )


def _window_span(session: Session, media_id: int) -> TimeSpan | None:
    """The seconds an audio window covers (None for an image or a whole recording)."""
    row = session.execute(
        select(Media.kind, Media.t_start, Media.t_end).where(Media.id == media_id)
    ).one()
    if row.kind != "window" or row.t_start is None or row.t_end is None:
        return None
    return TimeSpan(row.t_start, row.t_end)


def _whole_window(
    whole: TimeSpan,
    class_id: int,
    labels: LabelSet | None,
    predictions: list[PredictionView],
    note: str | None,
) -> LabelSet:
    """A class for a whole audio window (a number key): one label spanning the window,
    confirming the model's prediction of that class if it showed one; every other shown
    prediction is recorded as a false positive."""
    shown = [p for p in predictions if p.shown and p.located]
    confirmed = next((p.id for p in shown if p.class_id == class_id), None)
    label = LabelBoxValue(box=None, span=whole, class_id=class_id, corrects_prediction_id=confirmed)
    fps = tuple(
        LabelBoxValue(
            box=p.box, span=p.span, class_id=None, corrects_prediction_id=p.id, false_positive=True
        )
        for p in shown
        if p.id != confirmed
    )
    kept_note = note if note is not None else (labels.note if labels else None)
    return LabelSet(boxes=(label, *fps), empty=False, note=kept_note)


def _check_prediction_refs(session: Session, media_id: int, labels: LabelSet) -> None:
    """Boxes may only claim to confirm predictions made for this same item."""
    refs = {b.corrects_prediction_id for b in labels.boxes if b.corrects_prediction_id is not None}
    if not refs:
        return
    found = set(
        session.scalars(
            select(Prediction.id)
            .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
            .where(Prediction.id.in_(refs), PredictionSet.media_id == media_id)
        )
    )
    missing = sorted(r for r in refs if r not in found)
    if missing:
        raise BadInput(f"prediction(s) {missing} do not belong to media {media_id}")
