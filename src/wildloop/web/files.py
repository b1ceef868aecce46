"""Image files: cached thumbnails and previews, and the original, for logged-in users.

URLs carry the content hash (``?v=``), so responses are cached by the browser for a year and
never re-validated; a changed file gets a new URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from wildloop.domain.paths import path_from_text, readable_path
from wildloop.errors import NotFound
from wildloop.media.thumbnails import SIZES, rendition
from wildloop.project import Project
from wildloop.store.tables import Media
from wildloop.users.roles import Actor
from wildloop.web.auth import current_actor
from wildloop.web.params import MediaIdPath

router = APIRouter(prefix="/files", include_in_schema=False)
CACHE = "private, max-age=31536000, immutable"


@router.get("/{media_id}/{size}")
async def media_file(
    media_id: MediaIdPath,
    size: str,
    request: Request,
    actor: Annotated[Actor, Depends(current_actor)],
) -> FileResponse:
    project: Project = request.app.state.project
    if size != "original" and size not in SIZES:
        raise NotFound(f"no size {size!r}; use thumb, preview or original")
    return await run_in_threadpool(_file, project, media_id, size)


def _file(project: Project, media_id: int, size: str) -> FileResponse:
    with project.db.session() as session:
        row = session.execute(
            select(Media.path, Media.sha256).where(Media.id == media_id, Media.status == "ok")
        ).one_or_none()
    if row is None or row.sha256 is None:
        raise NotFound(f"media {media_id} does not exist or failed ingest")
    source = path_from_text(row.path)
    headers = {"Cache-Control": CACHE, "ETag": f'"{row.sha256[:16]}-{size}"'}
    if size == "original":
        if not source.is_file():
            raise NotFound(
                f"the image file {readable_path(source)} is missing; was it moved or deleted?"
            )
        return FileResponse(source, headers=headers)
    path = rendition(project.path("thumbnails"), source, row.sha256, SIZES[size])
    return FileResponse(path, media_type="image/jpeg", headers=headers)
