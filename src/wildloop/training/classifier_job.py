"""Training a crop classifier as a job: the snapshot's human boxes of train and val, cut with
context padding from frames decoded as the detector sees them, embedded once by the frozen
crop embedder, and a head fitted in seconds on a CPU.

With ``method = yolo-cls`` the job trains an Ultralytics classification network end to
end on the same crops instead (``wildloop.training.yolo_cls_job``).

It is a ``train`` job like a detector's (its params say ``task = crop-classifier``), so the
one partial unique index on ``jobs`` allows one training per project whatever it trains,
and progress, cancel and the retraining log work as for any training. The test split is
never read for fitting: after registering, the head is scored on the frozen test split's
ground-truth crops (its own stage's metrics). When the champion is a detector or a pipeline,
the new classifier is paired with the champion's detector in a new pipeline, which becomes
``challenger``: the fast loop retrains only this stage and the gate compares end to end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from wildloop.crops import yolo_cls
from wildloop.crops.classifier import CropClassifier, ground_truth_crops
from wildloop.crops.embedder import project_crop_embedder
from wildloop.crops.logistic import fit_crop_head
from wildloop.datasets.snapshots import SnapshotInfo, create_snapshot, load_snapshot
from wildloop.domain.model_kinds import CLASSIFIER, DEFAULT_MIN_BOX_SCORE, DETECT, PIPELINE
from wildloop.errors import BadInput
from wildloop.evaluation.classifier_eval import labelled_images, score_classifier
from wildloop.evaluation.evaluator import test_snapshot
from wildloop.jobs.kinds import ChunkContext, ChunkOutcome
from wildloop.jobs.training_guard import ensure_no_training, submit_training
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.pipelines import register_pipeline
from wildloop.registry.versions import get_version, register_trained_head
from wildloop.store.tables import ModelVersion
from wildloop.training import yolo_cls_job

KIND = "train"
TASK = CLASSIFIER
ARTIFACT_FORMAT = "npz"
DEFAULT_IMGSZ = 640


@dataclass(frozen=True)
class StartedClassifierTraining:
    job_id: int
    snapshot: SnapshotInfo
    params: dict[str, Any]


def classifier_params(project: Project, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Crop and head settings with the caller's overrides (None means default): ``c`` the
    logistic regression's inverse penalty (None: chosen on the validation crops),
    ``hidden`` > 0 an MLP instead, ``balanced`` class weights; ``method`` ``yolo-cls``
    trains a YOLO-cls network end to end instead of a head (``epochs``, ``crop_size``,
    ``batch``, ``start_weights``: see ``wildloop.training.yolo_cls_job``)."""
    values: dict[str, Any] = {
        "padding": project.config.crops.padding,
        "min_box_score": DEFAULT_MIN_BOX_SCORE,
        "c": None,
        "hidden": 0,
        "balanced": True,
    } | yolo_cls_job.DEFAULTS
    for key, value in (overrides or {}).items():
        if key not in values:
            raise BadInput(f"unknown classifier parameter {key!r}; known: {', '.join(values)}")
        if value is not None:
            values[key] = value
    if values["c"] is not None and not float(values["c"]) > 0:
        raise BadInput("c (the inverse penalty) must be above 0")
    if int(values["hidden"]) < 0:
        raise BadInput("hidden must be 0 (logistic regression) or a positive width")
    yolo_cls_job.check_params(values)
    return values


def start_classifier_training(
    project: Project,
    *,
    overrides: dict[str, Any] | None = None,
    trigger: str = "manual",
    created_by: int | None = None,
) -> StartedClassifierTraining:
    """Freeze a training snapshot of the reviewed boxes and submit the classifier training."""
    if project.config.modality == "audio":
        raise BadInput("crop classifiers name image boxes; an audio project trains audio heads")
    ensure_no_training(project)
    params = classifier_params(project, overrides)
    snapshot, _ = create_snapshot(project, "training", created_by=created_by)
    train_boxes = snapshot.counts.get("splits", {}).get("train", {}).get("boxes", None)
    if train_boxes == 0 or not snapshot.counts.get("splits", {}).get("train"):
        raise BadInput(
            "no reviewed boxes in the train split yet: review (or import labels for) some "
            "items first; `wildloop status` shows the splits"
        )
    job_params = {"task": TASK, "snapshot_id": snapshot.id, "snapshot": snapshot.name}
    job_params |= {"classifier": params, "trigger": trigger}
    job_id = submit_training(
        project,
        job_params,
        [{"snapshot_id": snapshot.id}],
        total=1,
        created_by=created_by,
        message=f"queued: crop classifier on {snapshot.name}",
    )
    return StartedClassifierTraining(job_id, snapshot, params)


def run_classifier_chunk(ctx: ChunkContext) -> ChunkOutcome:
    project, params = ctx.project, ctx.params
    settings = params["classifier"]
    existing = _version_of_job(project, ctx.job_id)
    if existing is None and settings.get("method") == yolo_cls.METHOD:
        existing = yolo_cls_job.train_and_register(ctx, settings, _detector_imgsz(project))
    if existing is None:
        existing = _train_and_register(ctx, settings)
    _pair_with_champion(project, ctx.job_id, existing, float(settings["min_box_score"]))
    ctx.check_cancelled()
    return ChunkOutcome(done=1)


