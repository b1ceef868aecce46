"""The whole loop in one call, run in this process: what ``wildloop loop`` does.

It queues the same ``loop`` job the web app's button queues and runs it (with the child
jobs it submits) in this process, reporting each step as it finishes; a separate
``wildloop worker`` may take some of the children meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from wildloop.errors import JobFailed
from wildloop.jobs.executor import run_job
from wildloop.project import Project
from wildloop.training.loop_job import LoopReport, LoopStep, start_loop_job

StepCallback = Callable[[LoopStep], None]
StatusCallback = Callable[[dict[str, Any]], None]


def run_loop(
    project: Project,
    *,
    base: Path | None = None,
    overrides: dict[str, Any] | None = None,
    force: bool = False,
    reason: str | None = None,
    reprocess: bool | None = None,
    actor_id: int | None = None,
    on_step: StepCallback | None = None,
    on_job: StatusCallback | None = None,
    figures: bool = True,
    stage: str = "detector",
) -> LoopReport:
    """Run the loop to its end here; ``JobFailed`` (with the report's steps so far passed to
    ``on_step``) when a step fails or the champion changed while comparing."""
    job_id = start_loop_job(
        project,
        overrides,
        actor_id,
        base=base,
        force=force,
        reason=reason,
        reprocess=reprocess,
        figures=figures,
        stage=stage,
    )
    shown = 0

    def progress(status: dict[str, Any]) -> None:
        nonlocal shown
        steps = (status.get("result") or {}).get("steps") or []
        for step in steps[shown:]:
            if on_step:
                on_step(LoopStep.from_dict(step))
        shown = len(steps)
        if on_job:
            on_job(status)

    status = run_job(project, job_id, progress=progress)
    if status["state"] != "succeeded":
        raise JobFailed(f"loop job {job_id} {status['state']}: {status.get('error') or ''}")
    return LoopReport.from_dict(status["result"] or {})
