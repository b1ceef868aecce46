"""The location priors editor: each camera's allow-list and roll-up, saved through the JSON
API (admins); others see the same table read-only."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wildloop.media.camera_priors import list_priors
from wildloop.web.api_review import project_of
from wildloop.web.pages import PageActor, render

router = APIRouter(include_in_schema=False)


@router.get("/cameras", response_class=HTMLResponse)
def cameras_page(request: Request, actor: PageActor) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        rows = list_priors(session)
    return render(request, "cameras.html", actor, rows=rows, priors=project.config.priors)
