"""JSON API for likely label errors: the ranked list, a second reviewer's decision on one,
and a refresh (the ``label-issues`` job; a request never fits a model)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import Field

from wildloop.curation.label_issues import IssueView, decide, issue_view, list_issues
from wildloop.curation.label_issues_job import submit_label_issues
from wildloop.store.types import MAX_ID
from wildloop.users.roles import Actor, require_writer
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor
from wildloop.web.schemas import _In

router = APIRouter(tags=["label issues"])
ActorDep = Annotated[Actor, Depends(current_actor)]
IssuePath = Annotated[int, Path(ge=1, le=MAX_ID, description="label issue id")]
Status = Annotated[Literal["open", "kept", "changed"], Query()]
AfterRank = Annotated[int, Query(ge=0, le=2**31 - 1, description="keyset: ranks after this")]
Limit = Annotated[int, Query(ge=1, le=500)]
FoldsBy = Annotated[
    Literal["box", "burst"], Query(description="what a fold holds out (see docs/review.md)")
]


@dataclass(frozen=True)
class LabelIssueOut(IssueView):
    """An issue as the API answers it: the view, with ``stale`` spelled out (saved again
    since it was found: refresh the issues to judge it anew)."""

    stale: bool = False  # the view's property, as a field


class DecisionIn(_In):
    decision: Literal["keep", "change"]
    expected_revision: int | None = Field(default=None, ge=0, le=2**31 - 1)


def issue_out(view: IssueView) -> LabelIssueOut:
    return LabelIssueOut(**{f.name: getattr(view, f.name) for f in fields(view)}, stale=view.stale)


@router.get("/label-issues", response_model=list[LabelIssueOut])
def label_issues(
    request: Request,
    actor: ActorDep,
    status: Status = "open",
    after_rank: AfterRank = 0,
    limit: Limit = 100,
) -> list[LabelIssueOut]:
    """Reviewed boxes whose class the out-of-fold crop classifier doubts, most doubtful first:
    the given class (and who gave it) beside the suggested one, each with its probability."""
    project = project_of(request)
    with project.db.session() as session:
        views = list_issues(
            session, project.classes, status=status, after_rank=after_rank, limit=limit
        )
    return [issue_out(v) for v in views]


@router.post("/label-issues/refresh", status_code=202)
def refresh(request: Request, actor: ActorDep, by: FoldsBy = "box") -> dict[str, int]:
    """Queue the label-issues job (or name the one already queued or running)."""
    require_writer(actor)
    return {"job_id": submit_label_issues(project_of(request), created_by=actor.id, by=by)}


@router.post("/label-issues/{issue_id}/decision", response_model=LabelIssueOut)
def decide_issue(
    issue_id: IssuePath, body: DecisionIn, request: Request, actor: ActorDep
) -> LabelIssueOut:
    """Keep the given class or change the box to the suggested one (a reviewer other than
    the labeller, or an admin). 409 when the media was saved since the issue was found (or
    since ``expected_revision``), or the issue is already decided."""
    project = project_of(request)
    with project.db.session() as session:
        decide(
            session,
            issue_id,
            body.decision,
            actor=actor,
            classes=project.classes,
            expected_revision=body.expected_revision,
        )
        return issue_out(issue_view(session, project.classes, issue_id))
