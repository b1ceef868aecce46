"""JSON API for repeat detections: the groups, one decision per group, and its undo.

A decision over at most ``SYNC_FRAMES`` frames labels them as hard negatives in the request's
one transaction (one short write per frame, as a batch review does) and answers 200; over a
larger group the decision and its region are stored at once, the labelling is a job, and the
answer is 202 with the job id and ``status_url`` (the decision with its job's progress). An
undo does the same. Listing reads the champion's boxes of every camera, bounded by the number
of predictions kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from wildloop.review.repeat_decisions import decide, decision_status, labelled_count, undo
from wildloop.review.repeats import repeat_group, repeat_groups
from wildloop.store.types import MAX_ID
from wildloop.users.roles import Actor, require_writer
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor
from wildloop.web.schemas import _In

router = APIRouter(tags=["repeats"])
ActorDep = Annotated[Actor, Depends(current_actor)]
GroupPath = Annotated[int, Path(ge=1, le=MAX_ID, description="group id (its first prediction)")]
DecisionPath = Annotated[int, Path(ge=1, le=MAX_ID, description="decision id")]
MinFrames = Annotated[int, Query(ge=2, le=100_000)]
MinBursts = Annotated[int, Query(ge=1, le=100_000)]
Iou = Annotated[float, Query(ge=0.5, le=1.0)]
EXAMPLES = 4


class RepeatGroupOut(BaseModel):
    group: int
    camera: str
    box: list[float]
    frames: int
    bursts: int
    examples: list[int]  # media ids of a few frames, spread over the group


class DecisionIn(_In):
    decision: Literal["false_positive", "real"]
    min_frames: int = Field(default=10, ge=2, le=100_000)
    min_bursts: int = Field(default=3, ge=1, le=100_000)
    iou: float = Field(default=0.85, ge=0.5, le=1.0)


class DecisionOut(BaseModel):
    decision_id: int
    decision: str
    labelled: int  # frames labelled so far (0 while a job has them to do)
    job_id: int | None = None
    status_url: str | None = None


def status_url(decision_id: int) -> str:
    return f"/api/v1/repeats/decisions/{decision_id}"


@router.get("/repeats", response_model=list[RepeatGroupOut])
def list_repeats(
    request: Request,
    actor: ActorDep,
    min_frames: MinFrames = 10,
    min_bursts: MinBursts = 3,
    iou: Iou = 0.85,
) -> list[RepeatGroupOut]:
    """Undecided repeat groups of the champion's boxes, most frames first."""
    project = project_of(request)
    with project.db.session() as session:
        groups = repeat_groups(
            session,
            min_score=project.config.thresholds.default,
            iou=iou,
            min_items=min_frames,
            min_bursts=min_bursts,
        )
    return [
        RepeatGroupOut(
            group=g.key,
            camera=g.camera,
            box=[g.median.x, g.median.y, g.median.w, g.median.h],
            frames=len(g.media_ids),
            bursts=g.bursts,
            examples=list(g.media_ids[:: max(1, len(g.media_ids) // EXAMPLES)][:EXAMPLES]),
        )
        for g in groups
    ]


@router.post(
    "/repeats/{group}/decision",
    response_model=DecisionOut,
    responses={202: {"description": "stored; a job labels the group's frames: poll status_url"}},
)
def decide_group(
    group: GroupPath, body: DecisionIn, request: Request, actor: ActorDep
) -> DecisionOut | JSONResponse:
    """One decision for the whole group (reviewer or admin): false_positive hides the boxes
    at that place of the camera and labels its unreviewed frames as hard negatives; real
    keeps them and takes the group off the list. 404 when no undecided group has that id.
    Over 200 frames the labelling is a job: 202 with ``job_id`` and ``status_url``."""
    require_writer(actor)
    project = project_of(request)
    with project.db.session() as session:
        found = repeat_group(
            session,
            group,
            min_score=project.config.thresholds.default,
            iou=body.iou,
            min_items=body.min_frames,
            min_bursts=body.min_bursts,
        )
        row = decide(
            session,
            found,
            body.decision,
            actor_id=actor.id,
            classes=project.classes,
            iou=body.iou,
            min_score=project.config.thresholds.default,
        )
        out = DecisionOut(
            decision_id=row.id,
            decision=row.decision,
            labelled=labelled_count(session, row.id),
            job_id=row.job_id,
            status_url=status_url(row.id),
        )
    if out.job_id is not None:
        return JSONResponse(out.model_dump(), status_code=202)
    return out


@router.get("/repeats/decisions/{decision_id}")
def get_decision(decision_id: DecisionPath, request: Request, actor: ActorDep) -> dict[str, Any]:
    """A decision, the frames it has labelled and its jobs' progress (poll after a 202)."""
    with project_of(request).db.session() as session:
        return decision_status(session, decision_id)


@router.post(
    "/repeats/decisions/{decision_id}/undo",
    response_model=None,
    responses={202: {"description": "undone; a job restores the frames: poll status_url"}},
)
def undo_decision(
    decision_id: DecisionPath, request: Request, actor: ActorDep
) -> dict[str, Any] | JSONResponse:
    """Undo a decision (reviewer or admin); frames saved since keep their labels. Over 200
    frames the restoring is a job: 202 with ``job_id`` and ``status_url``."""
    require_writer(actor)
    project = project_of(request)
    with project.db.session() as session:
        out = undo(session, decision_id, actor_id=actor.id, classes=project.classes)
    out["status_url"] = status_url(decision_id)
    if "job_id" in out:
        return JSONResponse(out, status_code=202)
    return out
