"""Training as a persistent job: one chunk that exports the snapshot, trains, and registers
the result as ``challenger``.

A training is submitted with its snapshot and start weights already chosen, so the job record
says exactly what it will do. The database allows one queued or running training per project
(a partial unique index on ``jobs``), so a second request is refused whichever process makes
it. Per-epoch losses and validation mAP go to the job's message and, as a growing curve, to
its result while it runs. Running the chunk again after a crash trains again from the start
and reuses the registered version if the first attempt got that far. An audio head training
is a job of this kind too (``task = audio-head`` in its params, run by
``wildloop.audio.head_job``), so the index guards it as well.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from wildloop.audio import head_job
from wildloop.datasets.exporters import export_snapshot
from wildloop.datasets.snapshots import SnapshotInfo, create_snapshot, get_snapshot
from wildloop.errors import BadInput, Conflict
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome, JobKind
from wildloop.jobs.records import active_job_id
from wildloop.jobs.training_guard import (
    TRAINING_KIND,
    ensure_no_training,
    submit_training,
)
from wildloop.models.registration import register_model
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import Provenance
from wildloop.store.tables import Job, ModelVersion
from wildloop.training import classifier_job, reid_job
from wildloop.training.start import Start, choose_start
from wildloop.training.ultralytics_trainer import TrainingStopped, TrainParams, train

KIND = TRAINING_KIND


@dataclass(frozen=True)
class StartedTraining:
    job_id: int
    snapshot: SnapshotInfo
    start: Start
    params: dict[str, Any]


def training_params(project: Project, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The project's training settings with the caller's overrides (None means default)."""
    settings = project.config.training
    values: dict[str, Any] = {
        "epochs": settings.epochs,
        "batch": settings.batch,
        "imgsz": settings.imgsz,
        "patience": settings.patience,
        "device": settings.device,
        "workers": settings.workers,
        "seed": settings.seed,
        "amp": settings.amp,
        "warmup_epochs": settings.warmup_epochs,
        "collapse": None,
    }
    for key, value in (overrides or {}).items():
        if key not in values:
            raise BadInput(f"unknown training parameter {key!r}; known: {', '.join(values)}")
        if value is not None:
            values[key] = value
    if values["collapse"] is not None and values["collapse"] not in project.classes.names:
        raise BadInput(
            f"collapse names {values['collapse']!r}, which is not a project class; the "
            "parent class must be one (e.g. `wildloop init --classes deer,buck,doe,...`)"
        )
    return values


def start_training(
    project: Project,
    *,
    base: Path | None = None,
    overrides: dict[str, Any] | None = None,
    trigger: str = "manual",
    created_by: int | None = None,
) -> StartedTraining:
    """Freeze a training snapshot, choose the start weights and submit the job."""
    if project.config.modality == "audio":
        raise BadInput(
            "this is an audio project: its model is a classifier head on window embeddings; "
            "train it with `wildloop audio train` (or POST /api/v1/training)"
        )
    ensure_no_training(project)
    if trigger != "loop":
        with project.db.session() as session:
            loop_job = active_job_id(session, "loop")
        if loop_job is not None:
            raise Conflict(f"the loop (job {loop_job}) is about to train; wait for it or cancel it")
    params = training_params(project, overrides)
    start = choose_start(project, base)
    snapshot, _ = create_snapshot(project, "training", created_by=created_by)
    train_items = snapshot.counts.get("splits", {}).get("train", {}).get("items", 0)
    if not train_items:
        raise BadInput(
            "no reviewed items in the train split yet: review (or import labels for) some "
            "items first; `wildloop status` shows the splits"
        )
    job_params = {
        "snapshot_id": snapshot.id,
        "snapshot": snapshot.name,
        "start": start.as_dict(),
        "train": params,
        "trigger": trigger,
    }
    job_id = submit_training(
        project,
        job_params,
        [{"snapshot_id": snapshot.id}],
        total=params["epochs"],
        created_by=created_by,
        message=f"queued: {start.explanation}",
    )
    return StartedTraining(job_id, snapshot, start, params)


