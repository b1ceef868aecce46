"""Which crop embedder serves the review queue best, on real camera-trap photos (issue 17).

mct-real (826 Reconyx frames, 711 hand-drawn boxes, 20 species, 60 sequences, 3 per species).
Every ground-truth box is embedded by each candidate the product can store crop vectors from:

- ``mobilenet_v1`` / ``mobilenet_v2``: the bundled ImageNet MobileNets (``embed_crops``: the
  box cut with 10% context from the decoded frame, resized to 224);
- ``detector:<name>@<imgsz>``: the detector's own feature maps (the head's three inputs),
  pooled over each box exactly as the pipeline does it (``Decoder`` letterbox, one forward of
  the derived feature model, ``input_pixels`` + ``pool_boxes``). No detector trained on these
  species exists offline, so the detectors are: ``fixture`` = the tests' YOLOv8n trained 30
  epochs at 160 px on generated scenes (6 made-up classes; 448-d), ``untrained`` = the same
  architecture randomly initialised (a control: what the architecture alone gives) and
  ``demo`` = the product's bundled demo detector (small, 96-d, static 320 px).

Per embedder, on L2-normalised vectors and the same sequence-grouped splits (one whole sequence
per species is the test set; seeds vary which): kNN accuracy (cosine, k = 1 and 5), the linear
probe (``crop_active_learning.fit``: balanced logistic regression on the whole pool), and the
active-learning figure of ``bench/crop_active_learning.py`` (labels needed to reach 95% of the
full-pool accuracy; random vs margin vs the product's queue, and the queue without its burst
signal). The queue's weights are chosen on the tuning seeds (0..T-1) and reported on held-out
seeds (T..T+R-1) only. Cost per crop: the image embedders' crop + resize + model time; the
detector's extra cost is the feature model's forward minus the plain detector's plus pooling
(the forward itself is paid for the boxes anyway).

    python bench/embedder_comparison.py [--tune-seeds 5] [--report-seeds 5] [--embedders ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))
from crop_active_learning import (
    SEED_SET,
    TARGET,
    accuracy,
    fit,
    margin_pick,
    queue_pick,
    reduced,
    split,
)
from wildloop.domain.review_value import Weights
from wildloop.inference.crops import embed_crops, load_crop_embedder
from wildloop.inference.decode import Decoder
from wildloop.inference.detector_features import (
    DetectorFeatureRuntime,
    add_feature_outputs,
    input_pixels,
)
from wildloop.inference.onnx_runtime import OnnxRuntime

DATA = Path(os.environ.get("WILDLOOP_SHARED_DATA", "/work/shared/data")) / "mct-real"
ROOT = Path(__file__).parents[1]
FIXTURE_PT = (
    ROOT
    / ".pytest_cache/d/wildloop-trained-detector"
    / "scenes-seed1-16bursts-320x240-yolov8n-30ep-160px-v2-trainer/last.pt"
)
DEMO = ROOT / "src/wildloop/synthetic/demo_detector.onnx"
CACHE = Path(tempfile.gettempdir()) / "wildloop-embedder-comparison"
BATCH = 10
SAMPLE = 100  # frames timed with and without the feature outputs

# Queue weight candidates tried on the tuning seeds (the product default first).
CANDIDATES: dict[str, Weights] = {
    "default": Weights(),
    "no-burst": Weights(burst=0.0),
    "no-burst-novelty2": Weights(burst=0.0, novelty=2.0),
    "no-burst-no-threshold": Weights(burst=0.0, threshold=0.0),
}


def ground_truth() -> tuple[list[tuple[str, list[tuple[float, float, float, float]]]], dict]:
    """(file, normalised boxes) per annotated frame, and species / sequence per box."""
    coco = json.loads((DATA / "coco_ct.json").read_text())
    images = {i["id"]: i for i in coco["images"]}
    by_image: dict[int, list[dict]] = defaultdict(list)
    for a in coco["annotations"]:
        by_image[a["image_id"]].append(a)
    frames, species, sequence = [], [], []
    for image_id, boxes in sorted(by_image.items()):
        info = images[image_id]
        w, h = info["width"], info["height"]
        frames.append(
            (
                info["file_name"],
                [
                    (b["bbox"][0] / w, b["bbox"][1] / h, b["bbox"][2] / w, b["bbox"][3] / h)
                    for b in boxes
                ],
            )
        )
        species.extend(b["category_id"] for b in boxes)
        sequence.extend(info["seq_id"] for _ in boxes)
    return frames, {"y": np.array(species), "seq": np.array(sequence)}


def image_vectors(name: str, frames: list) -> tuple[np.ndarray, float]:
    """A bundled MobileNet's vectors per box and its ms per crop (decode not counted: the
    pipeline has decoded the frame already)."""
    embedder = load_crop_embedder(name)
    rows, spent, crops = [], 0.0, 0
    for file_name, boxes in frames:
        rgb = np.asarray(Image.open(DATA / file_name).convert("RGB"))
        started = time.perf_counter()
        rows.append(embed_crops(rgb, boxes, embedder).astype(np.float32))
        spent += time.perf_counter() - started
        crops += len(boxes)
    return np.concatenate(rows), 1000 * spent / crops


def detector_onnx(name: str) -> Path:
    """The plain ONNX export of a benchmarked detector (made once, cached)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if name == "demo":
        return DEMO
    path = CACHE / f"{name}.onnx"
    if path.is_file():
        return path
    from wildloop.inference.ultralytics_adapter import build_untrained, export_onnx

    if name == "fixture":
        if not FIXTURE_PT.is_file():
            raise SystemExit(f"{FIXTURE_PT} missing: run the engine tests once to train it")
        return export_onnx(FIXTURE_PT, path, 160)
    pt = build_untrained(CACHE / "untrained.pt", [f"c{i}" for i in range(6)], imgsz=640)
    return export_onnx(pt, path, 640)


