"""The whole loop in one action: snapshot, train, evaluate, gate, promote, reprocess.

Each step is the same service a person could run alone (``snapshot create``, ``train``,
``compare``, ``promote``, ``reprocess``), run in order here, with each step's outcome and wall
time reported as it finishes. A refusal by the gate is a normal outcome: the loop stops
there, says why, and leaves the champion in place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wildloop.datasets.snapshots import create_snapshot
from wildloop.errors import JobFailed
from wildloop.evaluation.evaluator import Predict
from wildloop.evaluation.promotion import promote_challenger
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.training.job import start_training


@dataclass
class LoopStep:
    name: str
    status: str  # done, refused, skipped, failed
    seconds: float
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 2),
            "detail": self.detail,
            "data": self.data,
        }


@dataclass
class LoopReport:
    steps: list[LoopStep] = field(default_factory=list)
    promoted: bool = False
    challenger_id: int | None = None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "challenger_id": self.challenger_id,
            "seconds": round(self.seconds, 2),
            "steps": [s.as_dict() for s in self.steps],
        }


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
    predict: Predict | None = None,
    figures: bool = True,
) -> LoopReport:
    report = LoopReport()

    def finish(step: LoopStep) -> None:
        report.steps.append(step)
        if on_step:
            on_step(step)

    t = time.perf_counter()
    training, _ = create_snapshot(project, "training", created_by=actor_id)
    test, _ = create_snapshot(project, "test", created_by=actor_id)
    finish(
        LoopStep(
            "snapshot",
            "done",
            time.perf_counter() - t,
            f"{training.name}: {training.counts['items']} items; {test.name}: "
            f"{test.counts['items']} test items",
            {"training": training.as_dict(), "test": test.as_dict()},
        )
    )

    t = time.perf_counter()
    started = start_training(
        project, base=base, overrides=overrides, trigger="loop", created_by=actor_id
    )
    status = run_job(project, started.job_id, progress=on_job)
    if status["state"] != "succeeded":
        finish(
            LoopStep(
                "train",
                "failed",
                time.perf_counter() - t,
                status.get("error") or status["state"],
                status,
            )
        )
        raise JobFailed(f"training job {started.job_id} {status['state']}: {status.get('error')}")
    result = status["result"] or {}
    report.challenger_id = result.get("model_version_id")
    finish(
        LoopStep(
            "train",
            "done",
            time.perf_counter() - t,
            f"{result.get('model')} ({started.start.explanation}); {result.get('epochs_run')} "
            f"epochs, val mAP50-95 {(result.get('val') or {}).get('val_map50_95', 0):.3f}",
            {"job_id": started.job_id, "start": started.start.as_dict()},
        )
    )

    t = time.perf_counter()
    promotion = promote_challenger(
        project,
        report.challenger_id or "challenger",
        force=force,
        reason=reason,
        actor_id=actor_id,
        snapshot=test.id,
        reprocess=False,
        figures=figures,
        predict=predict,
    )
    comparison = promotion.comparison
    elapsed = time.perf_counter() - t
    new = comparison.challenger.metrics
    old = comparison.champion.metrics if comparison.champion else None
    finish(
        LoopStep(
            "evaluate",
            "done",
            elapsed,
            f"on {comparison.snapshot_name}: challenger mAP50-95 {new['map50_95']:.4f}"
            + (f", champion {old['map50_95']:.4f}" if old else ", no champion yet"),
            comparison.as_dict(),
        )
    )
    decision = comparison.decision
    finish(
        LoopStep(
            "gate",
            "done" if decision.promote else ("overridden" if promotion.forced else "refused"),
            0.0,
            "; ".join(decision.reasons),
            decision.as_dict(),
        )
    )
    report.promoted = promotion.promoted
    if not promotion.promoted:
        finish(LoopStep("promote", "skipped", 0.0, "the champion stays"))
        finish(LoopStep("reprocess", "skipped", 0.0, "nothing was promoted"))
        return report
    finish(
        LoopStep(
            "promote",
            "done",
            0.0,
            f"champion is now {comparison.challenger.model_name}"
            + (f" (override: {reason})" if promotion.forced else ""),
        )
    )
    wanted = (
        reprocess if reprocess is not None else project.config.triggers.reprocess_after_promotion
    )
    if not wanted:
        finish(LoopStep("reprocess", "skipped", 0.0, "reprocess after promotion is off"))
        return report
    t = time.perf_counter()
    from wildloop.processing.predict_job import submit_reprocess

    submitted = submit_reprocess(
        project,
        model=str(promotion.challenger_id),
        compare_to=str(promotion.previous_champion_id) if promotion.previous_champion_id else None,
        created_by=actor_id,
    )
    status = run_job(project, submitted.job_id, progress=on_job)
    finish(
        LoopStep(
            "reprocess",
            "done" if status["state"] == "succeeded" else "failed",
            time.perf_counter() - t,
            f"{submitted.items} items with {submitted.version_name}: {status['state']}",
            {"job_id": submitted.job_id, "result": status.get("result")},
        )
    )
    return report
