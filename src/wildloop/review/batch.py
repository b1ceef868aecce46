"""One action over many items: a selection, everything in a filter, or a whole burst.

Items that cannot take the action (no box to classify, failed ingest) are skipped with their
reason and the rest are applied, in one transaction: the request either lands whole (with its
list of skips) or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.errors import BadInput, NotFound
from wildloop.review.actions import Action, ReviewContext, perform_action
from wildloop.store.tables import Media
from wildloop.tallies import maintained
from wildloop.users.roles import Actor, require_writer

MAX_BATCH = 2000
BATCH_ACTIONS = ("accept", "set_class", "invalid", "empty", "mark", "unmark")


@dataclass(frozen=True)
class Skipped:
    """An item the action could not apply to, and why."""

    media_id: int
    reason: str


@dataclass
class BatchResult:
    applied: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def apply_batch(
    session: Session,
    ctx: ReviewContext,
    actor: Actor,
    media_ids: list[int],
    action: Action,
    *,
    model_id: int | None,
) -> BatchResult:
    """Apply ``action`` to each item; those that cannot take it are listed with the reason."""
    require_writer(actor)
    if action.name not in BATCH_ACTIONS:
        raise BadInput(
            f"{action.name} works on one item at a time; batches take {', '.join(BATCH_ACTIONS)}"
        )
    if action.box is not None:
        raise BadInput("a batch applies to whole items; leave out 'box'")
    if not media_ids:
        raise BadInput("select at least one item")
    if len(media_ids) > MAX_BATCH:
        raise BadInput(f"a batch may hold at most {MAX_BATCH} items, not {len(media_ids)}")
    result = BatchResult()
    with maintained.deferred(session):  # analytics regroup each touched stretch once
        for media_id in dict.fromkeys(media_ids):
            try:
                perform_action(
                    session, ctx, actor, media_id, action, expected_revision=None, model_id=model_id
                )
            except (BadInput, NotFound) as exc:
                # Refusals happen before anything is written for the item.
                result.skipped.append(Skipped(media_id, str(exc)))
            else:
                result.applied.append(media_id)
    return result


def apply_to_sequence(
    session: Session,
    ctx: ReviewContext,
    actor: Actor,
    media_id: int,
    action: Action,
    *,
    expected_revision: int | None,
    model_id: int | None,
) -> BatchResult:
    """Apply ``action`` to every frame of the item's burst. The item itself keeps the
    optimistic check; frames without boxes are recorded as empty frames of the burst."""
    require_writer(actor)
    if action.name not in BATCH_ACTIONS:
        raise BadInput(f"{action.name} works on one item at a time, not on a whole burst")
    sequence_id = session.scalar(select(Media.sequence_id).where(Media.id == media_id))
    if sequence_id is None:
        frames = [media_id]
    else:
        frames = list(
            session.scalars(
                select(Media.id)
                .where(Media.sequence_id == sequence_id, Media.status == "ok")
                .order_by(Media.captured_at, Media.id)
            )
        )
    if media_id not in frames:
        raise NotFound(f"media {media_id} does not exist or failed ingest")
    result = BatchResult()
    for frame in frames:
        try:
            perform_action(
                session,
                ctx,
                actor,
                frame,
                action,
                expected_revision=expected_revision if frame == media_id else None,
                model_id=model_id,
                empty_when_no_boxes=True,
            )
        except BadInput as exc:
            if frame == media_id:
                raise
            result.skipped.append(Skipped(frame, str(exc)))
        else:
            result.applied.append(frame)
    return result