def detector_vectors(name: str, imgsz: int, frames: list) -> tuple[np.ndarray, float]:
    """Pooled detector features per box, as the pipeline makes them, and the extra ms per
    crop over running the plain detector (forward difference + pooling)."""
    plain_path = detector_onnx(name)
    derived = CACHE / f"{name}-features.onnx"
    add_feature_outputs(plain_path, derived)
    features, plain = DetectorFeatureRuntime(derived, threads=2), OnnxRuntime(plain_path, 2)
    decoder = Decoder(imgsz, stride=32)
    rows = []
    differences: list[float] = []  # per sampled frame: features forward - plain forward
    pooling = 0.0
    for i, (file_name, boxes) in enumerate(frames):
        prepared = decoder.prepare(DATA / file_name)
        batch = prepared.array[None]
        if i < SAMPLE and i % 2:  # the plain detector first on odd frames (order effects)
            started = time.perf_counter()
            plain.forward(batch)
            plain_s = time.perf_counter() - started
        started = time.perf_counter()
        _, maps = features.forward_with_features(batch)
        after_forward = time.perf_counter()
        rows.append(maps.pool(0, input_pixels(boxes, prepared.box)))
        pooling += time.perf_counter() - after_forward
        if i < SAMPLE:
            if not i % 2:
                started_plain = time.perf_counter()
                plain.forward(batch)
                plain_s = time.perf_counter() - started_plain
            differences.append((after_forward - started) - plain_s)
    # The median difference: on a shared machine a mean is one neighbour's burst away.
    extra = max(0.0, float(np.median(differences))) * len(frames)
    crops = sum(len(b) for _, b in frames)
    return np.concatenate(rows), 1000 * (extra + pooling) / crops


def knn_accuracy(x: np.ndarray, y: np.ndarray, pool: np.ndarray, test: np.ndarray, k: int) -> float:
    similarity = x[test] @ x[pool].T
    nearest = np.argsort(-similarity, axis=1)[:, :k]
    correct = 0
    for row, neighbours in enumerate(nearest):
        labels, counts = np.unique(y[pool][neighbours], return_counts=True)
        # ties go to the nearest neighbour's label
        best = labels[counts == counts.max()]
        vote = best[0] if len(best) == 1 else y[pool][neighbours[0]]
        correct += int(vote == y[test][row])
    return correct / len(test)


