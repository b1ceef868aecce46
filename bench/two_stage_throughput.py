"""What the classifier stage costs per image: the same detector alone and as a pipeline's
first stage, over the same real photos, through the one predict job (decode, detect, crop,
embed, name, bulk write), timed in this script.

The detector is the demo detector (six outputs, trained on generated scenes) with its
outputs renamed to six mct-real species: its boxes on real photos are arbitrary, which
does not matter for a cost measurement, but its box count per image is printed because the
classifier's cost grows with it (the issue's target: < 30% more time at ~2 boxes/image).
The classifier is trained through the product on mct-real's reviewed boxes first.

    python bench/two_stage_throughput.py [--count 200] [--method yolo-cls --epochs 1]

`--method yolo-cls` times a YOLO-cls classifier instead of the head (trained for `--epochs`
only: its accuracy does not change its cost), run through ONNX Runtime on the crops of
each model batch.

Measured 2026-11-29, 150 photos, shared 2-core machine (load ~12): detector alone 43 ms
CPU/img with 25.5 boxes/img >= 0.1 (the demo detector fires everywhere on real photos);
pipeline 378 ms CPU/img (8.75x), about 20 crops embedded per image (crops.max_per_image),
so roughly 17 ms CPU per crop. At ~2 boxes/image that would be ~+35 ms per image: more
than 30% on this tiny detector, less on a full-size one (not measured).

Measured 2026-11-30, 100 photos, same machine: with a YOLO-cls classifier (128-pixel
crops, `--method yolo-cls --epochs 1`, load ~9) the pipeline took 61 ms CPU/img against
14 ms for the detector alone (4.27x CPU; 10.35 boxes/img >= 0.1 after naming, about 20
crops classified per image), so about 2.4 ms CPU per crop; the head, run right after (load
~2-6): 249 ms CPU/img against 32 ms (7.67x), about 11 ms CPU per crop (the MobileNet
embedding at 224 pixels).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).parent))
from crop_classifier import mct_project
from wildloop.cli.demo_cmds import DEMO_DETECTOR
from wildloop.composition import register_job_kinds
from wildloop.evaluation.promotion import make_first_champion
from wildloop.jobs.local import run_job
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import predict_items
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Media, Prediction, PredictionSet
from wildloop.training.classifier_job import start_classifier_training


def timed(project: Project, version_id: int, media: list[int]) -> tuple[float, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    predict_items(project, version_id, media)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with project.db.session() as session:
        boxes = session.scalar(
            select(func.count(Prediction.id))
            .join(PredictionSet)
            .where(PredictionSet.model_version_id == version_id, Prediction.score >= 0.1)
        )
    return wall, cpu, (boxes or 0) / len(media)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--method", default="head", choices=["head", "yolo-cls"])
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    overrides = {"method": args.method}
    if args.method == "yolo-cls":
        overrides |= {"epochs": args.epochs}
    register_job_kinds()
    with tempfile.TemporaryDirectory(prefix="bench-two-stage-") as tmp:
        project = mct_project(Path(tmp) / "mct")
        classes = project.classes.names
        detector = register_model(project, DEMO_DETECTOR, "demo", classes=classes[:6])
        with project.db.session() as session:
            make_first_champion(session, detector.id, None, "bench", classes=project.classes)
        project.config.training.workers = 0
        status = run_job(project, start_classifier_training(project, overrides=overrides).job_id)
        assert status["state"] == "succeeded", status
        with project.db.session() as session:
            pipeline_id = aliases.resolve(session, "challenger")
            media = list(
                session.scalars(
                    select(Media.id)
                    .where(Media.split != "test")
                    .order_by(Media.id)
                    .limit(args.count)
                )
            )
        assert pipeline_id is not None
        d_wall, d_cpu, d_boxes = timed(project, detector.id, media)
        p_wall, p_cpu, p_boxes = timed(project, pipeline_id, media)
        print(f"{len(media)} real photos (640x640); machine shared with other engineers")
        print(
            f"detector alone: {len(media) / d_wall:.1f} img/s wall, "
            f"{d_cpu / len(media) * 1000:.0f} ms CPU/img, {d_boxes:.2f} boxes/img >= 0.1"
        )
        print(
            f"pipeline      : {len(media) / p_wall:.1f} img/s wall, "
            f"{p_cpu / len(media) * 1000:.0f} ms CPU/img, {p_boxes:.2f} boxes/img >= 0.1"
        )
        print(
            f"ratio         : pipeline/detector time {p_wall / d_wall:.2f}x wall, "
            f"{p_cpu / d_cpu:.2f}x CPU"
        )


if __name__ == "__main__":
    main()
