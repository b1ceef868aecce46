"""Training an audio head as a job: the snapshot's train/val windows, their stored embeddings,
a head fitted in seconds, registered as ``challenger``.

An audio head training is a ``train`` job like a detector's (its params say
``task = audio-head``), so the one partial unique index on ``jobs`` allows one training per
project whatever it trains, and the retraining log, triggers and job views see it as a
training. The test split is never read: the snapshot holds train and val windows only, and
validation windows only decide when to stop.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import func, select

from wildloop.audio.head import HeadParams, train_head
from wildloop.audio.truth import classes_of_revisions
from wildloop.audio.vectors import read_matrix
from wildloop.datasets.snapshot_model import SnapshotData, SnapshotEntry
from wildloop.datasets.snapshots import SnapshotInfo, create_snapshot, load_snapshot
from wildloop.errors import BadInput
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome
from wildloop.jobs.training_guard import TRAINING_KIND, ensure_no_training, submit_training
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import register_trained_head
from wildloop.store.tables import Embedding, ModelVersion, SnapshotItem

KIND = TRAINING_KIND  # one kind for every training, so one index guards them all
TASK = "audio-head"
ARTIFACT_FORMAT = "npz"
REPORT_EVERY_S = 0.5


@dataclass(frozen=True)
class StartedHeadTraining:
    job_id: int
    snapshot: SnapshotInfo
    embedder: str
    params: HeadParams


def head_params(overrides: dict[str, Any] | None = None) -> HeadParams:
    """Default head settings with the caller's overrides (None means default)."""
    values = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return HeadParams.from_dict(HeadParams().as_dict() | values)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"bad head parameters: {exc}") from None


def start_head_training(
    project: Project,
    *,
    embedder: str | None = None,
    overrides: dict[str, Any] | None = None,
    trigger: str = "manual",
    created_by: int | None = None,
) -> StartedHeadTraining:
    """Freeze a training snapshot of the reviewed windows and submit the head training."""
    ensure_no_training(project)
    params = head_params(overrides)
    snapshot, _ = create_snapshot(project, "training", created_by=created_by)
    with project.db.session() as session:
        train = list(
            session.scalars(
                select(SnapshotItem.media_id).where(
                    SnapshotItem.snapshot_id == snapshot.id, SnapshotItem.split == "train"
                )
            )
        )
    if not train:
        raise BadInput(
            "no reviewed windows in the train split yet: review (or import labels for) some "
            "windows first; `wildloop status` shows the splits"
        )
    key = embedder or choose_embedder(project, train)
    settings = project.config.audio
    job_params = {
        "task": TASK,
        "snapshot_id": snapshot.id,
        "snapshot": snapshot.name,
        "embedder": key,
        "window_s": settings.window_s,
        "hop_s": settings.hop_s,
        "head": params.as_dict(),
        "trigger": trigger,
    }
    job_id = submit_training(
        project,
        job_params,
        [{"snapshot_id": snapshot.id}],
        total=params.max_epochs,
        created_by=created_by,
        message=f"queued: audio head on {key} embeddings of {snapshot.name}",
    )
    return StartedHeadTraining(job_id, snapshot, key, params)


def choose_embedder(project: Project, media_ids: list[int]) -> str:
    """The embedder whose vectors cover the most of these windows (the configured backend
    wins a tie), so a head always trains on one consistent embedding space."""
    counts: Counter[str] = Counter()
    with project.db.session() as session:
        for start in range(0, len(media_ids), 500):
            rows = session.execute(
                select(Embedding.embedder, func.count())
                .where(Embedding.media_id.in_(media_ids[start : start + 500]))
                .group_by(Embedding.embedder)
            ).all()
            for key, count in rows:
                counts[key] += int(count)
    if not counts:
        raise BadInput(
            "the training windows have no embeddings yet: run `wildloop audio embed` first"
        )
    configured = project.config.audio.embedder
    return max(counts, key=lambda k: (counts[k], k.startswith(configured)))


