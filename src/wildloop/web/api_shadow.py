"""JSON API of shadow runs: the share, the agreement figures a ``shadow-agreement`` job
stored, the disagreement list (keyset pages), and on-demand runs and refreshes.

Everything here reads stored rows or submits a job; nothing judges items in a request.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from wildloop.evaluation.shadow import (
    PAGE_MAX,
    current_pair,
    disagreements,
    shadow_status,
)
from wildloop.processing.predict_job import submit_shadow_recent
from wildloop.processing.shadow import request_agreement, set_share
from wildloop.store.types import MAX_ID
from wildloop.users.roles import Actor, require_admin, require_writer
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor

router = APIRouter(tags=["shadow"])
ActorDep = Annotated[Actor, Depends(current_actor)]
Outcome = Literal["champion_only", "challenger_only", "different_class", "different_boxes"]


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float = Field(ge=0, le=1)


class RunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float | None = Field(default=None, ge=0, le=1)
    limit: int = Field(default=500, ge=1, le=50_000)  # the selection runs in the request


@router.get("/shadow")
def shadow(request: Request, actor: ActorDep) -> dict[str, Any]:
    """The share, the champion and challenger, and the stored agreement figures."""
    return shadow_status(project_of(request))


@router.put("/shadow")
def put_shadow(body: ShareIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Set ``[shadow] share`` (admins; audited); applies to items ingested from now on."""
    require_admin(actor, "change the shadow share")
    project = project_of(request)
    set_share(project, body.share, actor.id)
    return shadow_status(project)


@router.post("/shadow/run", status_code=202)
def run_shadow(body: RunIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue a shadow run over the ``limit`` most recent images now (admins)."""
    require_admin(actor, "start a shadow run")
    submitted = submit_shadow_recent(
        project_of(request), share=body.share, limit=body.limit, created_by=actor.id
    )
    if submitted is None:
        return {"job_id": None, "items": 0}
    return {"job_id": submitted.job_id, "items": submitted.items}


@router.post("/shadow/refresh", status_code=202)
def refresh_shadow(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue (or find) the job that judges newly shadowed items."""
    require_writer(actor)
    with project_of(request).db.session() as session:
        current_pair(session)
        return {"job_id": request_agreement(session)}


@router.get("/shadow/disagreements")
def shadow_disagreements(
    request: Request,
    actor: ActorDep,
    outcome: Outcome | None = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> dict[str, Any]:
    """Items where the two disagree, by media id; ``next`` is the ``after`` of the next page."""
    with project_of(request).db.session() as session:
        champion, challenger = current_pair(session)
        page, cursor = disagreements(
            session, champion, challenger, outcome=outcome, after=after, limit=limit
        )
    return {
        "champion_id": champion,
        "challenger_id": challenger,
        "items": [d.as_dict() for d in page],
        "next": cursor,
    }
