"""Getting a model's predictions for test items through the one inference pipeline.

The engine owns the pipeline (decode, batch, model call, bulk write of prediction sets); the
evaluator only asks it to cover the items a model has not seen yet.
"""

from __future__ import annotations

from collections.abc import Sequence

from wildloop.project import Project


def run_pipeline(project: Project, model_version_id: int, media_ids: Sequence[int]) -> None:
    """Predict ``media_ids`` with the model version and store the prediction sets."""
    from wildloop.processing.predict_job import predict_items

    predict_items(project, model_version_id, media_ids)
