"""JSON API for the retraining loop: snapshots, training, evaluations, gated promotion, the
retraining log, and one call that queues the whole loop (the dashboard's button).

Routes parse, check the role and call the same services as the CLI. Changing the model
(training, promotion, the loop) is for admins; everyone logged in can look.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from wildloop.audio.head_job import start_head_training
from wildloop.datasets.snapshots import create_snapshot, list_snapshots
from wildloop.errors import PermissionDenied
from wildloop.evaluation.comparison import compare_named
from wildloop.evaluation.evaluator import stored_evaluations
from wildloop.evaluation.promotion import promote_challenger
from wildloop.registry.versions import get_version
from wildloop.training.job import active_training, start_training
from wildloop.training.loop_job import start_loop_job
from wildloop.training.retraining_log import retraining_log
from wildloop.users.roles import Actor
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor

router = APIRouter(tags=["loop"])
ActorDep = Annotated[Actor, Depends(current_actor)]


class TrainingIn(BaseModel):
    epochs: int | None = Field(default=None, ge=1)
    batch: int | None = Field(default=None, ge=1)
    imgsz: int | None = Field(default=None, ge=32)
    patience: int | None = Field(default=None, ge=0)
    device: str | None = None


class PromotionIn(BaseModel):
    model: str = "challenger"
    force: bool = False
    reason: str | None = None
    reprocess: bool | None = None


class SnapshotIn(BaseModel):
    purpose: str = "training"


def _require_admin(actor: Actor, what: str) -> None:
    if not actor.is_admin:
        raise PermissionDenied(f"only admins can {what}; {actor.username} is {actor.role}")


@router.get("/snapshots")
def snapshots(
    request: Request, actor: ActorDep, purpose: str | None = None
) -> list[dict[str, Any]]:
    return [s.as_dict() for s in list_snapshots(project_of(request), purpose)]


@router.post("/snapshots", status_code=201)
def new_snapshot(body: SnapshotIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Freeze the reviewed items of a purpose (identical content returns the existing one)."""
    _require_admin(actor, "freeze snapshots")
    info, created = create_snapshot(project_of(request), body.purpose, created_by=actor.id)  # type: ignore[arg-type]
    return info.as_dict() | {"created": created}


@router.post("/training", status_code=202)
def train(body: TrainingIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue a training job (409 while one is in progress); follow it at /api/v1/jobs."""
    _require_admin(actor, "start a training")
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
    from wildloop.jobs.records import job_status

    project = project_of(request)
    active = active_training(project)
    if active is None:
        return None
    with project.db.session() as session:
        return job_status(session, active["id"])


@router.post("/loop", status_code=202)
def loop(body: TrainingIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue the whole loop as one job: snapshot, train, evaluate, gate, promote, reprocess."""
    _require_admin(actor, "run the loop")
    overrides = {k: v for k, v in body.model_dump().items() if v is not None}
    return {"job_id": start_loop_job(project_of(request), overrides, created_by=actor.id)}


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


@router.get("/comparison")
def comparison(
    request: Request, actor: ActorDep, challenger: str = "challenger", champion: str = "champion"
) -> dict[str, Any]:
    """Both models on the current test snapshot: deltas, interval, figures (file paths), verdict."""
    return compare_named(project_of(request), challenger, champion).as_dict()


@router.post("/promotion")
def promote(body: PromotionIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Gated promotion; ``force`` needs a ``reason`` (logged). A refusal is 200 with reasons."""
    _require_admin(actor, "promote models")
    result = promote_challenger(
        project_of(request),
        body.model,
        force=body.force,
        reason=body.reason,
        actor_id=actor.id,
        reprocess=body.reprocess,
    )
    return result.as_dict()


@router.get("/retrain-log")
def retrain_log(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    return retraining_log(project_of(request))