def _train_and_register(ctx: ChunkContext, settings: dict[str, Any]) -> int:
    project = ctx.project
    data = load_snapshot(project, int(ctx.params["snapshot_id"]))
    embedder = project_crop_embedder(project)
    imgsz = _detector_imgsz(project)
    padding = float(settings["padding"])
    items = {s: labelled_images(data.split(s)) for s in ("train", "val")}
    total = len(items["train"]) + len(items["val"])
    ctx.set_total(total)
    ctx.message(f"cutting and embedding the boxes of {total} images ({embedder.key})")
    started = time.perf_counter()
    sets = {}
    offset = 0

    def on_item(done: int) -> None:
        # Report (one database write) every ten images; check for a cancel on every one.
        if (offset + done) % 10 == 0:
            ctx.progress(offset + done)
        else:
            ctx.check_cancelled()

    for split in ("train", "val"):
        sets[split] = ground_truth_crops(
            items[split], embedder, imgsz=imgsz, padding=padding, on_item=on_item
        )
        offset += len(items[split])
    embed_s = time.perf_counter() - started
    train_set, val_set = sets["train"], sets["val"]
    names = {c.id: c.name for c in data.classes}
    if len(set(train_set.class_ids) | set(val_set.class_ids)) < 2:
        raise BadInput(
            "a crop classifier needs boxes of at least two classes in the train and val "
            "splits; review more"
        )
    ctx.message(f"fitting a head on {len(train_set.x) + len(val_set.x)} crops")
    head, columns, report = fit_crop_head(
        names,
        train_set,
        val_set,
        c=settings.get("c"),
        hidden=int(settings.get("hidden") or 0),
        balanced=bool(settings.get("balanced", True)),
    )
    classifier = CropClassifier(head, embedder.key, padding)
    ctx.message("scoring the classifier on the test split's ground-truth crops")
    test_metrics = _test_metrics(project, classifier, columns, embedder, imgsz)
    version = register_trained_head(
        project,
        head,
        f"classifier-job{ctx.job_id}",
        task=TASK,
        fmt=ARTIFACT_FORMAT,
        job_id=ctx.job_id,
        snapshot_id=data.info.id,
        class_ids=columns,
        params={
            "embedder": embedder.key,
            "padding": padding,
            "imgsz": imgsz,
            "head": {k: settings.get(k) for k in ("c", "hidden", "balanced")},
            "trigger": ctx.params.get("trigger"),
        },
        metrics={
            "training": report | {"embed_seconds": round(embed_s, 3)},
            "crops": {"train": len(train_set.x), "val": len(val_set.x)},
            "failed_items": len(train_set.failed) + len(val_set.failed),
            "test": test_metrics,
        },
        notes=f"crop classifier on {embedder.key} embeddings; snapshot {data.info.name}",
    )
    return version.id


def _test_metrics(
    project: Project,
    classifier: CropClassifier,
    columns: list[int],
    embedder: Any,
    imgsz: int,
) -> dict[str, Any] | None:
    """The stage's own metrics on the frozen test split (None when it has no boxes yet)."""
    try:
        data = test_snapshot(project)
    except BadInput:
        return None
    return score_classifier(classifier, columns, data, embedder, imgsz=imgsz)


def _detector_imgsz(project: Project) -> int:
    """The input size of the detector whose frames the crops are cut from."""
    detector = _champion_detector(project)
    return (detector.imgsz if detector is not None else None) or DEFAULT_IMGSZ


def _champion_detector(project: Project) -> ModelVersion | None:
    """The detector the champion runs (itself, or a pipeline's first stage)."""
    with project.db.session() as session:
        champion_id = aliases.resolve(session, "champion")
        if champion_id is None:
            return None
        champion = get_version(session, champion_id)
        if champion.task == PIPELINE and champion.detector_id is not None:
            champion = get_version(session, champion.detector_id)
        session.expunge_all()
    return champion if champion.task == DETECT and champion.onnx_sha256 else None


def _pair_with_champion(
    project: Project, job_id: int, classifier_id: int, min_score: float
) -> None:
    """A pipeline of the champion's detector and the new classifier, made ``challenger``;
    nothing to pair when there is no runnable champion detector."""
    detector = _champion_detector(project)
    if detector is None:
        return
    name = f"pipeline-job{job_id}"
    with project.db.session() as session:
        pipeline_id = session.scalar(select(ModelVersion.id).where(ModelVersion.name == name))
    if pipeline_id is None:
        pipeline_id = register_pipeline(
            project,
            name,
            detector.id,
            classifier_id,
            min_box_score=min_score,
            source="trained",
            job_id=None,
        ).id
    with project.db.session() as session:
        if aliases.resolve(session, "challenger") != pipeline_id:
            aliases.move_alias(session, "challenger", pipeline_id, None, f"trained by job {job_id}")


def finalize_classifier(project: Project, job_id: int) -> dict[str, Any]:
    with project.db.session() as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.job_id == job_id))
        if version is None:
            return {"error": "no model was registered"}
        pipeline = session.scalar(
            select(ModelVersion).where(ModelVersion.name == f"pipeline-job{job_id}")
        )
        training = version.metrics.get("training", {})
        return {
            "model_version_id": version.id,
            "model": version.name,
            "task": version.task,
            "method": version.params.get("method", yolo_cls.HEAD),
            "pipeline": pipeline.name if pipeline is not None else None,
            "pipeline_id": pipeline.id if pipeline is not None else None,
            "snapshot_id": version.snapshot_id,
            "classes": version.classes,
            "crops": version.metrics.get("crops"),
            "embed_seconds": training.get("embed_seconds"),
            "fit_seconds": training.get("seconds"),
            "test": version.metrics.get("test"),
        }


def _version_of_job(project: Project, job_id: int) -> int | None:
    with project.db.session() as session:
        return session.scalar(
            select(ModelVersion.id).where(ModelVersion.job_id == job_id, ModelVersion.task == TASK)
        )
