"""JSON API behind the Models page: the registry with test metrics, the triggers, rollback,
comparisons computed by ``compare`` jobs, and int8 copies derived by ``quantize`` jobs.

Promotion, training and the loop are in ``api_loop`` (the same endpoints the page calls);
everything that moves the champion forward goes through the gate there. Rollback moves it
back to a version that was champion before, with a reason, as `wildloop model rollback`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from wildloop.errors import BadInput
from wildloop.evaluation.class_thresholds import follow_champion
from wildloop.evaluation.compare_job import ComparisonRun
from wildloop.evaluation.compare_job import comparison_run as comparison_job
from wildloop.evaluation.comparison import resolve_pair
from wildloop.evaluation.quantize_job import submit_quantize
from wildloop.models.quantization import MAX_CALIBRATION
from wildloop.processing.prediction_settings import settings_of_version
from wildloop.registry import aliases
from wildloop.registry.versions import get_version
from wildloop.users.roles import Actor, require_admin
from wildloop.web.api_review import project_of
from wildloop.web.api_thresholds import ModelRef
from wildloop.web.auth import current_actor
from wildloop.web.models_view import models_overview, triggers_status

router = APIRouter(tags=["models"])
ActorDep = Annotated[Actor, Depends(current_actor)]


class RollbackIn(BaseModel):
    reason: str = Field(max_length=2000)


class QuantizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["static", "dynamic"] = "static"
    calibration: int = Field(default=200, ge=1, le=MAX_CALIBRATION)
    name: str | None = Field(default=None, min_length=1, max_length=120)


@router.get("/models")
def models(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Every version (newest first) with aliases, provenance and test metrics."""
    return models_overview(project_of(request)).as_dict()


@router.get("/triggers")
def triggers(request: Request, actor: ActorDep) -> dict[str, Any]:
    """Automatic training: settings, reviewed items since the last training, next schedule."""
    return triggers_status(project_of(request))


@router.get("/models/{model}/prediction-settings")
def prediction_settings(model: ModelRef, request: Request, actor: ActorDep) -> dict[str, Any]:
    """The settings (location priors, smoothing, store thresholds, pipeline hand-off) the
    version's prediction sets were made with, and how many sets each."""
    with project_of(request).db.session() as session:
        version = get_version(session, model)
        return {"model": version.name, "settings": settings_of_version(session, version.id)}


@router.post("/rollback")
def rollback(body: RollbackIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Move the champion back to the version before it (admins; a reason is required)."""
    require_admin(actor, "roll back the champion")
    reason = body.reason.strip()
    if not reason:
        raise BadInput("a rollback needs a reason: say why (it is kept in the audit trail)")
    project = project_of(request)
    with project.db.session() as session:
        move = aliases.rollback(session, actor.id, reason)
        name = get_version(session, move.version_id).name
    return {
        "champion_id": move.version_id,
        "previous_id": move.previous_id,
        "champion": name,
        "thresholds": follow_champion(project, move.version_id, actor.id),
    }


@router.post("/models/{model}/quantize", status_code=202)
def quantize(
    model: Annotated[str, Path(min_length=1, max_length=120, description="id, name or alias")],
    body: QuantizeIn,
    request: Request,
    actor: ActorDep,
) -> dict[str, Any]:
    """Queue an int8 copy of the model (admins); poll the job. It serves in the parent's
    place only after passing the parity gate on the test split."""
    require_admin(actor, "quantise models")
    job_id = submit_quantize(
        project_of(request),
        model,
        method=body.method,
        calibration=body.calibration,
        name=body.name,
        created_by=actor.id,
    )
    return {"job_id": job_id}


@router.get("/comparison", responses={202: {"description": "still computing"}})
@router.get("/comparison/status", include_in_schema=False)  # the earlier name of the same
def comparison_status(
    request: Request,
    actor: ActorDep,
    challenger: str = "challenger",
    champion: str = "champion",
    refresh: bool = False,
) -> JSONResponse:
    """Both models on the test snapshot, as computed by a ``compare`` job (a request never
    computes it): 202 with ``state: computing``, the job id and ``status_url`` until it is
    ready, then 200 with the comparison (deltas, interval, figures, verdict) under
    ``comparison``, or ``state: failed`` and the error. The first request queues the job; a
    finished one is reused until a newer test snapshot exists; ``refresh=true`` recomputes."""
    run = comparison_run(request, actor, challenger, champion, refresh)
    return JSONResponse(comparison_body(run), status_code=202 if run.state == "computing" else 200)


def comparison_body(run: ComparisonRun) -> dict[str, Any]:
    """A comparison job as the API shows it, with the URL to poll for its outcome."""
    query = f"challenger={run.challenger_id}"
    if run.champion_id is not None:
        query += f"&champion={run.champion_id}"
    return run.as_dict() | {"status_url": f"/api/v1/comparison?{query}"}


def comparison_run(
    request: Request, actor: Actor, challenger: str, champion: str, refresh: bool = False
) -> ComparisonRun:
    project = project_of(request)
    with project.db.session() as session:
        new, old = resolve_pair(session, challenger, champion)
    if new == old:
        raise BadInput(
            "the challenger is the champion: there is nothing to compare until a new "
            "challenger is trained"
        )
    return comparison_job(project, new, old, refresh=refresh, created_by=actor.id)
