"""The crop classifier trained end to end: Ultralytics classification (YOLO-cls), the other
``method`` of the crop-classifier training job (``wildloop.training.classifier_job``).

The snapshot's train and val human boxes are cut exactly as the head's (and as the pipeline
cuts them at inference) and written as an Ultralytics classification folder; the test split
is never written. Ultralytics trains offline through the detector training's adapter
(``ultralytics_trainer.train``: settings sync, font fetch and AMP check kept offline,
per-epoch progress, a cancel within one batch) from the ``.pt`` the user supplied, else from
the untrained ``yolov8n-cls.yaml`` architecture: no weights are downloaded. The best
weights are exported to ONNX (``ultralytics_adapter.export_onnx``), scored on the test
split's ground-truth crops with the head's metrics, and registered as a crop-classifier
version whose params say ``method = yolo-cls``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from wildloop.crops.yolo_cls import HEAD, METHOD, METHODS, YoloClsClassifier, write_crop_folder
from wildloop.datasets.snapshots import load_snapshot
from wildloop.domain.model_kinds import CLASSIFIER
from wildloop.errors import BadInput
from wildloop.evaluation.classifier_eval import labelled_images, score_classifier
from wildloop.evaluation.evaluator import test_snapshot
from wildloop.inference.crops import OnnxCropClassifier
from wildloop.inference.ultralytics_adapter import export_onnx, require_weights
from wildloop.jobs.kinds import ChunkContext
from wildloop.registry.versions import Provenance, register_head
from wildloop.training.ultralytics_trainer import (
    CLASSIFY_METRIC_KEYS,
    TrainingStopped,
    TrainParams,
    train,
)

DEFAULT_YAML = "yolov8n-cls.yaml"
DEFAULTS: dict[str, Any] = {
    "method": HEAD,
    "epochs": 20,
    "crop_size": 128,
    "batch": 32,
    "start_weights": None,
}


def check_params(values: dict[str, Any]) -> None:
    """Refuse bad YOLO-cls settings before a job is queued; a start ``.pt`` must exist here
    (its path is made absolute, so the job reads the file the user named)."""
    if values["method"] not in METHODS:
        raise BadInput(
            f"unknown classifier method {values['method']!r}; use {' or '.join(METHODS)}"
        )
    if not 1 <= int(values["epochs"]) <= 1000:
        raise BadInput("epochs must be between 1 and 1000")
    size = int(values["crop_size"])
    # Below 64 pixels the network's last map is 1x1, and Ultralytics refuses a last batch of
    # one crop there (BatchNorm would see one value).
    if not (64 <= size <= 640 and size % 32 == 0):
        raise BadInput("crop_size must be a multiple of 32 between 64 and 640")
    if not 1 <= int(values["batch"]) <= 1024:
        raise BadInput("batch must be between 1 and 1024")
    if values["start_weights"] is not None:
        if values["method"] != METHOD:
            raise BadInput("start weights are for --method yolo-cls (a head starts from nothing)")
        values["start_weights"] = str(require_weights(values["start_weights"]))


def train_and_register(ctx: ChunkContext, settings: dict[str, Any], imgsz: int) -> int:
    """Cut, train, export, score and register; returns the new version's id. ``imgsz`` is
    the detector's input size, at which frames are letterboxed before cutting."""
    project = ctx.project
    data = load_snapshot(project, int(ctx.params["snapshot_id"]))
    padding, size = float(settings["padding"]), int(settings["crop_size"])
    epochs = int(settings["epochs"])
    splits = {s: labelled_images(data.split(s)) for s in ("train", "val")}
    images = sum(len(entries) for entries in splits.values())
    ctx.set_total(images + epochs)
    run_dir = project.path("runs") / f"classifier-{ctx.job_id:05d}"
    shutil.rmtree(run_dir, ignore_errors=True)
    ctx.message(f"cutting the boxes of {images} images into {size}-pixel crops")
    started = time.perf_counter()

    def on_item(done: int) -> None:
        if done % 10 == 0:
            ctx.progress(done)
        else:
            ctx.check_cancelled()

    folder = write_crop_folder(
        run_dir / "crops", splits, size=size, imgsz=imgsz, padding=padding, on_item=on_item
    )
    crop_s = time.perf_counter() - started
    if len(folder.columns) < 2:
        raise BadInput("YOLO-cls needs boxes of at least two classes in train and val; review more")
    if not folder.total("val"):
        raise BadInput(
            "YOLO-cls validates on the val split's crops and there are none; review items of "
            "the val split, or train --method head"
        )
    start = settings["start_weights"] or DEFAULT_YAML
    curves: list[dict[str, Any]] = []

    def on_epoch(report: Any) -> None:
        curves.append(report.as_dict())
        ctx.progress(images + report.epoch, message=report.line())

    started = time.perf_counter()
    try:
        outcome = train(
            start,
            run_dir / "crops",
            run_dir / "ultralytics",
            TrainParams(
                epochs=epochs,
                batch=int(settings["batch"]),
                imgsz=size,
                patience=0,
                device=project.config.training.device,
                workers=project.config.training.workers,
                seed=project.config.training.seed,
                amp=project.config.training.amp,
                # Warm-up lasts at least 100 batches: most of a short run on a few hundred crops.
                warmup_epochs=0.0,
            ),
            on_epoch=on_epoch,
            should_stop=lambda: ctx.cancelled.is_set() or ctx.lost.is_set(),
            metric_keys=CLASSIFY_METRIC_KEYS,
        )
    except TrainingStopped:
        ctx.check_cancelled()
        raise
    fit_s = time.perf_counter() - started
    names = {c.id: c.name for c in data.classes}
    columns = folder.columns
    classes = [names[c] for c in columns]
    ctx.message("exporting to ONNX and scoring on the test split's ground-truth crops")
    with tempfile.TemporaryDirectory(prefix="wildloop-yolo-cls-") as tmp:
        path = export_onnx(outcome.best, Path(tmp) / "classifier.onnx", size)
        classifier = YoloClsClassifier(
            OnnxCropClassifier(f"{METHOD}:candidate", path, size), tuple(classes), padding
        )
        try:
            test = score_classifier(
                classifier, columns, test_snapshot(project), classifier.model, imgsz=imgsz
            )
        except BadInput:  # no test split with boxes yet
            test = None
        version = register_head(
            project,
            path,
            f"classifier-job{ctx.job_id}",
            task=CLASSIFIER,
            fmt="onnx",
            classes=classes,
            class_ids=columns,
            provenance=Provenance(
                source="trained",
                snapshot_id=data.info.id,
                job_id=ctx.job_id,
                params={
                    "method": METHOD,
                    "padding": padding,
                    "imgsz": imgsz,
                    "crop_size": size,
                    "start": start,
                    "train": {k: settings[k] for k in ("epochs", "batch")},
                    "trigger": ctx.params.get("trigger"),
                },
                metrics={
                    "training": {
                        "seconds": round(fit_s, 3),
                        "crop_seconds": round(crop_s, 3),
                        "epochs_run": outcome.epochs_run,
                        "best_epoch": outcome.best_epoch,
                        "val": outcome.best_metrics,
                        "curves": outcome.curves,
                    },
                    "crops": {"train": folder.total("train"), "val": folder.total("val")},
                    "failed_items": len(folder.failed),
                    "test": test,
                },
                notes=f"YOLO-cls from {Path(start).name}, trained end to end on "
                f"{size}-pixel crops; snapshot {data.info.name}",
            ),
        )
    return version.id
