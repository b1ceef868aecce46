"""JSON API for events (a burst of photos reviewed as one sighting) and "more like this"
(the frames whose boxes look most like a box or a frame, from the crop index).

Each route parses, calls one service inside one short transaction, and renders.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field, TypeAdapter, with_config

from wildloop.crops.index import CropIndex, index_path, require_crop_index, similar_frames
from wildloop.review import grid
from wildloop.review.batch import MAX_BATCH
from wildloop.review.events import (
    MAX_PAGE,
    EventView,
    apply_event_action,
    event_view,
    events_page,
)
from wildloop.review.filters import FilterNames, class_id
from wildloop.store.tables import Media
from wildloop.store.types import MAX_ID
from wildloop.users.roles import Actor
from wildloop.web.api_review import context_of, project_of
from wildloop.web.auth import current_actor
from wildloop.web.index_cache import loaded_index
from wildloop.web.params import Id, MediaIdPath, RevisionNumber
from wildloop.web.schemas import JSON_NAMES, GridItemOut, _In

router = APIRouter(tags=["events"])
ActorDep = Annotated[Actor, Depends(current_actor)]
EventIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="event (sequence) id")]
MAX_SIMILAR = 200


@with_config(JSON_NAMES)
@dataclass(frozen=True)
class EventOut(EventView):
    """The event view's data: the service's EventView, as the API and the page show it."""

    def as_json(self) -> dict[str, Any]:
        return _EVENT_JSON.dump_python(self, mode="json", by_alias=True)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, view: EventView) -> Self:
        return cls(**{f.name: getattr(view, f.name) for f in fields(view)})


_EVENT_JSON = TypeAdapter(EventOut)


class EventActionIn(_In):
    """One action for every frame of the event, checked against the revisions you saw."""

    action: Literal["accept", "set_class", "empty"] = Field(
        description="accept: the suggestion; set_class: 'class' for every box; empty: no animal"
    )
    class_name: str | None = Field(default=None, alias="class", max_length=120)
    expected_revisions: dict[Id, RevisionNumber] = Field(
        max_length=MAX_BATCH,
        description="media id -> the label revision you saw, for every frame of the event",
    )
    model_version_id: Id | None = None


class EventActionOut(BaseModel):
    event_id: int
    revisions: dict[int, int]
    counts: dict[str, int]


class EventSummaryOut(BaseModel):
    id: int
    camera: str | None
    started_at: str | None
    ended_at: str | None
    frames: int
    reviewed_frames: int


class EventPageOut(BaseModel):
    items: list[EventSummaryOut]
    next_cursor: int | None


class SimilarItemOut(GridItemOut):
    similarity: float
    prediction_id: int


class SimilarFramesOut(BaseModel):
    query_id: int
    prediction_id: int  # the example box
    embedder: str
    items: list[SimilarItemOut]


@router.get("/events", response_model=EventPageOut)
def list_events(
    request: Request,
    actor: ActorDep,
    camera: Annotated[str | None, Query(max_length=200)] = None,
    unreviewed: bool = False,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> EventPageOut:
    """Events (bursts of photos) in id order; ``unreviewed`` keeps those with a frame left to
    review. Pass ``next_cursor`` back as ``cursor`` for the next page."""
    with project_of(request).db.session() as session:
        page = events_page(
            session, camera=camera, unreviewed=unreviewed, cursor=cursor, limit=limit
        )
    return EventPageOut(
        items=[
            EventSummaryOut(
                id=e.id,
                camera=e.camera,
                started_at=e.started_at.isoformat() if e.started_at else None,
                ended_at=e.ended_at.isoformat() if e.ended_at else None,
                frames=e.frames,
                reviewed_frames=e.reviewed_frames,
            )
            for e in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.get("/events/{event_id}", response_model=EventOut)
def get_event(
    event_id: EventIdPath,
    request: Request,
    actor: ActorDep,
    model_version_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> EventOut:
    """Every frame of the event with its boxes, the count per labelled class (the most in
    one frame) and the model's suggestion for the whole event (never applied by itself)."""
    return EventOut.of(event_out(request, event_id, model_version_id))


def event_out(request: Request, event_id: int, model_version_id: int | None) -> EventView:
    project = project_of(request)
    with project.db.session() as session:
        model_id = grid.model_or_champion(session, model_version_id)
        return event_view(
            session, context_of(request), event_id, model_id, project.config.smoothing.weak
        )


@router.post("/events/{event_id}/actions", response_model=EventActionOut)
def act_on_event(
    event_id: EventIdPath, body: EventActionIn, request: Request, actor: ActorDep
) -> EventActionOut:
    """Label every frame at once, each with its own revision, in one transaction: a frame
    saved since you loaded the event refuses the whole action with 409 (nothing saved)."""
    project = project_of(request)
    ctx = context_of(request)
    with project.db.session() as session:
        result = apply_event_action(
            session,
            ctx,
            actor,
            event_id,
            body.action,
            expected_revisions=body.expected_revisions,
            class_id=class_id(ctx.classes, body.class_name),
            model_id=grid.model_or_champion(session, body.model_version_id),
            weak=project.config.smoothing.weak,
        )
    return EventActionOut(
        event_id=result.event_id, revisions=result.revisions, counts=result.counts
    )


@router.get("/media/{media_id}/similar", response_model=SimilarFramesOut)
def similar_media(
    media_id: MediaIdPath,
    request: Request,
    actor: ActorDep,
    k: Annotated[int, Query(ge=1, le=MAX_SIMILAR)] = 50,
    prediction: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> SimilarFramesOut:
    """More like this: the ``k`` frames whose boxes look most like the example box
    (``prediction``, default the frame's best box), from the crop index, best first, as
    grid items to review in batch. Without an index the answer is 503 naming the job
    submitted to build it."""
    return similar_out(request, actor, media_id, k, prediction)


def similar_out(
    request: Request, actor: Actor, media_id: int, k: int, prediction: int | None
) -> SimilarFramesOut:
    project = project_of(request)
    key = require_crop_index(project, created_by=actor.id)
    example, found = similar_frames(
        project, media_id, k, prediction_id=prediction, index=_loaded_index(request, key)
    )
    with project.db.session() as session:
        names = FilterNames.load(session)
        model_id = grid.champion_id(session)
        rows = session.execute(
            grid.select_items(model_id, inner=False).where(
                Media.id.in_([f.media_id for f in found])
            )
        ).all()
    items = {r.id: grid.item_of(r) for r in rows}
    return SimilarFramesOut(
        query_id=media_id,
        prediction_id=example,
        embedder=key,
        items=[
            SimilarItemOut(
                **GridItemOut.of(items[f.media_id], project.classes, names.cameras).model_dump(),
                similarity=f.similarity,
                prediction_id=f.prediction_id,
            )
            for f in found
            if f.media_id in items
        ],
    )


def _loaded_index(request: Request, key: str) -> CropIndex:
    """The crop index, loaded once and kept while its file is unchanged."""
    project = project_of(request)
    path = index_path(project, key)
    return loaded_index(request, "crop_index", key, path, lambda: CropIndex(project, key))
