"""The app factory: ``create_app(project)`` builds the whole web app for one project.

Nothing happens at import time; ``wildloop serve`` and the tests call the factory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from fastapi_offline import FastAPIOffline
from starlette.middleware.sessions import SessionMiddleware

from wildloop import __version__
from wildloop.composition import register_job_kinds
from wildloop.project import Project
from wildloop.users.throttle import LoginThrottle
from wildloop.web import (
    api_admin,
    api_analytics,
    api_audio,
    api_cameras,
    api_events,
    api_index,
    api_individuals,
    api_label_issues,
    api_loop,
    api_models,
    api_repeats,
    api_review,
    api_shadow,
    api_thresholds,
    api_two_stage,
    api_uploads,
    audio_pages,
    camera_pages,
    errors,
    event_pages,
    files,
    individual_pages,
    label_issue_pages,
    models_page,
    pages,
    repeat_pages,
)
from wildloop.web.auth import secret_key
from wildloop.web.middleware import MAX_BODY_BYTES, BodySizeLimit, ServerTiming

HERE = Path(__file__).parent
SESSION_DAYS = 14
DOCS_ASSETS = "/api/docs/assets"


def create_app(
    project: Project,
    *,
    secret: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    secure_cookies: bool = False,
) -> FastAPI:
    """A FastAPI app serving ``project``: JSON API at /api/v1 (docs at /api/docs) and pages."""
    register_job_kinds()  # the executor serving this app runs the built-in kinds
    # Swagger UI's script and style are served from the fastapi-offline package: the machines
    # this runs on are often offline, and a CDN-hosted docs page renders blank there.
    app = FastAPIOffline(
        title=f"wildloop · {project.config.name}",
        version=__version__,
        docs_url=api_index.DOCS_URL,
        redoc_url=None,
        openapi_url=api_index.OPENAPI_URL,
        static_url=DOCS_ASSETS,
        # No validator badge: it is an image fetched from validator.swagger.io.
        swagger_ui_parameters={"validatorUrl": None},
    )
    app.state.project = project
    app.state.login_throttle = LoginThrottle()
    app.state.templates = Jinja2Templates(directory=HERE / "templates")
    app.state.static_version = _static_version(HERE / "static")
    errors.install(app)
    app.include_router(api_index.router, prefix="/api/v1")
    app.include_router(api_review.router, prefix="/api/v1")
    app.include_router(api_admin.router, prefix="/api/v1")
    app.include_router(api_loop.router, prefix="/api/v1")
    app.include_router(api_models.router, prefix="/api/v1")
    app.include_router(api_audio.router, prefix="/api/v1")
    app.include_router(api_analytics.router, prefix="/api/v1")
    app.include_router(api_two_stage.router, prefix="/api/v1")
    app.include_router(api_individuals.router, prefix="/api/v1")
    app.include_router(api_thresholds.router, prefix="/api/v1")
    app.include_router(api_cameras.router, prefix="/api/v1")
    app.include_router(api_events.router, prefix="/api/v1")
    app.include_router(api_repeats.router, prefix="/api/v1")
    app.include_router(api_label_issues.router, prefix="/api/v1")
    app.include_router(api_uploads.router, prefix="/api/v1")
    app.include_router(api_shadow.router, prefix="/api/v1")
    app.include_router(files.router)
    app.include_router(pages.router)
    app.include_router(models_page.router)
    app.include_router(audio_pages.router)
    app.include_router(individual_pages.router)
    app.include_router(camera_pages.router)
    app.include_router(event_pages.router)
    app.include_router(repeat_pages.router)
    app.include_router(label_issue_pages.router)
    app.include_router(api_analytics.pages)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(
        SessionMiddleware,
        secret_key=secret or secret_key(project),
        session_cookie="wildloop_session",
        max_age=SESSION_DAYS * 24 * 3600,
        same_site="lax",
        https_only=secure_cookies,
    )
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes)
    app.add_middleware(ServerTiming)
    return app


def _static_version(folder: Path) -> str:
    """A hash of the static files, appended to their URLs so browsers fetch new versions."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]
