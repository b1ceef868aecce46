"""Pages for individuals: the list (with the re-ID embedder that serves suggestions, its
candidates and their gate figures, and an admin's train/promote/roll back) and a profile
(gallery of sightings, oldest first, a timeline drawn on the server and fetched again after
each change, cameras, first and last seen). Reviewers change a profile by keyboard
(``static/individual.js``) through the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from wildloop.individuals import profiles
from wildloop.individuals.embedders import embedder_status
from wildloop.store.types import MAX_ID
from wildloop.web.analytics_charts import Chart, timeline
from wildloop.web.api_review import project_of
from wildloop.web.pages import PageActor, render
from wildloop.web.schemas import thumb_url

router = APIRouter(include_in_schema=False)


@router.get("/individuals", response_class=HTMLResponse)
def individuals_page(request: Request, actor: PageActor) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        rows = profiles.list_individuals(session, project.classes)
        embedder = embedder_status(session, project)
    return render(request, "individuals.html", actor, rows=rows, embedder=embedder)


@router.get("/individuals/{individual_id}", response_class=HTMLResponse)
def profile_page(
    request: Request,
    actor: PageActor,
    individual_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        detail = profiles.individual_detail(session, individual_id, project.classes)
        others = [
            {"id": i["id"], "name": i["name"]}
            for i in profiles.list_individuals(session, project.classes)
            if i["class"] == detail["class"] and i["id"] != individual_id
        ]
    for s in detail["sightings"]:
        s["thumb"] = thumb_url(s["media_id"], s["sha256"])
    chart = _timeline(detail)
    return render(request, "individual.html", actor, ind=detail, others=others, chart=chart)


@router.get("/individuals/{individual_id}/timeline", response_class=HTMLResponse)
def profile_timeline(
    request: Request,
    actor: PageActor,
    individual_id: Annotated[int, Path(ge=1, le=MAX_ID)],
) -> Response:
    """The profile's timeline alone, as the page draws it: the page's script fetches it
    after an unassign, move or undo so the chart follows the gallery."""
    project = project_of(request)
    with project.db.session() as session:
        detail = profiles.individual_detail(session, individual_id, project.classes)
    return render(request, "_timeline.html", actor, chart=_timeline(detail))


def _timeline(detail: dict[str, Any]) -> Chart:
    times = [
        datetime.fromisoformat(s["captured_at"]) for s in detail["sightings"] if s["captured_at"]
    ]
    return timeline("sightings", times)