def labels_needed(
    picker: str,
    weights: Weights,
    x: np.ndarray,
    y: np.ndarray,
    seq: np.ndarray,
    pool_ids: np.ndarray,
    test_ids: np.ndarray,
    target: float,
    seed: int,
) -> int:
    """crop_active_learning's loop: labels at which test accuracy first reaches ``target``."""
    rng = np.random.default_rng(seed)
    pool = [int(i) for i in rng.permutation(pool_ids)]
    labelled, pool = pool[:SEED_SET], pool[SEED_SET:]
    while True:
        model = fit(x[labelled], y[labelled])
        if accuracy(model, x[test_ids], y[test_ids]) >= target:
            return len(labelled)
        if not pool:
            return len(labelled)
        if picker == "random":
            picked = pool[:BATCH]
        elif picker == "margin":
            picked = margin_pick(model, x, pool, BATCH)
        else:
            picked = queue_pick(model, x, y, seq, labelled, pool, BATCH, weights)
        chosen = set(picked)
        labelled += picked
        pool = [i for i in pool if i not in chosen]


def evaluate(
    name: str, x: np.ndarray, y: np.ndarray, seq: np.ndarray, args: argparse.Namespace
) -> dict:
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    xr = reduced(x)  # the AL bench's 128-d PCA (label-free) for fast refits
    tune = range(args.tune_seeds)
    report = range(args.tune_seeds, args.tune_seeds + args.report_seeds)
    out: dict = {"knn1": [], "knn5": [], "probe": []}
    targets = {}
    for seed in [*tune, *report]:
        pool_ids, test_ids = split(y, seq, np.random.default_rng(1000 + seed))
        if seed in report:
            out["knn1"].append(knn_accuracy(x, y, pool_ids, test_ids, 1))
            out["knn5"].append(knn_accuracy(x, y, pool_ids, test_ids, 5))
            out["probe"].append(accuracy(fit(x[pool_ids], y[pool_ids]), x[test_ids], y[test_ids]))
        full = accuracy(fit(xr[pool_ids], y[pool_ids]), xr[test_ids], y[test_ids])
        targets[seed] = (pool_ids, test_ids, TARGET * full)

    def mean_needed(picker: str, weights: Weights, seeds: range) -> float:
        return float(
            np.mean([labels_needed(picker, weights, xr, y, seq, *targets[s], s) for s in seeds])
        )

    # Tuning: the queue weights with the lowest ratio to random on the tuning seeds.
    tuned = {}
    if args.tune_seeds:
        random_tune = mean_needed("random", Weights(), tune)
        for label, weights in CANDIDATES.items():
            tuned[label] = mean_needed("queue", weights, tune) / random_tune
        best = min(tuned, key=lambda k: tuned[k])
    else:
        best = "default"
    random_report = mean_needed("random", Weights(), report)
    result = {
        "knn1": float(np.mean(out["knn1"])),
        "knn5": float(np.mean(out["knn5"])),
        "probe": float(np.mean(out["probe"])),
        "random": random_report,
        "margin": mean_needed("margin", Weights(), report),
        "queue": mean_needed("queue", CANDIDATES["default"], report),
        "queue-no-burst": mean_needed("queue", CANDIDATES["no-burst"], report),
        "tuned": best,
        "tuned_queue": mean_needed("queue", CANDIDATES[best], report),
        "tuning_ratios": {k: round(v, 3) for k, v in tuned.items()},
    }
    print(f"  {name}: {json.dumps(result)}", flush=True)
    return result


