"""Events: a burst of photos reviewed as one sighting.

An event is a sequence (ADR 3) of photos; there is no second grouping. The event view shows
every frame with its boxes (the person's labels where reviewed, else the model's shown
predictions), the event's count per labelled class (the most in any one frame) and the
model's classes smoothed over the event as a suggestion (``domain.events``). One action
labels every frame: each frame gets its own label revision through ``save_labels``'
optimistic check, against the revision the client saw for that frame, in the caller's one
transaction, so a stale frame refuses the whole action and nothing is half applied.
Viewing an event never writes; the suggestion is applied only by the ``accept`` action.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from wildloop.domain.events import EventSuggestion, event_counts, suggest
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.review.actions import Action, ReviewContext, perform_action, shown_labels
from wildloop.review.batch import MAX_BATCH
from wildloop.store.tables import Camera, Media, MediaSequence
from wildloop.users.roles import Actor, require_writer

EVENT_ACTIONS = ("accept", "set_class", "empty")
MAX_PAGE = 500


@dataclass(frozen=True)
class EventBox:
    """A box drawn on a frame: a person's label (``score`` None) or a model prediction."""

    x: float
    y: float
    w: float
    h: float
    class_name: str | None
    score: float | None


@dataclass(frozen=True)
class EventFrame:
    id: int
    sha256: str | None
    width: int | None
    height: int | None
    captured_at: datetime | None
    reviewed: bool
    empty: bool
    label_revision: int
    boxes: list[EventBox]


@dataclass(frozen=True)
class EventView:
    id: int
    camera: str | None
    started_at: datetime | None
    ended_at: datetime | None
    split: str
    model_version_id: int | None
    frames: list[EventFrame]
    reviewed_frames: int
    counts: dict[str, int]  # per labelled class: the most boxes of it in one reviewed frame
    suggestion: EventSuggestion
    suggestion_text: str
    # The suggestion names a project class (or no animal): the accept key can apply it.
    suggestion_applicable: bool
    prev_id: int | None
    next_id: int | None
    next_unreviewed_id: int | None


@dataclass(frozen=True)
class EventSummary:
    id: int
    camera: str | None
    started_at: datetime | None
    ended_at: datetime | None
    frames: int
    reviewed_frames: int


@dataclass(frozen=True)
class EventPage:
    items: list[EventSummary]
    next_cursor: int | None


@dataclass(frozen=True)
class EventActionResult:
    event_id: int
    revisions: dict[int, int]  # media id -> its new label revision
    counts: dict[str, int]


def event_view(
    session: Session, ctx: ReviewContext, event_id: int, model_id: int | None, weak: float
) -> EventView:
    """Everything the event view shows; reads only."""
    sequence = session.get(MediaSequence, event_id)
    frames = _frame_rows(session, event_id)
    if sequence is None or not frames:
        raise NotFound(f"event {event_id} does not exist (an event is a burst of photos)")
    shown: list[EventFrame] = []
    model_boxes: list[list[tuple[str, float]]] = []
    labelled: list[list[str]] = []
    for row in frames:
        labels, predictions = shown_labels(session, ctx, row.id, model_id)
        visible = [p for p in predictions if p.shown and p.box is not None]
        model_boxes.append([(p.class_name, p.score) for p in visible])
        if labels is not None:
            kept = [b for b in labels.boxes if not b.false_positive]
            names = [ctx.classes.name_of(b.class_id) for b in kept if b.class_id is not None]
            labelled.append(names)
            boxes = [
                EventBox(
                    b.box.x, b.box.y, b.box.w, b.box.h, ctx.classes.display_name(b.class_id), None
                )
                for b in kept
                if b.box is not None
            ]
        else:
            boxes = [
                EventBox(p.box.x, p.box.y, p.box.w, p.box.h, p.class_name, round(p.score, 4))
                for p in visible
                if p.box is not None
            ]
        shown.append(
            EventFrame(
                id=row.id,
                sha256=row.sha256,
                width=row.width,
                height=row.height,
                captured_at=row.captured_at,
                reviewed=bool(row.reviewed),
                empty=bool(labels is not None and labels.empty),
                label_revision=row.label_revision,
                boxes=boxes,
            )
        )
    suggestion = suggest(model_boxes, weak)
    return EventView(
        id=event_id,
        camera=session.scalar(select(Camera.name).where(Camera.id == sequence.camera_id))
        if sequence.camera_id is not None
        else None,
        started_at=sequence.started_at,
        ended_at=sequence.ended_at,
        split=sequence.split,
        model_version_id=model_id,
        frames=shown,
        reviewed_frames=sum(1 for f in shown if f.reviewed),
        counts=event_counts(labelled),
        suggestion=suggestion,
        suggestion_text=suggestion.describe(),
        suggestion_applicable=suggestion.class_name is None
        or suggestion.class_name in ctx.classes.names,
        prev_id=_neighbour(session, event_id, before=True),
        next_id=_neighbour(session, event_id),
        next_unreviewed_id=_neighbour(session, event_id, unreviewed=True),
    )


