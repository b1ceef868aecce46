"""JSON API for cameras' location priors: read by anyone signed in, changed by admins.

A change acts on predictions made from then on, like a new threshold; reprocessing applies
it to older ones.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from wildloop.media.camera_priors import list_priors, set_prior
from wildloop.users.roles import Actor, require_admin
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor

router = APIRouter(tags=["cameras"])
ActorDep = Annotated[Actor, Depends(current_actor)]
ClassName = Annotated[str, Field(min_length=1, max_length=120)]


class PriorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed: list[ClassName] | None = Field(
        default=None, max_length=1000, description="classes seen here; null or [] clears"
    )
    rollup: ClassName | None = Field(default=None, description="parent for the others")


@router.get("/cameras/priors")
def priors(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    """Every camera's allow-list (null: any class) and roll-up class."""
    del actor
    project = project_of(request)
    with project.db.session() as session:
        return list_priors(session)


@router.put("/cameras/{name}/priors")
def put_prior(
    name: Annotated[str, Path(min_length=1, max_length=200)],
    body: PriorIn,
    request: Request,
    actor: ActorDep,
) -> dict[str, Any]:
    """Replace a camera's allow-list and roll-up (admins; audited)."""
    require_admin(actor, "change location priors")
    project = project_of(request)
    with project.db.session() as session:
        return set_prior(session, name, body.allowed, body.rollup, project.classes.names, actor.id)
