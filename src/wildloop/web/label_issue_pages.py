"""The likely-label-errors page: one tile per open issue, both opinions shown, one key each."""

from __future__ import annotations

from fastapi import APIRouter, Request
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
        issues=[i.model_dump(mode="json") for i in issues],
    )
