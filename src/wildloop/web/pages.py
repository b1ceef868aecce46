"""Server-rendered pages: login, dashboard, grid, review screen, marked list, account, users.

Pages render the first view on the server (no blank screen while scripts load); the small
scripts in static/ then talk to the same JSON API as any other client.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from wildloop.errors import Unauthenticated
from wildloop.review import cursors, grid
from wildloop.review.dashboard import jobs_view
from wildloop.review.detail import media_detail
from wildloop.review.filters import FilterNames
from wildloop.review.marked import marked_page
from wildloop.review.queue import value_queue
from wildloop.store.tables import Media
from wildloop.users import accounts
from wildloop.users.roles import Actor, require_admin
from wildloop.users.throttle import LoginThrottle
from wildloop.web.api_review import context_of, filter_of, project_of
from wildloop.web.auth import (
    check_csrf,
    csrf_token,
    log_in,
    log_out,
    optional_actor,
)
from wildloop.web.figures import dashboard_figures
from wildloop.web.params import MediaIdPath
from wildloop.web.schemas import GridItemOut, MediaDetailOut

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)


def page_actor(request: Request) -> Actor:
    actor = optional_actor(request)
    if actor is None:
        raise Unauthenticated("log in first")
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]


def render(request: Request, name: str, actor: Actor | None, **context: Any) -> Response:
    project = project_of(request)
    status = context.pop("status_code", 200)
    base = {
        "actor": actor,
        "project": project.config.name,
        "classes": project.classes.names,
        "csrf": csrf_token(request),
        "static_version": request.app.state.static_version,
    }
    return request.app.state.templates.TemplateResponse(  # type: ignore[no-any-return]
        request, name, base | context, status_code=status
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if optional_actor(request) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=80)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token_field: Annotated[str, Form(alias="csrf_token")] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_csrf(request, csrf_token_field)
    throttle: LoginThrottle = request.app.state.login_throttle
    address = request.client.host if request.client else "unknown"
    wait = throttle.wait_seconds(username, address)
    if wait > 0:
        message = (
            f"too many failed logins for this account or address; try again in {math.ceil(wait)} s"
        )
        return render(
            request, "login.html", None, next=_safe_next(next), error=message, status_code=429
        )
    try:
        with project_of(request).db.session() as session:
            actor = accounts.authenticate(session, username, password)
    except Unauthenticated as exc:
        throttle.failed(username, address)
        log.warning("failed login for %r from %s", username, address)
        return render(
            request, "login.html", None, next=_safe_next(next), error=str(exc), status_code=401
        )
    throttle.succeeded(username)
    log_in(request, actor)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(
    request: Request, csrf_token_field: Annotated[str, Form(alias="csrf_token")] = ""
) -> Response:
    check_csrf(request, csrf_token_field)
    log_out(request)
    return RedirectResponse("/login", status_code=303)


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request, actor: PageActor) -> Response:
    figures = dashboard_figures(request)
    with project_of(request).db.session() as session:
        jobs = jobs_view(session)
    return render(request, "dashboard.html", actor, summary=figures, overview=figures, jobs=jobs)


@router.get("/grid", response_class=HTMLResponse)
def grid_page(request: Request, actor: PageActor, cursor: str | None = None) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names)
        found = grid.page(session, flt, cursor=cursor)
        champion = grid.champion_id(session)
    params = flt.to_params(project.classes, names)
    return render(
        request,
        "grid.html",
        actor,
        items=[GridItemOut.of(i, project.classes, names.cameras) for i in found.items],
        next_cursor=found.next_cursor,
        params=params,
        query=urlencode(params),
        cameras=sorted(names.cameras.values()),
        models=[(i, n, i == champion) for i, n in names.models.items()],
    )


@router.get("/grid/tiles", response_class=HTMLResponse)
def grid_tiles(request: Request, actor: PageActor, cursor: str | None = None) -> Response:
    """The next page of tiles as an HTML fragment (infinite scroll)."""
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names)
        found = grid.page(session, flt, cursor=cursor)
    params = flt.to_params(project.classes, names)
    response = render(
        request,
        "_tiles.html",
        actor,
        items=[GridItemOut.of(i, project.classes, names.cameras) for i in found.items],
        query=urlencode(params),
    )
    response.headers["X-Next-Cursor"] = found.next_cursor or ""
    return response


@router.get("/media/{media_id}", response_class=HTMLResponse)
def review_page(media_id: MediaIdPath, request: Request, actor: PageActor) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        if session.scalar(select(Media.kind).where(Media.id == media_id)) == "window":
            # An audio window (linked from the grid or the marked list) has its own screen.
            query = request.url.query
            return RedirectResponse(f"/audio/{media_id}" + (f"?{query}" if query else ""), 303)
        names = FilterNames.load(session)
        flt = filter_of(request, names)
        detail = media_detail(session, context_of(request), media_id, flt)
    params = flt.to_params(project.classes, names)
    return render(
        request,
        "review.html",
        actor,
        detail=MediaDetailOut.of(detail).as_json(),
        params=params,
        query=urlencode(params),
        thresholds=project.config.thresholds.model_dump(),
    )


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, actor: PageActor) -> Response:
    """Review in "next most valuable" mode: open the queue's top item (or the grid when
    nothing is left to review, or no order is computed yet)."""
    top = value_queue(project_of(request), limit=1).items
    if not top:
        return RedirectResponse("/grid?reviewed=no", 303)
    return RedirectResponse(f"/media/{top[0].media_id}#value", 303)


@router.get("/marked", response_class=HTMLResponse)
def marked_list_page(
    request: Request, actor: PageActor, kind: str | None = None, cursor: str | None = None
) -> Response:
    project = project_of(request)
    with project.db.session() as session:
        names = FilterNames.load(session)
        found = marked_page(session, kind or None, cursor, cursors.DEFAULT_LIMIT)
    rows = [
        (GridItemOut.of(m.item, project.classes, names.cameras), m.marked_at, m.marked_by)
        for m in found.items
    ]
    return render(
        request,
        "marked.html",
        actor,
        rows=rows,
        counts=found.counts,
        total=found.total,
        kind=kind or "",
        next_cursor=found.next_cursor,
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, actor: PageActor) -> Response:
    return render(request, "account.html", actor)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, actor: PageActor) -> Response:
    with project_of(request).db.session() as session:
        require_admin(actor)
        users = accounts.list_users(session)
    return render(request, "users.html", actor, users=users)


def _safe_next(target: str) -> str:
    """Only same-site paths: never redirect a login to another host."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
