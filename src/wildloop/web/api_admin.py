"""JSON API for the project around the review: who am I, users, tokens, dashboard, jobs."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import TypeAdapter

from wildloop.registry import aliases
from wildloop.review.dashboard import JobView, jobs_view
from wildloop.review.filters import FilterNames
from wildloop.users import accounts, tokens
from wildloop.users.accounts import Account
from wildloop.users.roles import Actor, require_admin
from wildloop.users.tokens import TokenInfo
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor
from wildloop.web.figures import dashboard_figures
from wildloop.web.params import TokenIdPath
from wildloop.web.schemas import MeOut, NewTokenOut, TokenIn, UserIn, UserPatch

router = APIRouter()
JOBS_JSON = TypeAdapter(list[JobView])
ActorDep = Annotated[Actor, Depends(current_actor)]


@router.get("/me", response_model=MeOut, tags=["users"])
def me(actor: ActorDep) -> MeOut:
    return MeOut(id=actor.id, username=actor.username, role=actor.role, can_write=actor.can_write)


@router.get("/users", response_model=list[Account], tags=["users"])
def list_users(request: Request, actor: ActorDep) -> list[Account]:
    require_admin(actor)
    with project_of(request).db.session() as session:
        return accounts.list_users(session)


@router.post("/users", response_model=Account, status_code=201, tags=["users"])
def create_user(body: UserIn, request: Request, actor: ActorDep) -> Account:
    with project_of(request).db.session() as session:
        account = accounts.create_user(session, body.username, body.role, body.password, by=actor)
    return account


@router.patch("/users/{username}", response_model=Account, tags=["users"])
def update_user(username: str, body: UserPatch, request: Request, actor: ActorDep) -> Account:
    with project_of(request).db.session() as session:
        account = accounts.update_user(
            session,
            username,
            by=actor,
            role=body.role,
            password=body.password,
            disabled=body.disabled,
        )
    return account


@router.get("/tokens", response_model=list[TokenInfo], tags=["users"])
def list_tokens(request: Request, actor: ActorDep) -> list[TokenInfo]:
    with project_of(request).db.session() as session:
        return tokens.list_tokens(session, actor)


@router.post("/tokens", response_model=NewTokenOut, status_code=201, tags=["users"])
def create_token(body: TokenIn, request: Request, actor: ActorDep) -> NewTokenOut:
    """A new API token for you; the token is in this response only."""
    with project_of(request).db.session() as session:
        info, plain = tokens.create_token(session, actor, body.name)
    return NewTokenOut(**asdict(info), token=plain)


@router.delete("/tokens/{token_id}", response_model=TokenInfo, tags=["users"])
def revoke_token(token_id: TokenIdPath, request: Request, actor: ActorDep) -> TokenInfo:
    with project_of(request).db.session() as session:
        return tokens.revoke_token(session, actor, token_id)


@router.get("/dashboard", tags=["project"])
def dashboard(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Media by status, split and camera; review progress; counts per class; marks (these
    are up to 15 s old, see 'as_of'); jobs (live)."""
    figures = dashboard_figures(request)
    with project_of(request).db.session() as session:
        jobs = JOBS_JSON.dump_python(jobs_view(session), mode="json")
    return {**figures, "jobs": jobs}


@router.get("/jobs", response_model=list[JobView], tags=["project"])
def list_jobs(request: Request, actor: ActorDep, active: bool = False) -> list[JobView]:
    """Jobs with live progress (running and queued first); poll this for progress bars."""
    with project_of(request).db.session() as session:
        return jobs_view(session, active_only=active)


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
