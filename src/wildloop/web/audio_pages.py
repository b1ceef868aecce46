"""Server-rendered audio review pages: the window list (filters, batch edits) and the review
screen of one window (spectrogram, playback, keyboard actions, time-frequency boxes).

Like the image pages, the first view is rendered here and the scripts then use the JSON API.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wildloop.review import grid
from wildloop.review.filters import FilterNames
from wildloop.web.api_audio import MAX_SIMILAR, similar_out, window_out, window_page
from wildloop.web.api_review import filter_of, project_of
from wildloop.web.pages import PageActor, render

router = APIRouter(include_in_schema=False)


@router.get("/audio", response_class=HTMLResponse)
def window_list_page(request: Request, actor: PageActor, cursor: str | None = None) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names).with_(kind="window")
        found = window_page(request, session, flt, names, cursor)
        champion = grid.champion_id(session)
    params = flt.to_params(project.classes, names)
    return render(
        request,
        "audio_list.html",
        actor,
        items=found.items,
        next_cursor=found.next_cursor,
        params=params,
        query=urlencode(params),
        sites=sorted(names.cameras.values()),
        models=[(i, n, i == champion) for i, n in names.models.items()],
    )


@router.get("/audio/tiles", response_class=HTMLResponse)
def window_tiles(request: Request, actor: PageActor, cursor: str | None = None) -> Response:
    """The next page of window tiles as an HTML fragment (endless scrolling)."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names).with_(kind="window")
        found = window_page(request, session, flt, names, cursor)
    params = flt.to_params(project.classes, names)
    response = render(
        request, "_audio_tiles.html", actor, items=found.items, query=urlencode(params)
    )
    response.headers["X-Next-Cursor"] = found.next_cursor or ""
    return response


@router.get("/audio/search", response_class=HTMLResponse)
def clip_search_page(request: Request, actor: PageActor) -> Response:
    """Search by example from a clip the user uploads (the page posts it to the API)."""
    return render(request, "audio_search.html", actor)


@router.get("/audio/{media_id}/similar", response_class=HTMLResponse)
def similar_page(
    media_id: int, request: Request, actor: PageActor, k: int = 30, same_recording: bool = False
) -> Response:
    """Search by example: the nearest windows as a list to select and review in batch."""
    found = similar_out(request, media_id, min(max(k, 1), MAX_SIMILAR), same_recording)
    return render(
        request, "audio_similar.html", actor, found=found, items=found.items, query="kind=window"
    )


@router.get("/audio/{media_id}", response_class=HTMLResponse)
def window_review_page(media_id: int, request: Request, actor: PageActor) -> Response:
    project = project_of(request)
    out = window_out(request, media_id)
    with project.db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names).with_(kind="window")
    params = flt.to_params(project.classes, names)
    return render(
        request,
        "audio_review.html",
        actor,
        detail=out.as_json(),
        params=params,
        query=urlencode(params),
    )
