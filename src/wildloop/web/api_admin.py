"""JSON API for the project around the review: who am I, users, tokens, dashboard, jobs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from wildloop.registry import aliases
from wildloop.review.dashboard import jobs_view
from wildloop.review.filters import FilterNames
from wildloop.users import accounts, tokens
from wildloop.users.roles import Actor, require_admin
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor
from wildloop.web.figures import dashboard_figures
from wildloop.web.params import TokenIdPath
from wildloop.web.schemas import (
    AccountOut,
    JobOut,
    MeOut,
    NewTokenOut,
    TokenIn,
    TokenOut,
    UserIn,
    UserPatch,
)

router = APIRouter()
ActorDep = Annotated[Actor, Depends(current_actor)]


@router.get("/me", response_model=MeOut, tags=["users"])
def me(actor: ActorDep) -> MeOut:
    return MeOut(id=actor.id, username=actor.username, role=actor.role, can_write=actor.can_write)


@router.get("/users", response_model=list[AccountOut], tags=["users"])
def list_users(request: Request, actor: ActorDep) -> list[AccountOut]:
    require_admin(actor)
    with project_of(request).db.session() as session:
        return [AccountOut.model_validate(a) for a in accounts.list_users(session)]


@router.post("/users", response_model=AccountOut, status_code=201, tags=["users"])
def create_user(body: UserIn, request: Request, actor: ActorDep) -> AccountOut:
    with project_of(request).db.session() as session:
        account = accounts.create_user(session, body.username, body.role, body.password, by=actor)
    return AccountOut.model_validate(account)


@router.patch("/users/{username}", response_model=AccountOut, tags=["users"])
def update_user(username: str, body: UserPatch, request: Request, actor: ActorDep) -> AccountOut:
    with project_of(request).db.session() as session:
        account = accounts.update_user(
            session,
            username,
            by=actor,
            role=body.role,
            password=body.password,
            disabled=body.disabled,
        )
    return AccountOut.model_validate(account)


@router.get("/tokens", response_model=list[TokenOut], tags=["users"])
def list_tokens(request: Request, actor: ActorDep) -> list[TokenOut]:
    with project_of(request).db.session() as session:
        return [TokenOut.model_validate(t) for t in tokens.list_tokens(session, actor)]


@router.post("/tokens", response_model=NewTokenOut, status_code=201, tags=["users"])
def create_token(body: TokenIn, request: Request, actor: ActorDep) -> NewTokenOut:
    """A new API token for you; the token is in this response only."""
    with project_of(request).db.session() as session:
        info, plain = tokens.create_token(session, actor, body.name)
    return NewTokenOut(**TokenOut.model_validate(info).model_dump(), token=plain)


@router.delete("/tokens/{token_id}", response_model=TokenOut, tags=["users"])
def revoke_token(token_id: TokenIdPath, request: Request, actor: ActorDep) -> TokenOut:
    with project_of(request).db.session() as session:
        return TokenOut.model_validate(tokens.revoke_token(session, actor, token_id))


@router.get("/dashboard", tags=["project"])
def dashboard(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Media by status, split and camera; review progress; counts per class; marks (these
    are up to 15 s old, see 'as_of'); jobs (live)."""
    figures = dashboard_figures(request)
    with project_of(request).db.session() as session:
        jobs = [JobOut.model_validate(j).model_dump(mode="json") for j in jobs_view(session)]
    return {**figures, "jobs": jobs}


@router.get("/jobs", response_model=list[JobOut], tags=["project"])
def list_jobs(request: Request, actor: ActorDep, active: bool = False) -> list[JobOut]:
    """Jobs with live progress (running and queued first); poll this for progress bars."""
    with project_of(request).db.session() as session:
        return [JobOut.model_validate(j) for j in jobs_view(session, active_only=active)]


@router.get("/facets", tags=["project"])
def facets(request: Request, actor: ActorDep) -> dict[str, Any]:
    """What the grid filters can take: classes, cameras, model versions and the champion."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        champion = aliases.resolve(session, "champion")
    return {
        "classes": project.classes.names,
        "cameras": sorted(names.cameras.values()),
        "models": [
            {"id": i, "name": n, "champion": i == champion} for i, n in names.models.items()
        ],
        "invalid_reasons": ["wrong_species", "rear_end", "poor_quality", "other"],
        "marks": ["missed", "false_positive"],
    }
