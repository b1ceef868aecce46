"""Wall time of each step of the loop: snapshot, train, evaluate + gate, promote, reprocess.

Builds a project of generated scenes (``--labelled`` reviewed images plus an ``--archive``
of unreviewed ones), then runs ``wildloop loop`` once and reports each step. Baselines in the
same script, on the same data and machine: Ultralytics training called directly on the same
exported dataset (what the train step costs without wildloop's job, export and registration),
and Ultralytics ``predict`` over the same archive (what the reprocess step costs without
wildloop's pipeline and database writes). The seed workflow's figure (about 1.5 hours and ten
manual steps for ~800 images plus a 35,000-image reprocess on an RTX 4080) is quoted from the
issue, not measured: this script measures what the machine it runs on can do.

    python bench/loop_timing.py --labelled 800 --archive 2000 --epochs 1 --imgsz 320
    python bench/loop_timing.py --labelled 800 --archive 35000 --epochs 30 --device 0   # GPU
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from wildloop.composition import register_job_kinds
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.media.ingest import IngestItem, ingest_items
from wildloop.project import Project
from wildloop.review.labels import save_labels
from wildloop.store.tables import Media
from wildloop.synthetic.scenes import Frame, SceneGenerator
from wildloop.training.loop import run_loop
from wildloop.training.loop_job import LoopStep

CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
FRAMES_PER_BURST = 4.5


def generate(root: Path, images: int, seed: int) -> list[Frame]:
    generator = SceneGenerator(CLASSES, seed=seed)
    frames: list[Frame] = []
    while len(frames) < images:
        frames += generator.write(root, max(1, int((images - len(frames)) / FRAMES_PER_BURST)))
    return frames


def ingest(project: Project, frames: list[Frame], root: Path) -> dict[str, int]:
    items = [
        IngestItem(root / f.file_name, f.camera, f.sequence_key, f.captured_at) for f in frames
    ]
    ingest_items(project, items)
    from sqlalchemy import select

    with project.db.session() as session:
        ids = {Path(p): i for p, i in session.execute(select(Media.path, Media.id)).all()}
    return {f.file_name: ids[(root / f.file_name).resolve()] for f in frames}


def label(project: Project, frames: list[Frame], ids: dict[str, int]) -> None:
    author = project.author("bench")
    classes = project.classes
    for start in range(0, len(frames), 200):
        with project.db.session() as session:
            for f in frames[start : start + 200]:
                boxes = tuple(LabelBoxValue(a.box, classes.id_of(a.class_name)) for a in f.animals)
                save_labels(
                    session,
                    ids[f.file_name],
                    LabelSet(boxes=boxes, empty=not boxes),
                    author_id=author,
                    classes=classes,
                    expected_revision=None,
                )


def direct_training(data_yaml: Path, out: Path, args: argparse.Namespace) -> float:
    """Baseline: Ultralytics training on the same exported dataset, same parameters."""
    from wildloop.training.ultralytics_trainer import TrainParams, train

    params = TrainParams(
        epochs=args.epochs,
        batch=args.batch,
        imgsz=args.imgsz,
        patience=args.epochs,
        device=args.device,
        workers=args.workers,
        seed=0,
    )
    started = time.perf_counter()
    train("yolov8n.yaml", data_yaml, out, params)
    return time.perf_counter() - started


def direct_predict(weights: Path, files: list[Path], imgsz: int) -> float:
    """Baseline: Ultralytics' own predict over the archive (no database writes)."""
    from wildloop.inference.ultralytics_adapter import predict_reference

    started = time.perf_counter()
    for _ in predict_reference(weights, files, imgsz=imgsz, conf=0.05, iou=0.7):
        pass
    return time.perf_counter() - started


def main() -> None:
    register_job_kinds()  # this process runs the jobs it submits
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labelled", type=int, default=800)
    parser.add_argument("--archive", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    import torch

    root = Path(tempfile.mkdtemp(prefix="wildloop-loop-timing-"))
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    print(f"machine: {os.cpu_count()} CPU cores, {gpu}; load average {os.getloadavg()[0]:.1f}")
    try:
        t = time.perf_counter()
        labelled = generate(root / "labelled", args.labelled, seed=1)
        archive = generate(root / "archive", args.archive, seed=2)
        seconds = time.perf_counter() - t
        print(f"generated {len(labelled)} + {len(archive)} scenes in {seconds:.0f}s")
        project = Project.init(root / "project", "timing", CLASSES)
        t = time.perf_counter()
        ids = ingest(project, labelled, root / "labelled")
        ingest(project, archive, root / "archive")
        label(project, labelled, ids)
        print(f"ingested and labelled in {time.perf_counter() - t:.0f}s (setup, not the loop)")

        steps: list[LoopStep] = []

        def show(step: LoopStep) -> None:
            steps.append(step)
            print(f"  {step.name:<9} {step.status:<8} {step.seconds:8.1f}s  {step.detail[:110]}")

        overrides = {
            "epochs": args.epochs,
            "imgsz": args.imgsz,
            "batch": args.batch,
            "workers": args.workers,
            "device": args.device,
        }
        t = time.perf_counter()
        report = run_loop(project, overrides=overrides, reprocess=True, on_step=show)
        total = time.perf_counter() - t
        by_name = {s.name: s for s in steps}
        reprocessed = len(labelled) + len(archive)
        rate = reprocessed / max(by_name["reprocess"].seconds, 1e-9)
        print(
            f"loop total {total:.1f}s for {len(labelled)} labelled images, {args.epochs} "
            f"epoch(s) at {args.imgsz}px, reprocess of {reprocessed} images ({rate:.1f} images/s)"
        )
        figures = {
            "loop_seconds": total,
            "steps": {s.name: s.seconds for s in steps},
            "labelled": len(labelled),
            "reprocessed": reprocessed,
            "args": vars(args) | {"json": None},
            "gpu": gpu,
            "promoted": report.promoted,
        }
        if not args.no_baselines:
            job_id = by_name["train"].data["job_id"]
            data_yaml = project.path("runs") / f"train-{job_id:05d}" / "dataset" / "data.yaml"
            direct = direct_training(data_yaml, root / "direct-train", args)
            from wildloop.registry.versions import get_version, verified_artifact

            with project.db.session() as session:
                weights = verified_artifact(project, get_version(session, "champion"), "pt")
            files = [root / "labelled" / f.file_name for f in labelled]
            files += [root / "archive" / f.file_name for f in archive]
            predict = direct_predict(weights, files, args.imgsz)
            train_s, reprocess_s = by_name["train"].seconds, by_name["reprocess"].seconds
            print(
                f"baseline: Ultralytics train directly {direct:.1f}s vs wildloop train step "
                f"{train_s:.1f}s (ratio {train_s / direct:.2f}; wildloop's includes the job, "
                "the export and registration with ONNX export)"
            )
            print(
                f"baseline: Ultralytics predict {reprocessed / predict:.1f} images/s vs wildloop "
                f"reprocess {reprocessed / reprocess_s:.1f} images/s (speed-up "
                f"{predict / reprocess_s:.2f}x; wildloop's includes writing every prediction)"
            )
            figures |= {"baseline_train_seconds": direct, "baseline_predict_seconds": predict}
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2, default=str))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
