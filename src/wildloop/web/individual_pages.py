"""Pages for individuals: the list and a profile (gallery of sightings, oldest first, with
cameras and first and last seen). Read-only here; changes go through the JSON API or CLI."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from wildloop.individuals import profiles
from wildloop.store.types import MAX_ID
from wildloop.web.api_review import project_of
from wildloop.web.pages import PageActor, render
from wildloop.web.schemas import thumb_url

router = APIRouter(include_in_schema=False)


@router.get("/individuals", response_class=HTMLResponse)
def individuals_page(request: Request, actor: PageActor) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        rows = profiles.list_individuals(session, project.classes)
    return render(request, "individuals.html", actor, rows=rows)


@router.get("/individuals/{individual_id}", response_class=HTMLResponse)
def profile_page(
    request: Request,
    actor: PageActor,
    individual_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        detail = profiles.individual_detail(session, individual_id, project.classes)
    for s in detail["sightings"]:
        s["thumb"] = thumb_url(s["media_id"], s["sha256"])
    return render(request, "individual.html", actor, ind=detail)
