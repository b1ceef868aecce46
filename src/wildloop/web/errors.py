"""Every error a request can meet becomes a response here, in one place.

WildloopError subclasses carry their HTTP status; request-shape errors (malformed JSON, wrong
types, unknown routes) get the same JSON body: ``{"error": {"type", "message", "status"}}``.
Pages get an HTML error page instead, and a login redirect when no one is logged in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from wildloop.errors import Unauthenticated, WildloopError

API_PREFIXES = ("/api/", "/files/")


def install(app: FastAPI) -> None:
    app.add_exception_handler(WildloopError, _wildloop_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


def error_body(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, "status": status}}


def respond(request: Request, status: int, kind: str, message: str) -> Response:
    if _wants_html(request):
        templates = request.app.state.templates
        return templates.TemplateResponse(  # type: ignore[no-any-return]
            request,
            "error.html",
            {"status": status, "kind": kind, "message": message},
            status_code=status,
        )
    return JSONResponse(error_body(status, kind, message), status_code=status)


async def _wildloop_error(request: Request, exc: WildloopError) -> Response:
    if isinstance(exc, Unauthenticated) and _wants_html(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    return respond(request, exc.http_status, type(exc).__name__, str(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    problems = list(exc.errors())
    if any(p.get("type") == "json_invalid" for p in problems):
        detail = next(p for p in problems if p.get("type") == "json_invalid")
        reason = (detail.get("ctx") or {}).get("error", "cannot be parsed")
        return respond(request, 400, "BadInput", f"the request body is not valid JSON: {reason}")
    parts = []
    for p in problems[:10]:
        where = ".".join(str(x) for x in p.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {p.get('msg', 'invalid')}")
    return respond(request, 422, "BadInput", "invalid request: " + "; ".join(parts))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    kind = {404: "NotFound", 405: "MethodNotAllowed"}.get(exc.status_code, "HTTPError")
    message = str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such page or endpoint: {request.url.path}"
    return respond(request, exc.status_code, kind, message)


def _wants_html(request: Request) -> bool:
    if request.url.path.startswith(API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")