def apply_event_action(
    session: Session,
    ctx: ReviewContext,
    actor: Actor,
    event_id: int,
    name: str,
    *,
    expected_revisions: Mapping[int, int],
    class_id: int | None = None,
    model_id: int | None,
    weak: float,
) -> EventActionResult:
    """Label every frame of the event in the caller's transaction: ``accept`` applies the
    suggestion (its class to every box, frames without boxes empty; no animal: every frame
    empty), ``set_class`` a class the person chose, ``empty`` no animal in any frame.

    ``expected_revisions`` names the label revision the client saw for every frame; any
    frame saved since raises Conflict before anything is written (and a save racing this
    one makes ``save_labels`` raise, which rolls the caller's transaction back)."""
    require_writer(actor)
    if name not in EVENT_ACTIONS:
        raise BadInput(f"unknown event action {name!r}; use one of {', '.join(EVENT_ACTIONS)}")
    if name == "set_class" and class_id is None:
        raise BadInput("set_class needs a class")
    if name != "set_class" and class_id is not None:
        raise BadInput(f"'class' is for set_class; {name} takes none")
    frames = _frame_rows(session, event_id)
    if not frames:
        raise NotFound(f"event {event_id} does not exist (an event is a burst of photos)")
    if len(frames) > MAX_BATCH:
        raise BadInput(f"event {event_id} has {len(frames)} frames; label at most {MAX_BATCH}")
    _check_expected(event_id, {r.id: r.label_revision for r in frames}, expected_revisions)
    action = _frame_action(session, ctx, event_id, name, class_id, model_id, weak)
    for row in frames:
        perform_action(
            session,
            ctx,
            actor,
            row.id,
            action,
            expected_revision=expected_revisions[row.id],
            model_id=model_id,
            empty_when_no_boxes=True,
        )
    after = event_view(session, ctx, event_id, model_id, weak)
    return EventActionResult(
        event_id=event_id,
        revisions={f.id: f.label_revision for f in after.frames},
        counts=after.counts,
    )


def events_page(
    session: Session,
    *,
    camera: str | None = None,
    unreviewed: bool = False,
    cursor: int | None = None,
    limit: int = 50,
) -> EventPage:
    """Events in id order (keyset ``cursor``: the last id seen), optionally one camera's or
    those with a frame left to review."""
    if not 1 <= limit <= MAX_PAGE:
        raise BadInput(f"limit must be 1..{MAX_PAGE}")
    reviewed = func.sum(case((Media.reviewed.is_(True), 1), else_=0))
    query = (
        select(Media.sequence_id, func.count().label("frames"), reviewed.label("reviewed"))
        .where(Media.sequence_id.is_not(None), Media.kind == "image", Media.status == "ok")
        .group_by(Media.sequence_id)
        .order_by(Media.sequence_id)
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(Media.sequence_id > cursor)
    if camera is not None:
        camera_id = session.scalar(select(Camera.id).where(Camera.name == camera))
        if camera_id is None:
            raise BadInput(f"unknown camera {camera!r}")
        query = query.where(Media.camera_id == camera_id)
    if unreviewed:
        query = query.having(reviewed < func.count())
    rows = session.execute(query).all()
    more = len(rows) > limit
    rows = rows[:limit]
    sequences = {
        s.id: s
        for s in session.scalars(
            select(MediaSequence).where(MediaSequence.id.in_([r.sequence_id for r in rows]))
        )
    }
    cameras = dict(session.execute(select(Camera.id, Camera.name)).all())
    items = [
        EventSummary(
            id=r.sequence_id,
            camera=cameras.get(sequences[r.sequence_id].camera_id or 0),
            started_at=sequences[r.sequence_id].started_at,
            ended_at=sequences[r.sequence_id].ended_at,
            frames=int(r.frames),
            reviewed_frames=int(r.reviewed or 0),
        )
        for r in rows
    ]
    return EventPage(items, items[-1].id if more and items else None)


def _frame_action(
    session: Session,
    ctx: ReviewContext,
    event_id: int,
    name: str,
    class_id: int | None,
    model_id: int | None,
    weak: float,
) -> Action:
    if name != "accept":
        return Action(name=name, class_id=class_id)
    suggestion = event_view(session, ctx, event_id, model_id, weak).suggestion
    if suggestion.class_name is None:
        return Action(name="empty")
    if suggestion.class_name not in ctx.classes.names:
        raise BadInput(
            f"the model suggests {suggestion.class_name}, not a project class; "
            "choose a class (number keys) or label the frames one by one"
        )
    return Action(name="set_class", class_id=ctx.classes.id_of(suggestion.class_name))


def _check_expected(event_id: int, current: dict[int, int], expected: Mapping[int, int]) -> None:
    missing = sorted(set(current) - set(expected))
    extra = sorted(set(expected) - set(current))
    if missing or extra:
        parts = [
            f"missing frames {missing}" if missing else "",
            f"not in it {extra}" if extra else "",
        ]
        raise BadInput(
            f"expected_revisions must name every frame of event {event_id} and no other: "
            + "; ".join(p for p in parts if p)
        )
    stale = sorted(i for i, rev in current.items() if expected[i] != rev)
    if stale:
        shown = ", ".join(f"{i} (now revision {current[i]})" for i in stale[:10])
        raise Conflict(
            f"{len(stale)} frame(s) of event {event_id} were saved since you loaded it: "
            f"media {shown}; reload the event and apply your action again (nothing was saved)"
        )


def _frame_rows(session: Session, event_id: int) -> Sequence[Any]:
    return session.execute(
        select(
            Media.id,
            Media.sha256,
            Media.width,
            Media.height,
            Media.captured_at,
            Media.reviewed,
            Media.label_revision,
        )
        .where(Media.sequence_id == event_id, Media.kind == "image", Media.status == "ok")
        .order_by(Media.captured_at, Media.id)
    ).all()


def _neighbour(
    session: Session, event_id: int, *, before: bool = False, unreviewed: bool = False
) -> int | None:
    """The next (or previous) event in id order, or the next with a frame to review."""
    query = select(Media.sequence_id).where(Media.kind == "image", Media.status == "ok")
    if before:
        query = query.where(Media.sequence_id < event_id).order_by(Media.sequence_id.desc())
    else:
        query = query.where(Media.sequence_id > event_id).order_by(Media.sequence_id)
    if unreviewed:
        query = query.where(Media.reviewed.is_(False))
    return session.scalar(query.limit(1))
