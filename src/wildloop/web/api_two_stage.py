"""JSON API for two-stage models: train a crop classifier (a job), pair it with a detector.

Admins only, like every training and registration; the versions these make are listed,
compared and promoted by the models API like any other.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from wildloop.domain.model_kinds import DEFAULT_MIN_BOX_SCORE
from wildloop.registry.pipelines import register_pipeline
from wildloop.registry.versions import describe_version
from wildloop.training.classifier_job import start_classifier_training
from wildloop.users.roles import Actor, require_admin
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor

router = APIRouter(tags=["loop"])
ActorDep = Annotated[Actor, Depends(current_actor)]


class ClassifierTrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Literal["head", "yolo-cls"] = "head"
    epochs: int | None = Field(default=None, ge=1, le=1000)
    crop_size: int | None = Field(default=None, ge=64, le=640, multiple_of=32)
    start_weights: str | None = Field(default=None, min_length=1, max_length=1000)
    hidden: int | None = Field(default=None, ge=0, le=4096)
    padding: float | None = Field(default=None, ge=0, le=1)
    min_box_score: float | None = Field(default=None, ge=0, le=1)


class PipelineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    detector: str = Field(min_length=1, max_length=120)
    classifier: str = Field(min_length=1, max_length=120)
    min_box_score: float = Field(default=DEFAULT_MIN_BOX_SCORE, ge=0, le=1)
    handoff: list[Annotated[str, Field(max_length=120)]] | None = Field(
        default=None, max_length=1000
    )


@router.post("/training/classifier", status_code=202)
def train_classifier(
    body: ClassifierTrainingIn, request: Request, actor: ActorDep
) -> dict[str, Any]:
    """Queue a crop classifier training (409 while any training is in progress)."""
    require_admin(actor, "start a training")
    started = start_classifier_training(
        project_of(request), overrides=body.model_dump(), created_by=actor.id
    )
    return {"job_id": started.job_id, "snapshot": started.snapshot.name}


@router.post("/pipelines", status_code=201)
def new_pipeline(body: PipelineIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Pair a detector version with a crop classifier version as a new pipeline version."""
    require_admin(actor, "register a model")
    version = register_pipeline(
        project_of(request),
        body.name,
        body.detector,
        body.classifier,
        min_box_score=body.min_box_score,
        handoff=body.handoff,
        actor_id=actor.id,
    )
    return describe_version(version)
