"""JSON API for the retraining loop: snapshots, training, evaluations, gated promotion, the
retraining log, and one call that queues the whole loop (the dashboard's button).

Routes parse, check the role and call the same services as the CLI. Changing the model
(training, promotion, the loop) is for admins; everyone logged in can look.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from wildloop.audio.head_job import start_head_training
from wildloop.datasets.snapshots import create_snapshot, list_snapshots
from wildloop.evaluation.compare_job import ComparisonRun
from wildloop.evaluation.evaluator import stored_evaluations
from wildloop.evaluation.promotion import promote_when_compared
from wildloop.jobs.records import job_status
from wildloop.jobs.training_guard import active_training
from wildloop.registry.versions import get_version
from wildloop.training.job import start_training
from wildloop.training.loop_job import start_loop_job
from wildloop.training.retraining_log import retraining_log
from wildloop.users.roles import Actor, require_admin
from wildloop.web.api_models import comparison_body
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor

router = APIRouter(tags=["loop"])
ActorDep = Annotated[Actor, Depends(current_actor)]


class TrainingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    epochs: int | None = Field(default=None, ge=1, le=10_000)
    batch: int | None = Field(default=None, ge=1, le=4096)
    imgsz: int | None = Field(default=None, ge=32, le=8192)
    patience: int | None = Field(default=None, ge=0, le=10_000)
    device: str | None = Field(default=None, max_length=64)


class PromotionIn(BaseModel):
    model: str = "challenger"
    force: bool = False
    reason: str | None = None
    reprocess: bool | None = None
    comparison_job: int | None = Field(
        default=None, description="The comparison this promotion is bound to (its job id)."
    )


class SnapshotIn(BaseModel):
    purpose: str = "training"


@router.get("/snapshots")
def snapshots(
    request: Request, actor: ActorDep, purpose: Literal["training", "test"] | None = None
) -> list[dict[str, Any]]:
    return [s.as_dict() for s in list_snapshots(project_of(request), purpose)]


@router.post("/snapshots", status_code=201)
def new_snapshot(body: SnapshotIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Freeze the reviewed items of a purpose (identical content returns the existing one)."""
    require_admin(actor, "freeze snapshots")
    info, created = create_snapshot(project_of(request), body.purpose, created_by=actor.id)  # type: ignore[arg-type]
    return info.as_dict() | {"created": created}


@router.post("/training", status_code=202)
def train(body: TrainingIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue a training job (409 while one is in progress); follow it at /api/v1/jobs."""
    require_admin(actor, "start a training")
    project = project_of(request)
    if project.config.modality == "audio":  # a head on stored embeddings; epochs caps it
        head = start_head_training(
            project, overrides={"max_epochs": body.epochs}, created_by=actor.id
        )
        return {"job_id": head.job_id, "snapshot": head.snapshot.name, "embedder": head.embedder}
    overrides = {k: v for k, v in body.model_dump().items() if v is not None}
    started = start_training(project, overrides=overrides, created_by=actor.id)
    return {
        "job_id": started.job_id,
        "snapshot": started.snapshot.name,
        "start": started.start.as_dict(),
    }


@router.get("/training")
def training(request: Request, actor: ActorDep) -> dict[str, Any] | None:
    """The training in progress (with its epoch curve so far), or null."""
    project = project_of(request)
    active = active_training(project)
    if active is None:
        return None
    with project.db.session() as session:
        return job_status(session, active["id"])


class LoopIn(TrainingIn):
    stage: Literal["detector", "classifier"] = "detector"


@router.post("/loop", status_code=202)
def loop(body: LoopIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue the whole loop as one job: snapshot, train, evaluate, gate, promote, reprocess
    (``stage: classifier``: the fast loop, only the crop classifier retrains)."""
    require_admin(actor, "run the loop")
    overrides = {k: v for k, v in body.model_dump(exclude={"stage"}).items() if v is not None}
    job_id = start_loop_job(project_of(request), overrides, created_by=actor.id, stage=body.stage)
    return {"job_id": job_id}


@router.get("/evaluations")
def evaluations(
    request: Request, actor: ActorDep, model: str | None = None
) -> list[dict[str, Any]]:
    project = project_of(request)
    version_id = None
    if model is not None:
        with project.db.session() as session:
            version_id = get_version(session, model).id
    return [e.as_dict() for e in stored_evaluations(project, version_id)]


@router.post(
    "/promotion",
    responses={
        202: {"description": "the comparison is still computing: ask again when it is done"},
        409: {"description": "the champion changed while comparing; compare again"},
    },
)
def promote(body: PromotionIn, request: Request, actor: ActorDep) -> JSONResponse:
    """Gated promotion from a finished comparison job (``comparison_job``, else this pair's
    current one): 200 with the outcome (a refusal too, with reasons); 202 with the job and
    its status URL while the comparison computes (it is queued if there is none); 409 when
    the champion is no longer the one compared. ``force`` needs a ``reason`` (logged)."""
    require_admin(actor, "promote models")
    outcome = promote_when_compared(
        project_of(request),
        body.model,
        comparison_job=body.comparison_job,
        force=body.force,
        reason=body.reason,
        actor_id=actor.id,
        reprocess=body.reprocess,
    )
    if isinstance(outcome, ComparisonRun):
        return JSONResponse(comparison_body(outcome), status_code=202)
    return JSONResponse(outcome)


@router.get("/retrain-log")
def retrain_log(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    return retraining_log(project_of(request))
