"""The likely-label-errors page: one tile per open issue, both opinions shown, one key each."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, Response

from wildloop.web.api_label_issues import label_issues
from wildloop.web.pages import PageActor, render

router = APIRouter(include_in_schema=False)
SHOWN = 200


@router.get("/label-issues", response_class=HTMLResponse)
def label_issues_page(request: Request, actor: PageActor) -> Response:
    issues = label_issues(request, actor, "open", 0, SHOWN)
    return render(
        request,
        "label_issues.html",
        actor,
        issues=jsonable_encoder(issues),  # plain JSON values for the page script
    )
