"""Getting a model's predictions for test items through the one inference pipeline.

The engine owns the pipeline and its ``predict`` job kind (decode, batch, model call, bulk
write of prediction sets). The evaluator submits that same kind of job, pinned to one model
version and to exactly the test items the version has not seen, and runs it here; the
predictions it stores are the ones every other caller would get (same thresholds, same NMS).
"""

from __future__ import annotations

from collections.abc import Sequence

from wildloop.errors import BadInput, JobFailed
from wildloop.jobs.local import run_job
from wildloop.jobs.records import submit_job
from wildloop.project import Project
from wildloop.registry.versions import get_version


def run_pipeline(project: Project, model_version_id: int, media_ids: Sequence[int]) -> None:
    """Predict ``media_ids`` with the model version and store the prediction sets."""
    ids = list(media_ids)
    size = project.config.inference.chunk_size
    with project.db.session() as session:
        version = get_version(session, model_version_id)
        if not version.onnx_sha256:
            raise BadInput(
                f"{version.name} has no artifact wildloop can run (its predictions were "
                "imported), and it has no predictions for some test items"
            )
        job_id = submit_job(
            session,
            "predict",
            {
                "purpose": "evaluate",
                "model": str(version.id),
                "model_version_id": version.id,
                "model_name": version.name,
                "scope": f"{len(ids)} test items",
                "compare_to": None,
            },
            [{"media_ids": ids[i : i + size]} for i in range(0, len(ids), size)],
            total=len(ids),
            message=f"evaluate: predict {len(ids)} test items with {version.name}",
        )
    status = run_job(project, job_id, workers=project.config.jobs.local_workers)
    if status["state"] != "succeeded":
        raise JobFailed(
            f"predicting the test items with {version.name} (job {job_id}) {status['state']}: "
            f"{status.get('error') or ''}"
        )
