"""Active learning on real camera-trap photos: labels needed, value queue versus random.

mct-real (/work/shared/data/mct-real: 826 Reconyx frames, 711 hand-drawn boxes, 20 species,
60 sequences, 3 per species). Every ground-truth box is cut with 10% context and embedded once
with the product's crop embedder (``inference.crops.embed_crops``: the bundled int8 MobileNet
v1, 1024-d). The model retrained each round is a crop classifier: scikit-learn
LogisticRegression(class_weight="balanced") on the L2-normalised embeddings (the "species head
on crop embeddings" fast path, not the detector). Per seed, one sequence per species is the
test set (whole sequences: frames of a burst never straddle), the other two are the pool, a
random seed set of 20 boxes is labelled, and each round the oracle labels a batch of 10.

Orders compared on the same seeds:
- random;
- margin: smallest top-two probability margin first (plain uncertainty sampling);
- queue: the product's rules (``domain.review_value`` with the image queue's
  ``QUEUE_WEIGHTS``: margin and novelty against labelled crops, the burst and near-threshold
  signals weighed at 0 since bench/embedder_comparison.py; diverse_order with at most one
  box per sequence per batch); ``queue-all-signals`` weighs every signal at 1 (the earlier
  default).

"Labels needed" is the first label count at which test accuracy reaches 95% of the model
trained on the whole pool. A box is the unit here (the product reviews images; most mct-real
frames hold one box), and empty frames are left out (no crop to classify).

    python bench/crop_active_learning.py [--seeds 5] [--batch 10]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from wildloop.domain.review_value import (
    NOTHING,
    QUEUE_WEIGHTS,
    ItemSignals,
    Weights,
    diverse_order,
    value_of,
)
from wildloop.inference.crops import embed_crops, load_crop_embedder

DATA = Path(os.environ.get("WILDLOOP_SHARED_DATA", "/work/shared/data")) / "mct-real"
SEED_SET = 20
TARGET = 0.95
THRESHOLD = 0.5


def embed_boxes() -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(vectors, species, sequence) per ground-truth box, cached; and crops per second."""
    cache = Path("/tmp/wildloop-mct-crops-v1.npz")
    if cache.exists():
        data = np.load(cache)
        return data["x"], data["y"], data["seq"], float(data["rate"])
    coco = json.loads((DATA / "coco_ct.json").read_text())
    images = {i["id"]: i for i in coco["images"]}
    by_image: dict[int, list[dict]] = defaultdict(list)
    for a in coco["annotations"]:
        by_image[a["image_id"]].append(a)
    embedder = load_crop_embedder()
    vectors, species, sequence = [], [], []
    started = time.perf_counter()
    for image_id, boxes in sorted(by_image.items()):
        info = images[image_id]
        rgb = np.asarray(Image.open(DATA / info["file_name"]).convert("RGB"))
        w, h = info["width"], info["height"]
        norm = [
            (b["bbox"][0] / w, b["bbox"][1] / h, b["bbox"][2] / w, b["bbox"][3] / h) for b in boxes
        ]
        vectors.append(embed_crops(rgb, norm, embedder).astype(np.float32))
        species.extend(b["category_id"] for b in boxes)
        sequence.extend(info["seq_id"] for _ in boxes)
    rate = len(species) / (time.perf_counter() - started)
    x, y, seq = np.concatenate(vectors), np.array(species), np.array(sequence)
    np.savez(cache, x=x, y=y, seq=seq, rate=rate)
    return x, y, seq, rate


