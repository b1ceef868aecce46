"""Fine-tuning the re-ID embedder as a job: a projection of crop vectors learnt from the
confirmed sightings of the train individuals, registered, then gated.

It is a ``train`` job (its params say ``task = reid-embedder``), so the one partial unique
index on ``jobs`` allows one training per project whatever it trains. The job reads only
stored crop vectors (``individual-embed`` computes them), fits
``individuals.projection.fit_projection`` with one progress step per epoch, registers the
``.npz`` as a ``reid-embedder`` version with its provenance (embedder, train individuals
and sightings, loss curve, test retrieval), and hands it to the gate
(``evaluation.reid_gate``): it becomes ``reid-champion`` only if it retrieves the frozen test
individuals better than the current one. A redone chunk reuses the registered version.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from wildloop.crops.embedder import crop_embedder_key
from wildloop.domain.model_kinds import REID_EMBEDDER
from wildloop.errors import BadInput
from wildloop.evaluation.reid_gate import promote_embedder
from wildloop.evaluation.reid_switch_job import DEFAULT_MIN_SIMILARITY
from wildloop.individuals.projection import (
    DEFAULT_DIM,
    DEFAULT_EPOCHS,
    DEFAULT_LR,
    DEFAULT_MARGIN,
    FORMAT,
    REID_ALIAS,
    confirmed_sightings,
    fit_projection,
    held_out_sightings,
    require_trainable,
    retrieval,
    training_sightings,
)
from wildloop.individuals.suggest_job import rescore_pending
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome
from wildloop.jobs.training_guard import ensure_no_training, submit_training
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import register_trained_head
from wildloop.store.tables import Job, ModelVersion

TASK = REID_EMBEDDER
MAX_EPOCHS = 1000


def reid_params(
    project: Project, epochs: int | None = None, dim: int | None = None
) -> dict[str, Any]:
    if epochs is not None and not 1 <= epochs <= MAX_EPOCHS:
        raise BadInput(f"epochs must be between 1 and {MAX_EPOCHS}")
    if dim is not None and not 2 <= dim <= 4096:
        raise BadInput("dim must be between 2 and 4096")
    return {
        "embedder": crop_embedder_key(project),
        "epochs": epochs or DEFAULT_EPOCHS,
        "dim": dim or DEFAULT_DIM,
        "margin": DEFAULT_MARGIN,
        "lr": DEFAULT_LR,
        "seed": project.config.training.seed,
    }


def start_embedder_training(
    project: Project,
    *,
    epochs: int | None = None,
    dim: int | None = None,
    created_by: int | None = None,
) -> int:
    """Submit the fine-tuning (refused while another training is queued or running)."""
    if project.config.modality == "audio":
        raise BadInput("re-identification compares image crops; an audio project has none")
    ensure_no_training(project)
    params = reid_params(project, epochs, dim)
    with project.db.session() as session:
        require_trainable(session, project, str(params["embedder"]))
    return submit_training(
        project,
        {"task": TASK, "reid": params},
        [{}],
        total=int(params["epochs"]),
        created_by=created_by,
        message="queued: re-ID embedder fine-tuning",
    )


def run_reid_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project = ctx.project
    settings = ctx.params["reid"]
    if _version_of_job(project, ctx.job_id) is None:
        _train_and_register(ctx, settings)
    with project.db.session() as session:
        created_by = session.get_one(Job, ctx.job_id).created_by
    ctx.message("comparing with the current re-ID embedder on the test individuals")
    outcome = promote_embedder(project, _version_of_job(project, ctx.job_id), actor_id=created_by)
    if outcome["promoted"] and created_by is not None:
        # Stored suggestions were scored by the embedder it replaced.
        counts = rescore_pending(project, created_by, DEFAULT_MIN_SIMILARITY)
        ctx.message(f"promoted; pending suggestions re-scored: {counts}")
    return ChunkOutcome(done=int(settings["epochs"]))


def _train_and_register(ctx: ChunkContext, settings: dict[str, Any]) -> None:
    project = ctx.project
    embedder = str(settings["embedder"])
    with project.db.session() as session:
        found = confirmed_sightings(session, embedder)
    train = training_sightings(project, found)
    ctx.set_total(int(settings["epochs"]))
    ctx.message(
        f"fitting on {len(train.label_box_ids)} sightings of "
        f"{len(set(train.individual_ids))} train individuals"
    )

    def on_epoch(epoch: int, loss: float) -> None:
        ctx.progress(epoch, message=f"epoch {epoch}/{settings['epochs']}: loss {loss:.4f}")

    projection, report = fit_projection(
        train,
        embedder,
        dim=int(settings["dim"]),
        epochs=int(settings["epochs"]),
        margin=float(settings["margin"]),
        lr=float(settings["lr"]),
        seed=int(settings["seed"]),
        on_epoch=on_epoch,
    )
    held_out = held_out_sightings(project, found)
    register_trained_head(
        project,
        projection,
        f"reid-embedder-job{ctx.job_id}",
        task=TASK,
        fmt=FORMAT,
        job_id=ctx.job_id,
        snapshot_id=None,
        params=settings | {"train_individuals": sorted(set(train.individual_ids))},
        metrics={
            "training": report,
            "test": retrieval(held_out, projection).as_dict(),
            "test_baseline": retrieval(held_out, None).as_dict(),
            "test_individuals": len(set(held_out.individual_ids)),
        },
        notes=f"projection of {embedder} crop vectors, fine-tuned on confirmed sightings",
    )


def finalize_reid(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        version = session.scalar(
            select(ModelVersion).where(ModelVersion.job_id == job_id, ModelVersion.task == TASK)
        )
        if version is None:
            return {"error": "no model was registered"}
        promoted = aliases.resolve(session, REID_ALIAS) == version.id
        return {
            "model_version_id": version.id,
            "model": version.name,
            "task": version.task,
            "promoted": promoted,
            "test": version.metrics.get("test"),
            "test_baseline": version.metrics.get("test_baseline"),
            "training": version.metrics.get("training"),
        }


def _version_of_job(project: Project, job_id: int) -> int | None:
    with project.db.session() as session:
        return session.scalar(
            select(ModelVersion.id).where(ModelVersion.job_id == job_id, ModelVersion.task == TASK)
        )