def run_training_chunk(ctx: ChunkContext) -> ChunkOutcome:
    if ctx.params.get("task") == head_job.TASK:
        return head_job.run_head_chunk(ctx)
    if ctx.params.get("task") == classifier_job.TASK:
        return classifier_job.run_classifier_chunk(ctx)
    if ctx.params.get("task") == reid_job.TASK:
        return reid_job.run_reid_chunk(ctx)

    project, params = ctx.project, ctx.params
    snapshot = get_snapshot(project, int(params["snapshot_id"]))
    start = Start.from_dict(params["start"])
    name = model_name(ctx.job_id)
    existing = _version_of_job(project, ctx.job_id)
    if existing is None:
        run_dir = project.path("runs") / f"train-{ctx.job_id:05d}"
        ctx.message(f"exporting {snapshot.name}; {start.explanation}")
        train_params = dict(params["train"])
        collapse = train_params.pop("collapse", None)
        dataset = export_snapshot(
            project,
            snapshot.id,
            "yolo",
            out=run_dir / "dataset",
            overwrite=True,
            collapse=collapse,
        ).folder
        shutil.rmtree(run_dir / "ultralytics", ignore_errors=True)
        ctx.set_total(int(params["train"]["epochs"]))
        curves: list[dict[str, Any]] = []

        def on_epoch(report: Any) -> None:
            curves.append(report.as_dict())
            _store_curves(project, ctx.job_id, curves)
            ctx.progress(report.epoch, message=report.line())

        try:
            outcome = train(
                start.source,
                dataset / "data.yaml",
                run_dir / "ultralytics",
                TrainParams(**train_params),
                on_epoch=on_epoch,
                should_stop=lambda: ctx.cancelled.is_set() or ctx.lost.is_set(),
            )
        except TrainingStopped:
            ctx.check_cancelled()
            raise
        ctx.message(f"registering {name} as challenger")
        classes = [c for c in snapshot.params["classes"] if collapse in (None, c["name"])]
        version = register_model(
            project,
            outcome.best,
            name,
            classes=[c["name"] for c in classes],
            class_ids=[int(c["id"]) for c in classes],
            imgsz=int(params["train"]["imgsz"]),
            provenance=Provenance(
                source="trained",
                parent_id=start.parent_id,
                snapshot_id=snapshot.id,
                job_id=ctx.job_id,
                params={
                    "train": params["train"],
                    "start": start.as_dict(),
                    "trigger": params.get("trigger"),
                },
                metrics={
                    "training_curves": outcome.curves,
                    "best_epoch": outcome.best_epoch,
                    "epochs_run": outcome.epochs_run,
                    "val": outcome.best_metrics,
                },
                notes=f"{start.explanation}; snapshot {snapshot.name}",
            ),
        )
        existing = version.id
    with project.db.session() as session:
        if aliases.resolve(session, "challenger") != existing:
            aliases.move_alias(
                session, "challenger", existing, None, f"trained by job {ctx.job_id}"
            )
    return ChunkOutcome(done=int(params["train"]["epochs"]))


def finalize_training(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        job_params = session.scalar(select(Job.params).where(Job.id == job_id)) or {}
        if job_params.get("task") == head_job.TASK:
            return head_job.finalize_head(project, job_id)
        if job_params.get("task") == classifier_job.TASK:
            return classifier_job.finalize_classifier(project, job_id)
        if job_params.get("task") == reid_job.TASK:
            return reid_job.finalize_reid(project, job_id)
        version = session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id))
        if version is None:
            return {"error": "no model was registered"}
        return {
            "model_version_id": version.id,
            "model": version.name,
            "snapshot_id": version.snapshot_id,
            "start": version.params.get("start"),
            "epochs_run": version.metrics.get("epochs_run"),
            "best_epoch": version.metrics.get("best_epoch"),
            "val": version.metrics.get("val"),
            "curves": version.metrics.get("training_curves"),
        }


def model_name(job_id: int) -> str:
    return f"trained-job{job_id}"


def _version_of_job(project: Project, job_id: int) -> int | None:
    with project.db.session() as session:
        return session.scalar(select(ModelVersion.id).where(ModelVersion.job_id == job_id))


def _store_curves(project: Project, job_id: int, curves: list[dict[str, Any]]) -> None:
    """The curve so far, readable while the job runs (the finaliser replaces it at the end)."""
    with project.db.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.state == "running")
            .values(result={"curves": list(curves), "running": True})
        )


TRAIN_KIND = JobKind(KIND, run_training_chunk, finalize_training, max_attempts=1)
