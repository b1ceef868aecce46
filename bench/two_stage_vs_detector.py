"""The two-stage pipeline against a single-stage detector on real photos (mct-real: 826
Reconyx frames, 711 boxes of 20 species), both trained through the product with the same
detector budget and scored by the same COCO evaluator on the same frozen test items.

A: a project of the 20 species; the `training` job trains a yolov8n detector of the 20
   species from the model yaml (no download) for `--epochs` at `--imgsz`.
B: the same photos, labels and frozen splits (imported the same way, so the same
   sequence-grouped split of every item) plus a parent class "animal"; the `training` job
   with `collapse = animal` trains a class-agnostic detector on the same boxes with the
   same budget (every box written as "animal"), it becomes champion, and the crop
   classifier job (the default head: frozen MobileNet v1 crop vectors, logistic regression)
   trains on the same boxes' 20 species and is paired with it as the challenger pipeline.
   The detector's class is coarser than the classifier's, as issue 18 asks: one set of
   species labels serves both stages.

The pipeline's cost per image: the evaluator's own prediction pass over the test photos,
timed for B's detector alone and for the pipeline, with `crops.max_per_image` set to
`--hand-off` (default 2) and the hand-off's lowest detector score (`crops.min_score` and
the pipeline's `min_box_score`) at `--min-box-score` (default 0: a detector this briefly
trained scores below the default 0.1, and would hand on nothing), so about that many boxes
per image reach the classifier; the boxes actually named by the classifier are counted.

    python bench/two_stage_vs_detector.py [--epochs 3] [--imgsz 320] [--hand-off 2]

Measured 2026-11-30 on the shared 2-core machine (`--epochs 2 --imgsz 320`, batch 16,
workers 0; load average 7.6 at the start, 1.9 at the end; the whole script 607 s wall, 364 s
user + 16 s system CPU): 65 test items (5 sequences), the same in both projects.
    A detector (20 species): mAP50 0.0000, mAP50-95 0.0000; training 161 s wall, 157 s CPU.
    B pipeline (animal detector + head): mAP50 0.0000, mAP50-95 0.0000; training 407 s wall,
      203 s CPU (detector 390 s wall / 191 s CPU, classifier job 17 s wall / 11 s CPU;
      the classifier's test crops top-1 0.204, macro-F1 0.325). Ratio B/A undefined (0/0);
      training time B/A 2.53x wall (B trained at load ~7, A at ~2), 1.29x CPU.
    Neither wins: two epochs from the untrained yaml on 577 train boxes find nothing (B's
    detector's own val after epoch 2: recall 0.56 at precision 0.001, mAP50 0.001;
    ADR 0010 records 0.0000 after 15 epochs and mAP50 0.10 after 30). A fair comparison
    needs a pretrained start (`--base`, not downloadable here) or GPU epochs.
    The classifier scores below bench/crop_classifier.py's 0.389 / 0.506 because its crops
    are cut from the frame letterboxed at the detector's size (320 here, 640 there).
Cost per test image, `crops.max_per_image` 2, hand-off from score 0 (2.00 boxes per image
named by the classifier): B's detector alone 71 ms wall / 39 ms CPU, the pipeline 136 ms
wall / 73 ms CPU: 1.91x wall, 1.85x CPU, so the issue's < 1.30x is not met with yolov8n at
320 pixels: ~17 ms CPU per crop embedding (as bench/two_stage_throughput.py found) against
a 39 ms detector. A first run with the default hand-off score 0.1 (`--epochs 1`, same
host) handed on nothing (0.00 boxes/img; 1.13x CPU, the crop stage's fixed cost).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("YOLO_OFFLINE", "1")

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
from crop_classifier import clock, mct_project, trained
from wildloop.composition import register_job_kinds
from wildloop.evaluation.evaluator import evaluate_model, test_snapshot
from wildloop.evaluation.promotion import make_first_champion
from wildloop.jobs.local import run_job
from wildloop.processing.predict_job import predict_items
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Prediction, PredictionSet
from wildloop.training.job import start_training

PARENT = "animal"


def train_detector(project: Project, overrides: dict[str, Any]) -> tuple[int, float, float]:
    """The `training` job run here: the challenger it registers, wall and CPU seconds."""
    start = clock()
    status = run_job(project, start_training(project, overrides=overrides).job_id)
    assert status["state"] == "succeeded", status
    with project.db.session() as session:
        version = aliases.resolve(session, "challenger")
    assert version is not None
    return version, time.perf_counter() - start[0], time.process_time() - start[1]


def evaluated(project: Project, version: int) -> tuple[dict[str, Any], float, float, int]:
    """The COCO evaluator on the frozen test split, its prediction pass timed."""
    spent: list[float] = []
    items: list[int] = []

    def predict(p: Project, model: int, media: Any) -> None:
        start = clock()
        predict_items(p, model, media)
        spent.extend([time.perf_counter() - start[0], time.process_time() - start[1]])
        items.append(len(media))

    record, _ = evaluate_model(project, version, predict=predict)
    return record.metrics, spent[0], spent[1], items[0]


def named_boxes(project: Project, version: int) -> int:
    """Boxes the classifier named (a pipeline's box keeps the detector's score apart)."""
    with project.db.session() as session:
        return int(
            session.scalar(
                select(func.count(Prediction.id))
                .join(PredictionSet)
                .where(
                    PredictionSet.model_version_id == version,
                    Prediction.class_name != PARENT,
                    Prediction.det_score.is_not(None),
                )
            )
            or 0
        )


def test_items(project: Project) -> list[str]:
    """The frozen test split's photos (both projects split with the default salt)."""
    return sorted(e.path.name for e in test_snapshot(project).entries)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hand-off", type=int, default=2)
    parser.add_argument(
        "--min-box-score",
        type=float,
        default=0.0,
        help="lowest detector score handed on (crops.min_score and the pipeline's)",
    )
    args = parser.parse_args()
    register_job_kinds()
    budget = {"epochs": args.epochs, "imgsz": args.imgsz, "batch": args.batch, "workers": 0}
    rows: dict[str, tuple[dict[str, Any], float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-two-vs-one-") as tmp:
        b = mct_project(Path(tmp) / "b", (PARENT,))
        b.config.crops.max_per_image = args.hand_off
        b.config.crops.min_score = args.min_box_score
        b.save_config()
        detector_b, d_wall, d_cpu = train_detector(b, budget | {"collapse": PARENT})
        print(f"B detector : {d_wall:.0f} s wall, {d_cpu:.0f} s CPU", flush=True)
        with b.db.session() as session:
            make_first_champion(session, detector_b, None, "bench", classes=b.classes)
        start = clock()
        metrics_c, took = trained(b, {"min_box_score": args.min_box_score})
        c_wall, c_cpu = time.perf_counter() - start[0], time.process_time() - start[1]
        print(
            f"B classifier: test crops top-1 {metrics_c['test']['top1']:.3f}, macro-F1 "
            f"{metrics_c['test']['macro_f1']:.3f}; {took}",
            flush=True,
        )
        with b.db.session() as session:
            pipeline = aliases.resolve(session, "challenger")
        assert pipeline is not None and pipeline != detector_b
        _, det_wall, det_cpu, count = evaluated(b, detector_b)
        metrics_b, pipe_wall, pipe_cpu, _ = evaluated(b, pipeline)
        rows["B pipeline (animal + head)"] = (metrics_b, d_wall + c_wall, d_cpu + c_cpu)
        handed = named_boxes(b, pipeline) / count
        print(f"B pipeline : mAP50 {metrics_b['map50']:.4f}", flush=True)

        a = mct_project(Path(tmp) / "a")
        detector_a, wall, cpu = train_detector(a, budget)
        print(
            f"A detector : {args.epochs} epochs at {args.imgsz} px, {wall:.0f} s wall, "
            f"{cpu:.0f} s CPU",
            flush=True,
        )
        metrics_a, *_ = evaluated(a, detector_a)
        assert test_items(a) == test_items(b), "the two projects split differently"
        rows = {"A detector (20 species)": (metrics_a, wall, cpu)} | rows

    print(
        f"\nsame frozen test split ({count} items), same COCO evaluator, "
        f"detector budget {args.epochs} epochs at {args.imgsz} px"
    )
    print(f"{'':28s} {'mAP50':>7} {'mAP50-95':>9} {'train wall s':>13} {'train CPU s':>12}")
    for name, (m, wall, cpu) in rows.items():
        print(f"{name:28s} {m['map50']:7.4f} {m['map50_95']:9.4f} {wall:13.0f} {cpu:12.0f}")
    print(f"{'  of which classifier':28s} {'':7s} {'':9s} {c_wall:13.0f} {c_cpu:12.0f}")
    (ma, wa, ca), (mb, wb, cb) = rows.values()
    ratio = [mb[k] / ma[k] if ma[k] else float("inf") for k in ("map50", "map50_95")]
    print(f"{'ratio B/A':28s} {ratio[0]:7.2f} {ratio[1]:9.2f} {wb / wa:13.2f} {cb / ca:12.2f}")
    print(
        f"\ncost per test image (crops.max_per_image = {args.hand_off}; "
        f"{handed:.2f} boxes/img named by the classifier):"
    )
    print(
        f"B detector alone: {det_wall / count * 1000:.0f} ms wall, "
        f"{det_cpu / count * 1000:.0f} ms CPU per image"
    )
    print(
        f"B pipeline      : {pipe_wall / count * 1000:.0f} ms wall, "
        f"{pipe_cpu / count * 1000:.0f} ms CPU per image"
    )
    print(
        f"ratio           : {pipe_wall / det_wall:.2f}x wall, {pipe_cpu / det_cpu:.2f}x CPU "
        f"(target < 1.30x)"
    )


if __name__ == "__main__":
    main()
