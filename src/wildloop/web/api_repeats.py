"""JSON API for repeat detections: the groups, one decision per group, and its undo.

A decision labels the group's unreviewed frames as hard negatives in the request's one
transaction (one short write per frame, as a batch review does); listing reads the champion's
boxes of every camera, bounded by the number of predictions kept.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from wildloop.review.repeat_decisions import decide, undo
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
    labelled: int


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


@router.post("/repeats/{group}/decision", response_model=DecisionOut)
def decide_group(
    group: GroupPath, body: DecisionIn, request: Request, actor: ActorDep
) -> DecisionOut:
    """One decision for the whole group (reviewer or admin): false_positive hides the boxes
    at that place of the camera and labels its unreviewed frames as hard negatives; real
    keeps them and takes the group off the list. 404 when no undecided group has that id."""
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
        return DecisionOut(decision_id=row.id, decision=row.decision, labelled=len(row.labelled))


@router.post("/repeats/decisions/{decision_id}/undo")
def undo_decision(decision_id: DecisionPath, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Undo a decision (reviewer or admin); frames saved since keep their labels."""
    require_writer(actor)
    project = project_of(request)
    with project.db.session() as session:
        return undo(session, decision_id, actor_id=actor.id, classes=project.classes)
