"""JSON API for reviewing audio windows: the window list, one window, its spectrogram and
playback clip, and its labels as time spans and time-frequency boxes.

Review actions (accept, a class, nothing, mark, undo) and batches use the same routes as
images (``/media/{id}/actions``, ``/batch``): a window is a media item.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from wildloop.audio.clips import MAX_CONTEXT_S, clip
from wildloop.audio.embedders import embedder_key
from wildloop.audio.search import (
    Hit,
    SearchIndex,
    index_paths,
    search_by_upload,
    search_by_window,
)
from wildloop.audio.spectrogram import spectrogram
from wildloop.project import Project
from wildloop.review import cursors, grid
from wildloop.review.actions import save_boxes
from wildloop.review.filters import FilterNames, GridFilter
from wildloop.review.windows import WindowInfo, window_detail, window_info, window_infos
from wildloop.store.tables import Media
from wildloop.users.roles import Actor
from wildloop.web.api_review import FILTER_HELP, context_of, filter_of, project_of
from wildloop.web.audio_schemas import (
    SimilarOut,
    WindowDetailOut,
    WindowItemOut,
    WindowLabelsIn,
    WindowPageOut,
)
from wildloop.web.auth import current_actor
from wildloop.web.index_cache import loaded_index
from wildloop.web.params import MediaIdPath
from wildloop.web.schemas import ActionOut

router = APIRouter(prefix="/windows", tags=["audio"])
ActorDep = Annotated[Actor, Depends(current_actor)]
CACHE = "private, max-age=31536000, immutable"
MAX_SIMILAR = 200
WINDOW_FILTER_HELP = FILTER_HELP + " Also: time_from, time_to (clock time, e.g. 20:00 to 05:00)."


@router.get("", response_model=WindowPageOut, description=WINDOW_FILTER_HELP)
def list_windows(
    request: Request,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=cursors.MAX_LIMIT)] = cursors.DEFAULT_LIMIT,
) -> WindowPageOut:
    """One page of audio windows matching the filter, each with its spectrogram tile."""
    with project_of(request).db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names).with_(kind="window")
        return window_page(request, session, flt, names, cursor, limit)


def window_page(
    request: Request,
    session: Session,
    flt: GridFilter,
    names: FilterNames,
    cursor: str | None,
    limit: int = cursors.DEFAULT_LIMIT,
) -> WindowPageOut:
    """One page of windows in ``flt`` as the API and the list page show them."""
    found = grid.page(session, flt, cursor=cursor, limit=limit)
    infos = window_infos(session, [i.id for i in found.items])
    classes = project_of(request).classes
    items = [
        WindowItemOut.of(i, infos[i.id], classes, names.cameras)
        for i in found.items
        if i.id in infos
    ]
    return WindowPageOut(
        items=items, next_cursor=found.next_cursor, model_version_id=found.model_version_id
    )


@router.get("/{media_id}", response_model=WindowDetailOut, description=WINDOW_FILTER_HELP)
def get_window(media_id: MediaIdPath, request: Request, actor: ActorDep) -> WindowDetailOut:
    """One window with its predictions, labels, neighbours in the filter, spectrogram and
    clip URLs."""
    return window_out(request, media_id)


def window_out(request: Request, media_id: int) -> WindowDetailOut:
    """The detail of one window as the API and the review page show it."""
    with project_of(request).db.session() as session:
        names = FilterNames.load(session)
        flt = filter_of(request, names)
        detail, info = window_detail(session, context_of(request), media_id, flt)
    return WindowDetailOut.placed(detail, info)


@router.get("/{media_id}/spectrogram", response_class=FileResponse)
async def window_spectrogram(
    media_id: MediaIdPath,
    request: Request,
    actor: ActorDep,
    view: Literal["context", "window"] = "context",
) -> FileResponse:
    """The window's spectrogram as PNG: with its neighbours either side (``context``), or the
    window alone (``window``, list tiles). Rendered once, then served from the cache."""
    project = project_of(request)
    return await run_in_threadpool(_spectrogram, project, media_id, view)


def _spectrogram(project: Project, media_id: int, view: str) -> FileResponse:
    info = _info(project, media_id)
    t0, t1 = info.view() if view == "context" else (info.t_start, info.t_end)
    path = spectrogram(
        project.path("thumbnails"), info.recording_file, info.recording_sha256, t0, t1
    )
    headers = {"Cache-Control": CACHE, "ETag": f'"{info.recording_sha256[:16]}-{t0:g}-{t1:g}"'}
    return FileResponse(path, media_type="image/png", headers=headers)


@router.get("/{media_id}/clip", response_class=Response)
async def window_clip(
    media_id: MediaIdPath,
    request: Request,
    actor: ActorDep,
    context: Annotated[float, Query(ge=0, le=MAX_CONTEXT_S)] = 0.0,
) -> Response:
    """The window as WAV for playback, with ``context`` seconds either side (clipped to the
    recording); X-Clip-Start/X-Clip-End give the clip's place in the recording."""
    project = project_of(request)
    return await run_in_threadpool(_clip, project, media_id, context)


