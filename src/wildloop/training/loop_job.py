"""The whole loop as one persistent job: snapshot, train, evaluate, gate, promote, reprocess.

Each step is the same service a person could run alone (``snapshot create``, ``train``,
``compare``, ``promote``, ``reprocess``). The long ones run as child jobs (``train``,
``compare``, a reprocess): the loop submits them and waits on their rows without holding a
worker (docs/adr/0012), so any worker, thread or ``wildloop worker`` process, runs them.
The handler therefore runs several times: each step is recorded in the job's result as it
finishes, and a run skips the steps already there, so a resumed loop neither repeats a
step nor submits a child twice. A refusal by the gate is a normal outcome: the loop stops
there, says why, and leaves the champion in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from wildloop.datasets.snapshots import create_snapshot
from wildloop.errors import BadInput, Conflict, JobFailed
from wildloop.evaluation.compare_job import submit_compare
from wildloop.evaluation.promotion import promote_compared
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind, stored_result
from wildloop.jobs.records import active_job_id, submit_job
from wildloop.jobs.training_guard import active_training
from wildloop.processing.predict_job import submit_reprocess
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Job
from wildloop.training import classifier_job
from wildloop.training.job import start_training, training_params
from wildloop.training.start import Start

KIND = "loop"
STEPS = 6
STAGES = ("detector", "classifier")
NO_DETECTOR = (
    "the classifier was trained but there is no champion detector to pair it with: "
    "promote a detector first, then run the fast loop"
)


@dataclass
class LoopStep:
    name: str
    status: str  # done, refused, overridden, skipped, failed
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopStep:
        return cls(data["step"], data["status"], data["seconds"], data["detail"], data["data"])


@dataclass
class LoopReport:
    steps: list[LoopStep] = field(default_factory=list)
    promoted: bool = False
    challenger_id: int | None = None

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def step(self, name: str) -> LoopStep | None:
        return next((s for s in self.steps if s.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "challenger_id": self.challenger_id,
            "seconds": round(self.seconds, 2),
            "steps": [s.as_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoopReport:
        return cls(
            [LoopStep.from_dict(s) for s in data.get("steps") or []],
            bool(data.get("promoted")),
            data.get("challenger_id"),
        )


def start_loop_job(
    project: Project,
    overrides: dict[str, Any] | None = None,
    created_by: int | None = None,
    *,
    base: Path | None = None,
    force: bool = False,
    reason: str | None = None,
    reprocess: bool | None = None,
    figures: bool = True,
    stage: str = "detector",
) -> int:
    """Queue a loop; refused while a loop or a training is queued or running. ``stage``
    ``classifier`` is the fast loop: only the crop classifier retrains (minutes on a CPU),
    paired with the champion's detector."""
    if stage not in STAGES:
        raise BadInput(f"unknown loop stage {stage!r}; use one of {', '.join(STAGES)}")
    if stage == "detector":
        training_params(project, overrides)  # unknown parameters fail now, not in the worker
    else:
        classifier_job.classifier_params(project, overrides)
    with project.db.session() as session:
        running = active_job_id(session, KIND)
    if running is not None:
        raise Conflict(f"the loop is already running (job {running}); wait for it or cancel it")
    if active_training(project) is not None:
        raise Conflict("a training is already in progress; the loop starts one of its own")
    params = {
        "overrides": overrides or {},
        "base": str(base) if base else None,
        "force": force,
        "reason": reason,
        "reprocess": reprocess,
        "figures": figures,
        "stage": stage,
    }
    with project.db.session() as session:
        return submit_job(
            session,
            KIND,
            params,
            [{}],
            total=STEPS,
            created_by=created_by,
            message="queued: snapshot, train, evaluate, gate, promote, reprocess",
        )


def run_loop_chunk(ctx: ChunkContext) -> ChunkOutcome:
    loop = _Loop(ctx)
    if loop.report.step("snapshot") is None:
        loop.snapshot()
    if loop.report.step("train") is None:
        loop.train()
    if loop.report.step("evaluate") is None:
        loop.evaluate()
    if loop.report.step("promote") is None:
        loop.promote()
    if loop.report.step("reprocess") is None:
        loop.reprocess()
    return ChunkOutcome(done=STEPS)


