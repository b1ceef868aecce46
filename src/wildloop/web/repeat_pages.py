"""The repeat-detections page: one tile per undecided group, decided with one key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wildloop.web.api_repeats import Iou, MinBursts, MinFrames, list_repeats
from wildloop.web.pages import PageActor, render

router = APIRouter(include_in_schema=False)


@router.get("/repeats", response_class=HTMLResponse)
def repeats_page(
    request: Request,
    actor: PageActor,
    min_frames: MinFrames = 10,
    min_bursts: MinBursts = 3,
    iou: Iou = 0.85,
) -> Response:
    groups = list_repeats(request, actor, min_frames, min_bursts, iou)
    rule = {"min_frames": min_frames, "min_bursts": min_bursts, "iou": iou}
    return render(
        request,
        "repeats.html",
        actor,
        groups=[g.model_dump() for g in groups],
        rule=rule,
    )
