"""End-to-end reprocess throughput (files -> DB rows committed) against Ultralytics predict.

All paths run the same YOLOv8n-sized weights on the same files in this script:
- baseline: ``YOLO(weights).predict(files, stream=True)`` (no database writes at all);
- wildloop fp32: ``wildloop reprocess`` as a persistent job (decode ahead in threads,
  reduced-size JPEG decode, stride-rectangle batches, ONNX Runtime, NumPy NMS, bulk inserts);
- wildloop int8: the same job with the version ``wildloop model quantize`` derived from the
  fp32 one (static QDQ, calibrated on the project's train split). Pass trained ``--weights``:
  the random default exports shared weights behind Identity nodes, which ONNX Runtime's
  quantiser leaves in float, so its int8 copy runs no faster than fp32.
Inputs are the shared camtrap-samples (real photos, 800x450 to 2048x1440) replicated to
``--count`` files, each copy made unique with a JPEG comment so ingest keeps them all.

Accuracy of the int8 copy (the parity gate: mAP50-95 of parent and copy on a frozen test
snapshot) is measured on labelled generated scenes with a trained detector: by default the
demo detector wildloop ships (``--accuracy-weights`` takes another, e.g. the test suite's).

Usage: python bench/reprocess_throughput.py [--count 400] [--weights model.pt]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from sqlalchemy import func, select

from loop_timing import generate, ingest, label  # generated labelled scenes
from wildloop.composition import register_job_kinds
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.evaluation.quantize_job import submit_quantize
from wildloop.inference.pipeline import StageTimes
from wildloop.inference.ultralytics_adapter import build_untrained, predict_reference
from wildloop.jobs.local import run_job
from wildloop.media.ingest import ingest_paths
from wildloop.models.registration import register_model
from wildloop.processing import predict_job
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Prediction

SHARED = Path(
    os.environ.get(
        "WILDLOOP_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)
SAMPLES = SHARED / "camtrap-samples"
CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
DEMO_DETECTOR = Path(__file__).resolve().parents[1] / "src/wildloop/synthetic/demo_detector.onnx"


def replicate(source: Path, out: Path, count: int) -> list[Path]:
    """``count`` distinct JPEG files cycling through ``source`` (a COM segment per copy)."""
    originals = sorted(source.glob("*.jpg"))
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        data = originals[i % len(originals)].read_bytes()
        comment = f"copy {i}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        path = out / f"{i:06d}_{originals[i % len(originals)].name}"
        path.write_bytes(data[:2] + segment + data[2:])
        files.append(path)
    return files


def main() -> None:
    register_job_kinds()  # this process runs the jobs it submits
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="files to process")
    parser.add_argument("--imgsz", type=int, default=640)
    parser.add_argument("--weights", type=Path, help="a .pt (default: random yolov8n)")
    parser.add_argument("--samples", type=Path, default=SAMPLES)
    parser.add_argument("--baseline-count", type=int, default=0, help="0 = same as --count")
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of each path")
    parser.add_argument(
        "--conf", type=float, default=0.05, help="score threshold for both paths (stored boxes)"
    )
    parser.add_argument("--calibration", type=int, default=200, help="int8 calibration images")
    parser.add_argument("--accuracy-weights", type=Path, default=DEMO_DETECTOR)
    parser.add_argument("--accuracy-imgsz", type=int, default=320)
    parser.add_argument("--accuracy-images", type=int, default=600, help="0 = skip")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="wildloop-bench-"))
    try:
        run(args, work)
        if args.accuracy_images:
            accuracy(args, work / "accuracy")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> None:
    weights = args.weights or build_untrained(work / "yolov8n-random.pt", CLASSES, imgsz=args.imgsz)
    files = replicate(args.samples, work / "images", args.count)
    print(
        f"{len(files)} files from {args.samples} ({os.cpu_count()} CPUs), imgsz {args.imgsz}, "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )

    project = Project.init(work / "project", "bench", CLASSES)
    ingest_paths(project, [work / "images"])
    conf = project.config.thresholds.store = args.conf
    baseline_files = files[: args.baseline_count or len(files)]
    base_rates: list[float] = []
    our_rates: list[float] = []
    cpu_ratios: list[float] = []
    int8_rates: list[float] = []
    int8_cpu_ratios: list[float] = []
    for round_no in range(1, args.rounds + 1):
        # Alternate the two paths so shared-machine load hits both alike.
        started, cpu = time.perf_counter(), time.process_time()
        n = sum(
            1
            for _ in predict_reference(
                weights, baseline_files, imgsz=args.imgsz, conf=conf, iou=0.7
            )
        )
        base_s = time.perf_counter() - started
        base_cpu = (time.process_time() - cpu) / n
        base_rates.append(n / base_s)
        print(
            f"round {round_no} baseline Ultralytics predict(stream=True): {n} files in "
            f"{base_s:.1f}s = {n / base_s:.1f} img/s, {1000 * base_cpu:.0f} CPU-ms/image "
            "(no database writes)"
        )

        version = register_model(project, weights, f"bench-{round_no}", imgsz=args.imgsz)
        with project.db.session() as session:
            aliases.promote(session, version.id, None)
        items, ours_s, ours_cpu = reprocess(project, version.name, f"round {round_no} (fp32)")
        our_rates.append(items / ours_s)
        cpu_ratios.append(base_cpu / ours_cpu)
        last_fp32 = replace(predict_job.STAGE_TOTALS)
        started, cpu = time.perf_counter(), time.process_time()
        job_id = submit_quantize(project, version.name, calibration=args.calibration)
        status = run_job(project, job_id, poll_seconds=0.2)
        assert status["state"] == "succeeded", status
        print(
            f"round {round_no} quantize job: {status['result']['name']} in "
            f"{time.perf_counter() - started:.1f}s ({time.process_time() - cpu:.1f} CPU-s, "
            f"{args.calibration} calibration images)"
        )
        int8 = status["result"]["name"]
        items, int8_s, int8_cpu = reprocess(project, int8, f"round {round_no} (int8)")
        int8_rates.append(items / int8_s)
        int8_cpu_ratios.append(base_cpu / int8_cpu)

    base_rate, ours_rate = max(base_rates), max(our_rates)
    print(f"best of {args.rounds}: baseline {base_rate:.1f} img/s, wildloop {ours_rate:.1f} img/s")
    per_round = ", ".join(f"{o / b:.2f}x" for o, b in zip(our_rates, base_rates, strict=True))
    print(f"ratio: {ours_rate / base_rate:.2f}x Ultralytics predict (per round: {per_round})")
    print(
        "CPU-time ratio (less sensitive to other users' load): "
        + ", ".join(f"{r:.2f}x" for r in cpu_ratios)
    )
    int8_rate = max(int8_rates)
    per_round = ", ".join(f"{o / b:.2f}x" for o, b in zip(int8_rates, base_rates, strict=True))
    print(
        f"int8: best {int8_rate:.1f} img/s = {int8_rate / base_rate:.2f}x Ultralytics predict "
        f"(per round: {per_round}), {int8_rate / ours_rate:.2f}x wildloop fp32"
    )
    print("int8 CPU-time ratio: " + ", ".join(f"{r:.2f}x" for r in int8_cpu_ratios))

    stage_report("fp32", last_fp32, ours_s)
    stage_report("int8", predict_job.STAGE_TOTALS, int8_s)
    with project.db.session() as session:
        stored = session.scalar(select(func.count()).select_from(Prediction)) or 0
    print(
        f"predictions stored: {stored} over {args.rounds} rounds of two paths "
        f"({stored / max(1, 2 * args.rounds * len(files)):.1f} per image at score >= {conf}); "
        "random weights find nothing: pass --weights with a trained model to exercise writes"
    )
    project.close()


def reprocess(project: Project, model: str, label: str) -> tuple[int, float, float]:
    """Items, wall seconds and CPU seconds per item of one reprocess job with ``model``
    (printed too)."""
    predict_job.STAGE_TOTALS.reset()
    started, cpu = time.perf_counter(), time.process_time()
    submitted = predict_job.submit_reprocess(project, model=model, scope="all")
    status = run_job(project, submitted.job_id, poll_seconds=0.2)
    assert status["state"] == "succeeded", status
    seconds = time.perf_counter() - started
    items, cpu_per_item = submitted.items, (time.process_time() - cpu) / submitted.items
    print(
        f"{label} wildloop reprocess job: {items} files -> DB rows committed in "
        f"{seconds:.1f}s = {items / seconds:.1f} img/s, {1000 * cpu_per_item:.0f} CPU-ms/image"
    )
    return items, seconds, cpu_per_item


def stage_report(label: str, t: StageTimes, ours_s: float) -> None:
    print(f"time share of the last wildloop {label} round, main thread (what the job waited on):")
    waited = t.wait + t.model_wait + t.write
    for name, value in (
        ("waiting for decode", t.wait),
        ("waiting for the model (+NMS)", t.model_wait),
        ("DB write", t.write),
        ("other (job bookkeeping, model load)", max(0.0, ours_s - waited)),
    ):
        print(f"  {name:38s} {value:7.2f}s  {100 * value / ours_s:5.1f}%")
    busy = t.decode + t.model + t.nms + t.write
    print("CPU work per stage (thread-seconds; decode and model threads overlap):")
    for name, value in (
        ("decode + letterbox", t.decode),
        ("model (ONNX Runtime)", t.model),
        ("NMS + postprocess", t.nms),
        ("DB write", t.write),
    ):
        print(
            f"  {name:38s} {value:7.2f}s  {100 * value / busy:5.1f}%  "
            f"{1000 * value / max(1, t.items):6.1f} ms/image"
        )


def accuracy(args: argparse.Namespace, work: Path) -> None:
    """The parity gate's verdict on an int8 copy of a trained detector: both scored on the
    frozen test snapshot of labelled generated scenes by the one evaluator."""
    project = Project.init(work / "project", "accuracy", CLASSES)
    frames = generate(work / "scenes", args.accuracy_images, seed=21)
    label(project, frames, ingest(project, frames, work / "scenes"))
    info, _ = create_snapshot(project, "test")
    register_model(project, args.accuracy_weights, "trained", imgsz=args.accuracy_imgsz)
    started, cpu = time.perf_counter(), time.process_time()
    job_id = submit_quantize(project, "trained", calibration=args.calibration)
    status = run_job(project, job_id, poll_seconds=0.2)
    assert status["state"] == "succeeded", status
    parity = status["result"]["parity"]
    print(
        f"accuracy: {args.accuracy_weights.name} at imgsz {args.accuracy_imgsz}, "
        f"{len(frames)} generated scenes, test snapshot {info.name} "
        f"({len(load_snapshot(project, info.id).entries)} images); "
        f"quantize + both evaluations {time.perf_counter() - started:.1f}s "
        f"({time.process_time() - cpu:.1f} CPU-s)"
    )
    parent, derived = parity["parent"], parity["derived"]
    print(
        f"  mAP50-95 parent {parent['map50_95']:.4f}, int8 {derived['map50_95']:.4f} "
        f"(change {derived['map50_95'] - parent['map50_95']:+.4f}); mAP50 parent "
        f"{parent['map50']:.4f}, int8 {derived['map50']:.4f}"
    )
    verdict = "PASSES" if parity["passed"] else "FAILS"
    print(f"  parity gate {verdict}: {'; '.join(parity['reasons'])}")
    project.close()


if __name__ == "__main__":
    sys.exit(main())