def _clip(project: Project, media_id: int, context: float) -> Response:
    info = _info(project, media_id)
    found = clip(info.recording_file, info.t_start, info.t_end, context)
    headers = {
        "Cache-Control": "private, max-age=3600",
        "X-Clip-Start": f"{found.start_s:.6f}",
        "X-Clip-End": f"{found.end_s:.6f}",
    }
    return Response(found.wav, media_type="audio/wav", headers=headers)


@router.put("/{media_id}/labels", response_model=ActionOut)
def put_window_labels(
    media_id: MediaIdPath, body: WindowLabelsIn, request: Request, actor: ActorDep
) -> ActionOut:
    """Replace the window's labels: whole-window classes and boxes drawn on the spectrogram
    (seconds of the recording, hertz). Shown predictions no label confirms are recorded as
    false positives; a stale ``expected_revision`` is refused with 409."""
    ctx = context_of(request)
    with project_of(request).db.session() as session:
        labels = body.to_labels(ctx.classes, window_info(session, media_id))
        model_id = (
            body.model_version_id
            if body.model_version_id is not None
            else grid.champion_id(session)
        )
        result = save_boxes(
            session,
            ctx,
            actor,
            media_id,
            labels,
            expected_revision=body.expected_revision,
            model_id=model_id,
        )
    return ActionOut.of(result)


@router.get("/{media_id}/similar", response_model=SimilarOut)
async def similar_windows(
    media_id: MediaIdPath,
    request: Request,
    actor: ActorDep,
    k: Annotated[int, Query(ge=1, le=MAX_SIMILAR)] = 30,
    same_recording: bool = False,
) -> SimilarOut:
    """Search by example: the ``k`` windows whose embeddings lie nearest this window's
    (other recordings only, unless ``same_recording``), best first, for review. Needs the
    search index (`wildloop audio index`, or the audio-index job)."""
    return await run_in_threadpool(similar_out, request, media_id, k, same_recording)


@router.post("/similar-to-clip", response_model=SimilarOut)
async def similar_to_clip(
    request: Request,
    actor: ActorDep,
    k: Annotated[int, Query(ge=1, le=MAX_SIMILAR)] = 30,
) -> SimilarOut:
    """Search by example from an uploaded clip: the request body is the audio file's bytes
    (wav, flac, mp3 or ogg, up to a minute); its windows' mean embedding is searched like a
    window's. Needs the search index."""
    data = await request.body()
    return await run_in_threadpool(clip_similar_out, request, data, k)


def clip_similar_out(request: Request, data: bytes, k: int) -> SimilarOut:
    project = project_of(request)
    index = _search_index(request)
    return _similar(project, None, index, search_by_upload(project, data, k, index=index))


def similar_out(request: Request, media_id: int, k: int, same_recording: bool) -> SimilarOut:
    project = project_of(request)
    index = _search_index(request)
    hits = search_by_window(project, media_id, k, same_recording=same_recording, index=index)
    return _similar(project, media_id, index, hits)


def _similar(
    project: Project, query_id: int | None, index: SearchIndex, hits: list[Hit]
) -> SimilarOut:
    """The hits as reviewable window items, most similar first."""
    similarity = {h.media_id: h.score for h in hits}
    with project.db.session() as session:
        names = FilterNames.load(session)
        model_id = grid.champion_id(session)
        rows = session.execute(
            grid.select_items(model_id, inner=False).where(Media.id.in_(list(similarity)))
        ).all()
        found = {r.id: grid.item_of(r) for r in rows}
        infos = window_infos(session, list(found))
    items = [
        WindowItemOut.of(found[i], infos[i], project.classes, names.cameras).model_copy(
            update={"similarity": similarity[i]}
        )
        for i in similarity
        if i in found and i in infos
    ]
    return SimilarOut(query_id=query_id, embedder=index.state.embedder, items=items)


def _search_index(request: Request) -> SearchIndex:
    """The loaded index of the project's embedder (see ``index_cache``)."""
    project = project_of(request)
    key = embedder_key(project.config.audio, project.root)
    path, _ = index_paths(project, key)
    return loaded_index(request, "search_index", key, path, lambda: SearchIndex(project, key))


def _info(project: Project, media_id: int) -> WindowInfo:
    with project.db.session() as session:
        return window_info(session, media_id)
