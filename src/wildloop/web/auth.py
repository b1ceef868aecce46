"""Who is asking: a logged-in session (signed cookie) or an API token, plus CSRF checks.

Browsers authenticate with a session cookie, so every state-changing request from a cookie
session must carry the session's CSRF token (header ``X-CSRF-Token`` or form field
``csrf_token``). Scripts send ``Authorization: Bearer <token>``: no cookie, no CSRF risk.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import cast

from fastapi import Request

from wildloop.errors import PermissionDenied, Unauthenticated
from wildloop.project import Project
from wildloop.users.accounts import load_actor
from wildloop.users.roles import Actor, require_reader
from wildloop.users.tokens import resolve_token

SESSION_USER = "uid"
SESSION_CSRF = "csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SECRET_ENV = "WILDLOOP_SECRET_KEY"
SECRET_FILE = "secret.key"


def secret_key(project: Project) -> str:
    """The key that signs session cookies: $WILDLOOP_SECRET_KEY, else a random key kept in
    the project folder (readable by its owner only) so logins survive a restart."""
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return from_env
    path: Path = project.root / SECRET_FILE
    if not path.is_file():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def log_in(request: Request, actor: Actor) -> None:
    request.session.clear()
    request.session[SESSION_USER] = actor.id
    csrf_token(request)


def log_out(request: Request) -> None:
    request.session.clear()


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if not expected or not submitted or not hmac.compare_digest(str(expected), submitted):
        raise PermissionDenied(
            "missing or wrong CSRF token; reload the page and try again "
            "(scripts: use an API token instead of a session cookie)"
        )


def optional_actor(request: Request) -> Actor | None:
    """The actor behind the request's token or session, or None when anonymous.

    Every page and endpoint but the two a field device uses comes through here, so an
    uploader's token is refused everywhere else in this one place (PermissionDenied, 403).
    """
    actor = _resolve_actor(request)
    if actor is not None:
        require_reader(actor)
    return actor


def _resolve_actor(request: Request) -> Actor | None:
    cached = getattr(request.state, "actor", False)
    if cached is not False:
        return cast(Actor | None, cached)
    project: Project = request.app.state.project
    actor: Actor | None = None
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("send the API token as 'Authorization: Bearer <token>'")
        with project.db.session() as session:
            actor = resolve_token(session, token.strip())
        request.state.by_token = True
    elif SESSION_USER in request.session:
        with project.db.session() as session:
            actor = load_actor(session, int(request.session[SESSION_USER]))
        if actor is None:
            request.session.clear()
    request.state.actor = actor
    return actor


def current_actor(request: Request) -> Actor:
    """FastAPI dependency: the authenticated actor; writes from a cookie session need CSRF."""
    return _authenticated(request, optional_actor(request))


def device_actor(request: Request) -> Actor:
    """FastAPI dependency of the upload and model-pull endpoints: any authenticated actor,
    uploaders included (the services there check what each role may do)."""
    return _authenticated(request, _resolve_actor(request))


def _authenticated(request: Request, actor: Actor | None) -> Actor:
    if actor is None:
        raise Unauthenticated("log in first, or send an API token (Authorization: Bearer ...)")
    if request.method in UNSAFE_METHODS and not getattr(request.state, "by_token", False):
        check_csrf(request, request.headers.get(CSRF_HEADER))
    return actor
