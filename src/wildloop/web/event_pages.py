"""Pages for events and "more like this": the event view (every frame of a burst, labelled
with one key) and the frames most like a box or a frame, as a grid to review in batch."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wildloop.review.events import events_page
from wildloop.store.types import MAX_ID
from wildloop.web.api_events import (
    MAX_SIMILAR,
    EventIdPath,
    EventOut,
    event_out,
    similar_out,
)
from wildloop.web.api_review import project_of
from wildloop.web.pages import PageActor, render
from wildloop.web.params import MediaIdPath

router = APIRouter(include_in_schema=False)


@router.get("/events", response_class=HTMLResponse)
def first_event_page(request: Request, actor: PageActor) -> Response:
    """Open the first event with a frame left to review (the grid when none is left)."""
    with project_of(request).db.session() as session:
        page = events_page(session, unreviewed=True, limit=1)
    if not page.items:
        return RedirectResponse("/grid", 303)
    return RedirectResponse(f"/events/{page.items[0].id}", 303)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(event_id: EventIdPath, request: Request, actor: PageActor) -> Response:
    view = EventOut.of(event_out(request, event_id, None))
    return render(request, "event.html", actor, event=view.as_json())


@router.get("/media/{media_id}/similar", response_class=HTMLResponse)
def similar_page(
    media_id: MediaIdPath,
    request: Request,
    actor: PageActor,
    k: Annotated[int, Query(ge=1, le=MAX_SIMILAR)] = 50,
    prediction: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """More like this: the nearest frames as a grid to select and label in batch."""
    found = similar_out(request, actor, media_id, k, prediction)
    return render(request, "similar.html", actor, found=found, items=found.items, query="")