def targets_of(
    data: SnapshotData, entries: list[SnapshotEntry], classes: dict[int, frozenset[int]]
) -> NDArray[np.float32]:
    """Multi-hot rows over the snapshot's classes; a window with no class is all zeros."""
    column = {c.id: i for i, c in enumerate(data.classes)}
    y = np.zeros((len(entries), len(column)), np.float32)
    for row, entry in enumerate(entries):
        for class_id in classes.get(entry.label_revision_id or -1, frozenset()):
            if class_id in column:
                y[row, column[class_id]] = 1.0
    return y


def training_arrays(
    project: Project, data: SnapshotData, split: str, embedder: str
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Embeddings and targets of one split's windows; a window without a vector is an error
    (the head must see exactly the snapshot)."""
    entries = [e for e in data.entries if e.split == split]
    with project.db.session() as session:
        x, missing = read_matrix(session, embedder, [e.media_id for e in entries])
        classes = classes_of_revisions(session, [e.label_revision_id for e in entries])
    if missing:
        raise BadInput(
            f"{len(missing)} {split} windows have no {embedder} embedding (e.g. media "
            f"{missing[:5]}); run `wildloop audio embed` and train again"
        )
    return x, targets_of(data, entries, classes)


def run_head_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project, params = ctx.project, ctx.params
    existing = _version_of_job(project, ctx.job_id)
    head_settings = HeadParams.from_dict(params["head"])
    if existing is None:
        data = load_snapshot(project, int(params["snapshot_id"]))
        embedder = str(params["embedder"])
        ctx.message(f"reading {embedder} embeddings of {data.info.name}")
        x_train, y_train = training_arrays(project, data, "train", embedder)
        x_val, y_val = training_arrays(project, data, "val", embedder)
        ctx.set_total(head_settings.max_epochs)

        last_report = [0.0]

        def on_epoch(point: dict[str, float]) -> None:
            # An epoch takes milliseconds: report (one database write) at most twice a second.
            if time.monotonic() - last_report[0] < REPORT_EVERY_S:
                return
            last_report[0] = time.monotonic()
            line = f"epoch {int(point['epoch'])}: loss {point['train_loss']:.4f}"
            if "val_loss" in point:
                line += f", val loss {point['val_loss']:.4f}"
            ctx.progress(int(point["epoch"]), message=line)

        head, report = train_head(
            [c.name for c in data.classes],
            x_train,
            y_train,
            x_val if len(x_val) else None,
            y_val if len(y_val) else None,
            head_settings,
            on_epoch,
        )
        name = f"audio-head-job{ctx.job_id}"
        ctx.message(f"registering {name} as challenger")
        with project.db.session() as session:
            parent = aliases.resolve(session, "champion")
        version = register_trained_head(
            project,
            head,
            name,
            task=TASK,
            fmt=ARTIFACT_FORMAT,
            job_id=ctx.job_id,
            snapshot_id=data.info.id,
            parent_id=parent,
            params={
                "embedder": embedder,
                "window_s": params["window_s"],
                "hop_s": params["hop_s"],
                "mode": head.mode,
                "head": head_settings.as_dict(),
                "trigger": params.get("trigger"),
            },
            metrics={"training": report.as_dict()},
            notes=f"audio head on {embedder} embeddings; snapshot {data.info.name}",
        )
        existing = version.id
    with project.db.session() as session:
        if aliases.resolve(session, "challenger") != existing:
            aliases.move_alias(
                session, "challenger", existing, None, f"trained by job {ctx.job_id}"
            )
    ctx.check_cancelled()
    return ChunkOutcome(done=head_settings.max_epochs)


def finalize_head(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id))
        if version is None:
            return {"error": "no model was registered"}
        training = version.metrics.get("training", {})
        return {
            "model_version_id": version.id,
            "model": version.name,
            "task": version.task,
            "snapshot_id": version.snapshot_id,
            "embedder": version.params.get("embedder"),
            "classes": version.classes,
            "epochs_run": training.get("epochs_run"),
            "best_epoch": training.get("best_epoch"),
            "seconds": training.get("seconds"),
            "curves": training.get("curve"),
        }


def _version_of_job(project: Project, job_id: int) -> int | None:
    with project.db.session() as session:
        return session.scalar(select(ModelVersion.id).where(ModelVersion.job_id == job_id))