class _Loop:
    """One run of the loop's handler: the report so far, and the step methods."""

    def __init__(self, ctx: ChunkContext) -> None:
        self.ctx, self.project, self.params = ctx, ctx.project, ctx.params
        with self.project.db.session() as session:
            job = session.get(Job, ctx.job_id)
            assert job is not None
            self.actor = job.created_by
            self.report = LoopReport.from_dict(job.result or {})

    def finish(self, step: LoopStep) -> None:
        """Record a finished step on the job row (whichever worker runs next reads it)."""
        self.report.steps.append(step)
        with self.project.db.session() as session:
            session.execute(
                update(Job).where(Job.id == self.ctx.job_id).values(result=self.report.as_dict())
            )
        self.ctx.progress(
            len(self.report.steps), message=f"{step.name} {step.status}: {step.detail[:200]}"
        )

    def snapshot(self) -> None:
        started = time.perf_counter()
        training, _ = create_snapshot(self.project, "training", created_by=self.actor)
        test, _ = create_snapshot(self.project, "test", created_by=self.actor)
        self.finish(
            LoopStep(
                "snapshot",
                "done",
                time.perf_counter() - started,
                f"{training.name}: {training.counts['items']} items; {test.name}: "
                f"{test.counts['items']} test items",
                {"training": training.as_dict(), "test": test.as_dict()},
            )
        )

    def train(self) -> None:
        job = self._wait("train", self._start_training)
        if job.state != "succeeded":
            self._failed("train", job)
        result = job.result or {}
        if self.params.get("stage") == "classifier":
            self._classifier_trained(job, result)
            return
        start = Start.from_dict(job.params["start"])
        self.report.challenger_id = result.get("model_version_id")
        self.finish(
            LoopStep(
                "train",
                "done",
                _seconds(job),
                f"{result.get('model')} ({start.explanation}); {result.get('epochs_run')} "
                f"epochs, val mAP50-95 {(result.get('val') or {}).get('val_map50_95', 0):.3f}",
                {"job_id": job.id, "start": start.as_dict()},
            )
        )

    def _classifier_trained(self, job: Job, result: dict[str, Any]) -> None:
        """The fast loop's train step: the new pipeline (champion's detector, new
        classifier) is what the gate compares."""
        if result.get("pipeline_id") is None:
            self.finish(LoopStep("train", "failed", _seconds(job), NO_DETECTOR))
            raise JobFailed(NO_DETECTOR)
        self.report.challenger_id = int(result["pipeline_id"])
        test = result.get("test") or {}
        self.finish(
            LoopStep(
                "train",
                "done",
                _seconds(job),
                f"{result.get('model')} in {result.get('pipeline')}; test crops top-1 "
                f"{test.get('top1')}, macro-F1 {test.get('macro_f1')}",
                {"job_id": job.id, "stage": "classifier"},
            )
        )

    def evaluate(self) -> None:
        snapshot = self.report.step("snapshot")
        assert snapshot is not None and self.report.challenger_id is not None
        challenger, test_id = self.report.challenger_id, snapshot.data["test"]["id"]

        def submit() -> int:
            with self.project.db.session() as session:
                return submit_compare(
                    session,
                    challenger,
                    aliases.resolve(session, "champion"),
                    snapshot_id=test_id,
                    figures=bool(self.params.get("figures", True)),
                    created_by=self.actor,
                )

        job = self._wait("compare", submit)
        if job.state != "succeeded" or not job.result:
            self._failed("evaluate", job)
        comparison = job.result or {}
        new, old = comparison["challenger"], comparison["champion"]
        self.finish(
            LoopStep(
                "evaluate",
                "done",
                _seconds(job),
                f"on {comparison['snapshot']}: challenger mAP50-95 {new['map50_95']:.4f}"
                + (f", champion {old['map50_95']:.4f}" if old else ", no champion yet"),
                comparison,
            )
        )
        decision = comparison["decision"]
        overridden = bool(self.params.get("force")) and not decision["promote"]
        status = "done" if decision["promote"] else ("overridden" if overridden else "refused")
        self.finish(LoopStep("gate", status, 0.0, "; ".join(decision["reasons"]), decision))

    def promote(self) -> None:
        evaluated = self.report.step("evaluate")
        assert evaluated is not None
        comparison = evaluated.data
        force, reason = bool(self.params.get("force")), self.params.get("reason")
        if not (comparison["decision"]["promote"] or force):
            self.finish(LoopStep("promote", "skipped", 0.0, "the champion stays"))
            self.finish(LoopStep("reprocess", "skipped", 0.0, "nothing was promoted"))
            return
        with self.project.db.session() as session:
            already = aliases.resolve(session, "champion") == self.report.challenger_id
        if not already:  # (a resumed loop may have swapped before it could record it)
            # Only from the champion that was compared: Conflict (the job fails) otherwise.
            promote_compared(
                self.project,
                comparison,
                force=force,
                reason=reason,
                actor_id=self.actor,
                reprocess=False,
            )
        self.report.promoted = True
        name = comparison["challenger"]["model"]
        self.finish(
            LoopStep(
                "promote",
                "done",
                0.0,
                f"champion is now {name}" + (f" (override: {reason})" if force else ""),
            )
        )

    def reprocess(self) -> None:
        wanted = self.params.get("reprocess")
        if wanted is None:
            wanted = self.project.config.triggers.reprocess_after_promotion
        if not wanted:
            self.finish(LoopStep("reprocess", "skipped", 0.0, "reprocess after promotion is off"))
            return
        evaluated = self.report.step("evaluate")
        assert evaluated is not None and self.report.challenger_id is not None
        previous = (evaluated.data.get("champion") or {}).get("model_version_id")
        model = str(self.report.challenger_id)

        def submit() -> int:
            return submit_reprocess(
                self.project,
                model=model,
                compare_to=str(previous) if previous else None,
                created_by=self.actor,
            ).job_id

        job = self._wait("reprocess", submit)
        self.finish(
            LoopStep(
                "reprocess",
                "done" if job.state == "succeeded" else "failed",
                _seconds(job),
                f"{job.progress_total} items with version {model}: {job.state}",
                {"job_id": job.id, "result": job.result},
            )
        )

    def _start_training(self) -> int:
        base = self.params.get("base")
        try:
            if self.params.get("stage") == "classifier":
                return classifier_job.start_classifier_training(
                    self.project,
                    overrides=self.params.get("overrides") or None,
                    trigger="loop",
                    created_by=self.actor,
                ).job_id
            started = start_training(
                self.project,
                base=Path(base) if base else None,
                overrides=self.params.get("overrides") or None,
                trigger="loop",
                created_by=self.actor,
            )
        except Conflict:
            # Submitted by this loop just before a crash kept it from recording the child.
            active = active_training(self.project)
            if active is None or _trigger(self.project, active["id"]) != "loop":
                raise
            return int(active["id"])
        return started.job_id

    def _wait(self, key: str, submit: Any) -> Job:
        child = self.ctx.child(key, submit)
        return self.ctx.wait_for([child])[child]

    def _failed(self, step: str, job: Job) -> None:
        self.finish(
            LoopStep(step, "failed", _seconds(job), job.error or job.state, {"job_id": job.id})
        )
        raise JobFailed(f"{job.kind} job {job.id} {job.state}: {job.error or ''}")


def _seconds(job: Job) -> float:
    if job.finished_at is None:
        return 0.0
    return max(0.0, (job.finished_at - job.created_at).total_seconds())


def _trigger(project: Project, job_id: int) -> str | None:
    with project.db.session() as session:
        params = session.scalar(select(Job.params).where(Job.id == job_id)) or {}
    trigger = params.get("trigger")
    return str(trigger) if trigger else None


LOOP_KIND = JobKind(KIND, run_loop_chunk, stored_result, max_attempts=1)
