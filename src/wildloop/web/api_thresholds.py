"""JSON API for per-class thresholds read from reviewed items.

Computing matches every reviewed image's boxes, so ``POST /thresholds`` only submits a
``class-thresholds`` job (requests never compute); the stored sets, each with its PR curves,
are read back with ``GET /models/{model}/thresholds``. Applying them to the project's
``thresholds.per_class`` is an admin's decision, audited.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from wildloop.evaluation.class_thresholds import apply_thresholds, latest_thresholds
from wildloop.evaluation.thresholds_job import submit_thresholds
from wildloop.users.roles import Actor, require_writer
from wildloop.web.api_review import project_of
from wildloop.web.auth import current_actor

router = APIRouter(tags=["thresholds"])
ActorDep = Annotated[Actor, Depends(current_actor)]
Split = Literal["train", "val", "test"]
ModelRef = Annotated[str, Path(min_length=1, max_length=120, description="id, name or alias")]


def _default_splits() -> list[Split]:
    return ["val", "test"]  # class_thresholds.DEFAULT_SPLITS, typed for the schema


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ComputeIn(_In):
    model: str = Field(default="champion", min_length=1, max_length=120)
    mode: Literal["precision", "best_f1"] = "precision"
    target_precision: float = Field(default=0.9, gt=0, le=1)
    splits: list[Split] = Field(default_factory=_default_splits, min_length=1, max_length=3)


class ApplyIn(_In):
    model: str = Field(default="champion", min_length=1, max_length=120)


@router.post("/thresholds", status_code=202)
def compute(body: ComputeIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Queue the computation of the model's per-class thresholds; poll the job."""
    require_writer(actor)
    job_id = submit_thresholds(
        project_of(request),
        body.model,
        mode=body.mode,
        target_precision=body.target_precision,
        splits=list(dict.fromkeys(body.splits)),
        created_by=actor.id,
    )
    return {"job_id": job_id}


@router.get("/models/{model}/thresholds")
def stored(model: ModelRef, request: Request, actor: ActorDep) -> dict[str, Any]:
    """The model's newest threshold set: per class the threshold, its precision and recall,
    and the PR curve it was read from."""
    return latest_thresholds(project_of(request), model).as_dict()


@router.post("/thresholds/apply")
def apply(body: ApplyIn, request: Request, actor: ActorDep) -> dict[str, Any]:
    """Write the model's newest thresholds into the project's per-class thresholds (admins)."""
    return apply_thresholds(project_of(request), body.model, actor=actor)
