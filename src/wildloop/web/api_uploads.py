"""The two endpoints a field device uses, the only ones an ``uploader`` token may call.

- ``PUT /api/v1/uploads/{sha256}``: a file's bytes, whole or in chunks (``Content-Range:
  bytes START-END/TOTAL``; ``bytes */TOTAL`` with no body finishes an upload whose last
  chunk was written but not answered). ``HEAD`` or ``GET`` on the same URL tells how many
  bytes the server holds, so a device whose connection dropped goes on from there.
- ``GET /api/v1/models/champion.onnx`` (or a version's id or name): the model's ONNX bytes
  with their sha256 as ``ETag``; ``If-None-Match`` with that tag answers 304, so a device
  downloads a model only when it changed.

Parsing only: ``uploads.receiver`` and ``models.pull`` do the work and check the roles.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from wildloop.errors import BadInput
from wildloop.models.pull import DeviceModel, device_model, device_model_file
from wildloop.uploads.receiver import UploadFields, UploadOutcome, receive_chunk, upload_state
from wildloop.users.roles import Actor
from wildloop.web.api_review import project_of
from wildloop.web.auth import device_actor

router = APIRouter(tags=["devices"])
DeviceDep = Annotated[Actor, Depends(device_actor)]
OFFSET_HEADER = "Upload-Offset"
_RANGE = re.compile(r"bytes (\d{1,15})-(\d{1,15})/(\d{1,15})")
_FINISH = re.compile(r"bytes \*/(\d{1,15})")
_STATUS = {"created": 201, "exists": 200, "partial": 202}


@router.get("/uploads/{sha256}")
@router.head("/uploads/{sha256}", include_in_schema=False)  # the same answer, headers only
def upload_status(sha256: str, request: Request, actor: DeviceDep) -> JSONResponse:
    """Where the upload of this content stands: ``exists`` with its media id, or ``partial``
    with the bytes held (``offset``, also in the ``Upload-Offset`` header; 0 if never
    started)."""
    return _respond(upload_state(project_of(request), actor, sha256), 200)


@router.put(
    "/uploads/{sha256}",
    status_code=201,
    responses={
        200: {"description": "these bytes were ingested before: the existing media id"},
        202: {"description": "chunk stored; send the next one from `offset`"},
        409: {"description": "the chunk does not start where the upload stands"},
    },
)
async def upload(
    sha256: str,
    request: Request,
    actor: DeviceDep,
    camera: Annotated[str | None, Query(max_length=200)] = None,
    captured_at: datetime | None = None,
    name: Annotated[str | None, Query(max_length=255)] = None,
) -> JSONResponse:
    """Store a file (or one chunk of it) whose bytes hash to ``sha256``. The camera is
    ``camera`` or the device account's name; the capture time is ``captured_at`` (the
    camera's local time) or the file's EXIF time. The last chunk verifies the hash, ingests
    the file and submits the champion's prediction job (``job_id``). Chunks must fit the
    server's request body limit (1 MB by default)."""
    data = await request.body()
    start, total = _chunk_range(request.headers.get("content-range"), len(data))
    fields = UploadFields(camera=camera, captured_at=captured_at, name=name)
    outcome = await run_in_threadpool(
        receive_chunk, project_of(request), actor, sha256, data, start, total, fields
    )
    return _respond(outcome, _STATUS[outcome.state])


@router.get(
    "/models/{ref}.onnx",
    response_class=FileResponse,
    responses={
        304: {"description": "the model is the one named in If-None-Match"},
        409: {"description": "the version is not one ONNX file (a pipeline, an audio head)"},
    },
)
def pull_model(ref: str, request: Request, actor: DeviceDep) -> Response:
    """The ONNX file of ``ref`` (``champion``, a version id or name). Headers: ``ETag`` and
    ``X-Model-Sha256`` (the file's sha256), ``X-Model-Id``, ``X-Model-Version`` (the name,
    percent-encoded) and ``X-Model-Classes`` (the output classes in order, JSON). A pipeline
    champion is refused with 409: its detector alone would name different classes."""
    project = project_of(request)
    model = device_model(project, ref)
    headers = _model_headers(model)
    if _matches(request.headers.get("if-none-match"), model.sha256):
        return Response(status_code=304, headers=headers)
    return FileResponse(
        device_model_file(project, model),
        media_type="application/octet-stream",
        filename=f"model-{model.sha256[:12]}.onnx",
        headers=headers,
    )


def _chunk_range(header: str | None, length: int) -> tuple[int, int]:
    """(start, total) from ``Content-Range``; no header means the body is the whole file."""
    if header is None:
        return 0, length
    text = header.strip()
    if finish := _FINISH.fullmatch(text):
        if length:
            raise BadInput("Content-Range 'bytes */TOTAL' finishes an upload: send no body")
        total = int(finish[1])
        return total, total
    match = _RANGE.fullmatch(text)
    if match is None:
        raise BadInput(
            f"Content-Range {text[:80]!r} is not 'bytes START-END/TOTAL' (END inclusive) "
            "or 'bytes */TOTAL'"
        )
    start, end, total = (int(g) for g in match.groups())
    if end - start + 1 != length:
        raise BadInput(
            f"Content-Range names {end - start + 1} bytes ({start}-{end}) but the body has {length}"
        )
    return start, total


def _respond(outcome: UploadOutcome, status: int) -> JSONResponse:
    headers = {OFFSET_HEADER: str(outcome.offset)}
    if outcome.media_id is not None:
        headers["X-Media-Id"] = str(outcome.media_id)
    return JSONResponse(outcome.as_dict(), status_code=status, headers=headers)


def _model_headers(model: DeviceModel) -> dict[str, str]:
    return {
        "ETag": f'"{model.sha256}"',
        "Cache-Control": "no-cache",
        "X-Model-Sha256": model.sha256,
        "X-Model-Id": str(model.version_id),
        "X-Model-Version": quote(model.name),
        "X-Model-Classes": json.dumps(model.classes),
    }


def _matches(if_none_match: str | None, sha256: str) -> bool:
    if not if_none_match:
        return False
    tags = {t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")}
    return "*" in tags or sha256 in tags