def reduced(x: np.ndarray, dims: int = 128) -> np.ndarray:
    """PCA to ``dims`` (no labels used), re-normalised: keeps each round's refit fast on a
    loaded machine; the full-pool accuracy is measured in the same space, so ratios hold."""
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:dims].T
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def split(
    y: np.ndarray, seq: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One whole sequence per species for test, the rest is the pool."""
    test_seqs = set()
    for species in np.unique(y):
        seqs = sorted(set(seq[y == species]))
        test_seqs.add(seqs[rng.integers(len(seqs))])
    is_test = np.array([s in test_seqs for s in seq])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    model = LogisticRegression(class_weight="balanced", max_iter=300, C=10.0)
    model.fit(x, y)
    return model


def accuracy(model: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
    return float((model.predict(x) == y).mean())


def queue_pick(
    model: LogisticRegression,
    x: np.ndarray,
    y: np.ndarray,
    seq: np.ndarray,
    labelled: list[int],
    pool: list[int],
    batch: int,
    weights: Weights = QUEUE_WEIGHTS,
    per_group: int = 1,
) -> list[int]:
    """The product's ordering rules over the unlabelled pool."""
    probs = model.predict_proba(x[pool])
    order = np.argsort(-probs, axis=1)
    names = model.classes_
    shows: dict[int, str] = {i: str(y[i]) for i in labelled}  # the reviewer's label
    for row, i in enumerate(pool):
        top = order[row, 0]
        shows[i] = str(names[top]) if probs[row, top] >= THRESHOLD else NOTHING
    members: dict[str, list[int]] = defaultdict(list)
    for i in [*labelled, *pool]:
        members[seq[i]].append(i)
    reference = x[labelled]
    similarity = (x[pool] @ reference.T).max(axis=1)
    valued = []
    for row, i in enumerate(pool):
        top, second = order[row, 0], order[row, 1] if probs.shape[1] > 1 else None
        others = [shows[j] for j in members[seq[i]] if j != i]
        burst = None
        if others:
            name, count = Counter(others).most_common(1)[0]
            burst = name if count * 2 > len(others) else None
        signals = ItemSignals(
            media_id=int(i),
            group=str(seq[i]),
            camera=str(seq[i]),
            top_class=shows[i] if shows[i] != NOTHING else None,
            top_score=float(probs[row, top]),
            second_score=float(probs[row, second]) if second is not None else None,
            threshold=THRESHOLD,
            burst_class=burst,
            novelty=float(1.0 - similarity[row]),
        )
        valued.append(value_of(signals, weights))
    order = diverse_order(valued, batch, batch_size=batch, per_group=per_group, camera_share=1.0)
    return [v.media_id for v in order]


def margin_pick(model: LogisticRegression, x: np.ndarray, pool: list[int], batch: int) -> list[int]:
    probs = np.sort(model.predict_proba(x[pool]), axis=1)
    margin = probs[:, -1] - (probs[:, -2] if probs.shape[1] > 1 else 0)
    return [pool[k] for k in np.argsort(margin, kind="stable")[:batch]]


def run(
    arm: str,
    x: np.ndarray,
    y: np.ndarray,
    seq: np.ndarray,
    pool_ids: np.ndarray,
    test_ids: np.ndarray,
    target: float,
    seed: int,
    batch: int,
) -> tuple[int | None, list[tuple[int, float]]]:
    rng = np.random.default_rng(seed)
    pool = [int(i) for i in rng.permutation(pool_ids)]
    labelled, pool = pool[:SEED_SET], pool[SEED_SET:]
    curve: list[tuple[int, float]] = []
    needed = None
    while True:
        model = fit(x[labelled], y[labelled])
        score = accuracy(model, x[test_ids], y[test_ids])
        curve.append((len(labelled), score))
        if needed is None and score >= target:
            needed = len(labelled)
            break
        if not pool:
            break
        if arm == "random":
            picked = pool[:batch]
        elif arm == "margin":
            picked = margin_pick(model, x, pool, batch)
        elif arm == "queue-no-novelty":
            no_novelty = replace(QUEUE_WEIGHTS, novelty=0.0)
            picked = queue_pick(model, x, y, seq, labelled, pool, batch, no_novelty)
        elif arm == "queue-all-signals":
            picked = queue_pick(model, x, y, seq, labelled, pool, batch, Weights())
        elif arm == "queue-no-burst":
            picked = queue_pick(model, x, y, seq, labelled, pool, batch, Weights(burst=0.0))
        elif arm == "queue-no-spread":
            picked = queue_pick(model, x, y, seq, labelled, pool, batch, per_group=batch)
        else:
            picked = queue_pick(model, x, y, seq, labelled, pool, batch)
        chosen = set(picked)
        labelled += picked
        pool = [i for i in pool if i not in chosen]
    return needed, curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument(
        "--arms",
        default="random,margin,queue",
        help="also: queue-all-signals, queue-no-novelty, queue-no-burst, queue-no-spread",
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message="The number of unique classes")
    x, y, seq, rate = embed_boxes()
    x = reduced(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))
    print(
        f"{len(y)} boxes, {len(set(y))} species, {len(set(seq))} sequences; "
        f"embedded at {rate:.0f} crops/s (2 shared cores, loaded by others)"
    )
    arms = tuple(args.arms.split(","))
    assert arms[0] == "random", "the first arm is the baseline: random"
    needed: dict[str, list[float]] = {a: [] for a in arms}
    started = time.perf_counter()
    for seed in range(args.seeds):
        pool_ids, test_ids = split(y, seq, np.random.default_rng(1000 + seed))
        full = accuracy(fit(x[pool_ids], y[pool_ids]), x[test_ids], y[test_ids])
        target = TARGET * full
        row = [
            f"seed {seed}: pool {len(pool_ids)}, test {len(test_ids)}, "
            f"full-pool acc {full:.3f}, target {target:.3f}"
        ]
        for arm in arms:
            count, _ = run(arm, x, y, seq, pool_ids, test_ids, target, seed, args.batch)
            needed[arm].append(float(count if count is not None else len(pool_ids)))
            row.append(f"{arm} {count if count is not None else 'never'}")
        print("; ".join(row), flush=True)
    print(
        f"\nlabels needed to reach {TARGET:.0%} of the full-pool accuracy "
        f"(mean over {args.seeds} seeds, batch {args.batch}, seed set {SEED_SET}):"
    )
    base = float(np.mean(needed["random"]))
    for arm in arms:
        mean = float(np.mean(needed[arm]))
        print(
            f"  {arm:<7} {mean:6.1f} labels  (median {np.median(needed[arm]):.0f})  "
            f"ratio vs random {mean / base:.2f}"
        )
    print(f"({time.perf_counter() - started:.0f} s for all rounds)")


if __name__ == "__main__":
    main()