def confirm(embedder: str, weights: str, first: str, last: str) -> None:
    """Random, the default queue and ``weights`` on seeds first..last only."""
    warnings.filterwarnings("ignore", message="The number of unique classes")
    frames, truth = ground_truth()
    y, seq = truth["y"], truth["seq"]
    x, _ = image_vectors(embedder, frames)
    x = reduced(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))
    seeds = range(int(first), int(last) + 1)
    needed: dict[str, list[int]] = {"random": [], "default": [], weights: []}
    for seed in seeds:
        pool_ids, test_ids = split(y, seq, np.random.default_rng(1000 + seed))
        target = TARGET * accuracy(fit(x[pool_ids], y[pool_ids]), x[test_ids], y[test_ids])
        arms = (("random", "random", Weights()), ("default", "queue", CANDIDATES["default"]))
        for label, picker, w in (*arms, (weights, "queue", CANDIDATES[weights])):
            count = labels_needed(picker, w, x, y, seq, pool_ids, test_ids, target, seed)
            needed[label].append(count)
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]}" for k, v in needed.items()), flush=True)
    base = float(np.mean(needed["random"]))
    print(f"{embedder}, seeds {first}..{last} (load average {os.getloadavg()[0]:.1f}):")
    for label, counts in needed.items():
        mean = float(np.mean(counts))
        print(f"  {label:<24} {mean:6.1f} labels  ratio vs random {mean / base:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tune-seeds", type=int, default=5)
    parser.add_argument("--report-seeds", type=int, default=5)
    parser.add_argument(
        "--embedders",
        default="mobilenet_v1,mobilenet_v2,detector:fixture@320,detector:fixture@640,"
        "detector:untrained@320,detector:demo@320",
    )
    parser.add_argument(
        "--confirm",
        default="",
        help="EMBEDDER:WEIGHTS:FIRST:LAST: only compare random, the default queue and the "
        "named CANDIDATES weights on fresh seeds FIRST..LAST (a second held-out check)",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    if args.confirm:
        confirm(*args.confirm.split(":"))
        return
    warnings.filterwarnings("ignore", message="The number of unique classes")
    frames, truth = ground_truth()
    y, seq = truth["y"], truth["seq"]
    print(
        f"{len(y)} boxes, {len(set(y))} species, {len(set(seq))} sequences; "
        f"load average {os.getloadavg()[0]:.2f} at start",
        flush=True,
    )
    rows = {}
    for spec in args.embedders.split(","):
        started = time.perf_counter()
        if spec.startswith("detector:"):
            name, size = spec.removeprefix("detector:").split("@")
            x, ms = detector_vectors(name, int(size), frames)
        else:
            x, ms = image_vectors(spec, frames)
        embed_s = time.perf_counter() - started
        print(f"{spec}: {x.shape[1]}-d, {ms:.2f} ms/crop, embedded in {embed_s:.0f} s", flush=True)
        rows[spec] = {"dim": x.shape[1], "ms": ms, **evaluate(spec, x, y, seq, args)}
    report = f"seeds {args.tune_seeds}..{args.tune_seeds + args.report_seeds - 1}"
    print(
        f"\nHeld-out {report} (weights tuned on seeds 0..{args.tune_seeds - 1}); labels needed "
        f"to reach {TARGET:.0%} of the full-pool accuracy, batch {BATCH}, seed set {SEED_SET}"
    )
    header = (
        f"{'embedder':<24}{'dim':>5}{'B/vec':>7}{'ms/crop':>9}{'kNN1':>7}{'kNN5':>7}{'probe':>7}"
        f"{'random':>8}{'margin':>8}{'queue':>8}{'q-noburst':>10}{'tuned (which)':>26}"
    )
    print(header)
    for spec, r in rows.items():
        base = r["random"]
        print(
            f"{spec:<24}{r['dim']:>5}{2 * r['dim']:>7}{r['ms']:>9.2f}{r['knn1']:>7.3f}"
            f"{r['knn5']:>7.3f}{r['probe']:>7.3f}{base:>8.1f}{r['margin']:>8.1f}"
            f"{r['queue']:>8.1f}{r['queue-no-burst']:>10.1f}"
            f"{r['tuned_queue']:>8.1f} ({r['tuned']})"
        )
        print(
            f"{'':<24}ratios vs random: margin {r['margin'] / base:.2f}, queue "
            f"{r['queue'] / base:.2f}, queue-no-burst {r['queue-no-burst'] / base:.2f}, tuned "
            f"{r['tuned_queue'] / base:.2f}; tuning ratios {r['tuning_ratios']}"
        )
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
