"""JSON API for reviewing: the grid, one item, actions, hand-edited boxes, batches, marks.

Each route parses, calls one service inside one short transaction, and renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from wildloop.errors import BadInput
from wildloop.project import Project
from wildloop.review import cursors, grid
from wildloop.review.actions import ReviewContext, perform_action, result_of, save_boxes
from wildloop.review.batch import MAX_BATCH, BatchResult, apply_batch, apply_to_sequence
from wildloop.review.detail import AuditView, audit_trail, media_detail
from wildloop.review.filters import FilterNames, GridFilter, parse_filter
from wildloop.review.marked import marked_page
from wildloop.review.queue import value_queue
from wildloop.store.types import MAX_ID
from wildloop.users.roles import Actor
from wildloop.web.auth import current_actor
from wildloop.web.params import MediaIdPath
from wildloop.web.schemas import (
    ActionIn,
    ActionOut,
    BatchIn,
    BatchOut,
    CountOut,
    GridItemOut,
    GridPageOut,
    LabelsIn,
    MarkedItemOut,
    MarkedPageOut,
    MediaDetailOut,
    QueueItemOut,
    QueueOut,
)

router = APIRouter(tags=["review"])
ActorDep = Annotated[Actor, Depends(current_actor)]
FILTER_HELP = (
    "Grid filters (all optional): camera (name), class (effective class: the human label if "
    "reviewed, else the model's top class), min_score, max_score, reviewed (yes/no), marked "
    "(any/none/missed/false_positive), split (train/val/test), from, to (dates), model "
    "(model version name; default the champion), sort (id, captured_at, score; prefix - for "
    "descending)."
)


def project_of(request: Request) -> Project:
    return request.app.state.project  # type: ignore[no-any-return]


def context_of(request: Request) -> ReviewContext:
    project = project_of(request)
    return ReviewContext(classes=project.classes, thresholds=project.config.thresholds)


def filter_of(
    request: Request, names: FilterNames, params: dict[str, str] | None = None
) -> GridFilter:
    """The grid filter in the query string (or ``params``), checked."""
    raw = dict(request.query_params) if params is None else params
    return parse_filter(raw, project_of(request).classes, names)


@router.get("/media", response_model=GridPageOut, description=FILTER_HELP)
def list_media(
    request: Request,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=cursors.MAX_LIMIT)] = cursors.DEFAULT_LIMIT,
) -> GridPageOut:
    """One page of the grid; pass ``next_cursor`` back as ``cursor`` for the next page."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        found = grid.page(session, filter_of(request, names), cursor=cursor, limit=limit)
    items = [GridItemOut.of(i, project.classes, names.cameras) for i in found.items]
    return GridPageOut(
        items=items, next_cursor=found.next_cursor, model_version_id=found.model_version_id
    )


@router.get("/media/count", response_model=CountOut, description=FILTER_HELP)
def count_media(request: Request, actor: ActorDep) -> CountOut:
    """How many items match the filter (counted up to 5,000; 'capped' says if more)."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        total, capped = grid.count(session, filter_of(request, names))
    return CountOut(count=total, capped=capped)


@router.get("/media/{media_id}", response_model=MediaDetailOut, description=FILTER_HELP)
def get_media(media_id: MediaIdPath, request: Request, actor: ActorDep) -> MediaDetailOut:
    """One item with its predictions, labels, neighbours in the filter and burst frames."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        detail = media_detail(session, context_of(request), media_id, filter_of(request, names))
    return MediaDetailOut.of(detail)


@router.get("/media/{media_id}/history", response_model=list[AuditView])
def media_history(media_id: MediaIdPath, request: Request, actor: ActorDep) -> list[AuditView]:
    """The audit trail of the item: who changed what, when, from what, to what."""
    with project_of(request).db.session() as session:
        return audit_trail(session, media_id)


@router.post("/media/{media_id}/actions", response_model=ActionOut)
def act_on_media(
    media_id: MediaIdPath, body: ActionIn, request: Request, actor: ActorDep
) -> ActionOut:
    """Apply one review action; a stale ``expected_revision`` is refused with 409."""
    ctx = context_of(request)
    action = body.to_action(ctx.classes)
    apply: Callable[..., BatchResult | None] = (
        apply_to_sequence if body.scope == "sequence" else perform_action
    )
    with project_of(request).db.session() as session:
        burst = apply(
            session,
            ctx,
            actor,
            media_id,
            action,
            expected_revision=body.expected_revision,
            model_id=grid.model_or_champion(session, body.model_version_id),
        )
        return ActionOut.of(result_of(session, media_id), burst)


@router.put("/media/{media_id}/labels", response_model=ActionOut)
def put_labels(
    media_id: MediaIdPath, body: LabelsIn, request: Request, actor: ActorDep
) -> ActionOut:
    """Replace the item's labels with boxes edited by hand (drawn, moved, resized, deleted)."""
    ctx = context_of(request)
    labels = body.to_labels(ctx.classes)
    with project_of(request).db.session() as session:
        result = save_boxes(
            session,
            ctx,
            actor,
            media_id,
            labels,
            expected_revision=body.expected_revision,
            model_id=grid.model_or_champion(session, body.model_version_id),
        )
    return ActionOut.of(result)


@router.post("/batch", response_model=BatchOut)
def batch(body: BatchIn, request: Request, actor: ActorDep) -> BatchOut:
    """One action for a selection (``ids``) or for everything matching ``filter``."""
    ctx = context_of(request)
    action = body.to_action(ctx.classes)
    if (body.ids is None) == (body.filter is None):
        raise BadInput("send either 'ids' (a selection) or 'filter' (everything it matches)")
    with project_of(request).db.session() as session:
        ids = body.ids
        if body.filter is not None:
            flt = filter_of(request, FilterNames.load(session), body.filter)
            ids = grid.matching_ids(session, flt, cap=MAX_BATCH)
        model_id = grid.model_or_champion(session, body.model_version_id)
        result = apply_batch(session, ctx, actor, ids or [], action, model_id=model_id)
    return BatchOut.of(result)


@router.get("/marked", response_model=MarkedPageOut)
def list_marked(
    request: Request,
    actor: ActorDep,
    kind: str | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=cursors.MAX_LIMIT)] = cursors.DEFAULT_LIMIT,
) -> MarkedPageOut:
    """Items marked for retraining, newest first, with counts per kind."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        found = marked_page(session, kind, cursor, limit)
    items = [
        MarkedItemOut(
            **GridItemOut.of(m.item, project.classes, names.cameras).model_dump(),
            marked_at=m.marked_at,
            marked_by=m.marked_by,
        )
        for m in found.items
    ]
    return MarkedPageOut(
        items=items, next_cursor=found.next_cursor, counts=found.counts, total=found.total
    )


@router.get("/queue", response_model=QueueOut)
def review_queue(
    request: Request,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=cursors.MAX_LIMIT)] = 50,
    exclude: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> QueueOut:
    """Unreviewed items most worth reviewing first, each with why ("margin 0.04",
    "disagrees with its burst"); ``exclude`` leaves out the item on screen. The order is
    computed by a job: when it is stale, ``refreshing`` names the job computing a new one
    and the items come from the last stored order (none before the first)."""
    page = value_queue(project_of(request), limit=limit, exclude=exclude)
    return QueueOut(
        refreshing=page.refreshing,
        computed_at=page.computed_at,
        items=[
            QueueItemOut(
                media_id=i.media_id,
                value=i.value,
                reasons=list(i.reasons),
                camera=i.camera,
                sequence_id=i.sequence_id,
                top_class=i.top_class,
                top_score=i.top_score,
            )
            for i in page.items
        ],
    )
