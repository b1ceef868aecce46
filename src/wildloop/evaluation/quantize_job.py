"""The ``quantize`` job: derive an int8 version from a detector, then judge it by parity.

Calibrating and scoring both models on the test split take minutes, so the CLI and the API
only submit this job (requests never compute). One chunk, idempotent: a rerun after a crash
finds the version its first run recorded (by name and job) and only redoes the check.
"""

from __future__ import annotations

from typing import Any

from wildloop.errors import BadInput, NotFound
from wildloop.evaluation.parity import check_parity
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, stored_result
from wildloop.jobs.records import submit_job
from wildloop.models.quantization import QuantizeRequest, check_quantize, quantize_version
from wildloop.project import Project
from wildloop.store.tables import Job

KIND_NAME = "quantize"


def submit_quantize(
    project: Project,
    model: str | int,
    *,
    method: str = "static",
    calibration: int = 200,
    name: str | None = None,
    created_by: int | None = None,
) -> int:
    """Check the request, pin the parent version and submit the job; returns its id."""
    request = check_quantize(project, model, method, calibration, name)
    with project.db.session() as session:
        return submit_job(
            session,
            KIND_NAME,
            {
                "parent_id": request.parent_id,
                "name": request.name,
                "method": request.method,
                "calibration": request.calibration,
            },
            [{}],
            total=request.calibration + 1 if method == "static" else 1,
            created_by=created_by,
            message=f"quantising into {request.name} ({method})",
        )


def _run_chunk(ctx: ChunkContext) -> ChunkOutcome:
    p = ctx.params
    request = QuantizeRequest(
        int(p["parent_id"]), str(p["name"]), str(p["method"]), int(p["calibration"])
    )
    with ctx.project.db.session() as session:
        created_by = session.get_one(Job, ctx.job_id).created_by
    ctx.message("calibrating on train-split images" if request.method == "static" else "quantising")
    version = quantize_version(
        ctx.project, request, job_id=ctx.job_id, actor_id=created_by, on_image=ctx.progress
    )
    ctx.set_total(int(version.params["quantization"]["calibration_images"]) + 1)
    ctx.message(f"{version.name} recorded; scoring it and its parent on the test split")
    result: dict[str, Any] = {"version_id": version.id, "name": version.name}
    try:
        comparison = check_parity(ctx.project, version.id, actor_id=created_by)
    except (NotFound, BadInput) as exc:  # no reviewed test items yet: checked at promotion
        result["parity"] = None
        result["parity_error"] = str(exc)
    else:
        result["parity"] = {
            "passed": comparison["decision"]["promote"],
            "reasons": comparison["decision"]["reasons"],
            "parent": comparison["champion"],
            "derived": comparison["challenger"],
            "snapshot": comparison["snapshot"],
        }
    ctx.check_cancelled()
    with ctx.project.db.session() as session:
        session.get_one(Job, ctx.job_id).result = result
    return ChunkOutcome(done=int(version.params["quantization"]["calibration_images"]) + 1)


QUANTIZE_KIND = JobKind(KIND_NAME, _run_chunk, stored_result, max_attempts=2)
