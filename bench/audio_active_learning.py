"""Active learning with an oracle on real recordings: labels needed, queue versus random.

InsectSet32's Orthoptera (/work/shared/data/insect-sounds, 9 species): every window (3 s,
hop 1.5 s) of the dataset's train and validation files forms the pool, the test files' windows
the test set; a window's label is its file's species. Windows are embedded once through the
product's path (decode in blocks, resample, embedder) and cached. Each round the oracle labels
a batch of 10, a plain scikit-learn LogisticRegression(class_weight="balanced") is refit on
the labels so far, and its macro-F1 on the test windows is measured. "Labels needed" is the
first count at which macro-F1 reaches 95% of the full-pool model's. Orders compared, 10 seeds
each: random; margin sampling alone; the product's queue (``audio.active.order_queue``:
windows of recordings with no labelled window first, then by margin, candidates spread over
embedding clusters, at most 1 window per recording per batch, diversity alone before a head
exists); and the queue as it was before (no preference for unlabelled recordings, at most 2
windows per recording per batch).

    python bench/audio_active_learning.py [--embedder logmel|birdnet] [--seeds 10]
"""

from __future__ import annotations

import argparse
import csv
import os
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.preprocessing import StandardScaler

from wildloop.audio.active import QueueSettings, margins, order_queue
from wildloop.audio.decode import AudioRejected, cut_windows, iter_blocks
from wildloop.audio.embedders import make_embedder
from wildloop.audio.windows import window_spans
from wildloop.config import AudioSettings

DATA = Path(os.environ.get("WILDLOOP_SHARED_DATA", "/work/shared/data")) / "insect-sounds"
BATCH = 10
# The queue as it was before it preferred recordings with no reviewed window (kept to compare).
BEFORE = {"per_recording": 2, "fresh_first": False, "candidates_per_pick": 8}


def embed_dataset(embedder_name: str) -> dict[str, np.ndarray]:
    cache = Path(f"/tmp/wildloop-insects-{embedder_name}.npz")
    if cache.exists():
        return dict(np.load(cache))
    embedder = make_embedder(AudioSettings(embedder=embedder_name), Path())
    rate, length_s = embedder.sample_rate, embedder.window_samples / embedder.sample_rate
    vectors, species, split, recording = [], [], [], []
    with (DATA / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for number, row in enumerate(rows):
        path = DATA / row["path"]
        spans = window_spans(sf.info(str(path)).duration, 3.0, 1.5)
        try:
            cut = [w for _, w in cut_windows(iter_blocks(path, rate), rate, spans, length_s)]
        except AudioRejected:
            continue
        if np.abs(np.stack(cut)).max() == 0:  # the one all-zero file: ingest rejects it
            continue
        vectors.append(embedder.embed(np.stack(cut)))
        species += [row["species"]] * len(cut)
        split += [row["split"]] * len(cut)
        recording += [number] * len(cut)
    data = {
        "x": np.concatenate(vectors),
        "species": np.array(species),
        "split": np.array(split),
        "recording": np.array(recording),
    }
    np.savez(cache, **data)
    return data


def fit(x: np.ndarray, y: np.ndarray) -> LogisticRegression:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression(class_weight="balanced", max_iter=100, tol=1e-3).fit(x, y)


def run(
    strategy: str, seed: int, x: np.ndarray, y: np.ndarray, groups: np.ndarray,
    x_test: np.ndarray, y_test: np.ndarray, target: float,
) -> int:  # fmt: skip
    rng = np.random.default_rng(seed)
    labelled: list[int] = []
    unlabelled = np.arange(len(x))
    model = None
    while len(unlabelled):
        if strategy == "random":
            pick = rng.choice(unlabelled, size=min(BATCH, len(unlabelled)), replace=False)
        else:
            uncertainty = None
            if model is not None:
                uncertainty = margins(model.predict_proba(x[unlabelled]).astype(np.float32))
            if strategy == "margin":
                if uncertainty is None:
                    pick = rng.choice(unlabelled, size=min(BATCH, len(unlabelled)), replace=False)
                else:
                    pick = unlabelled[np.argsort(-uncertainty, kind="stable")[:BATCH]]
            else:
                before = strategy == "queue before"
                settings = QueueSettings(seed=seed, **(BEFORE if before else {}))
                order = order_queue(
                    x[unlabelled], groups[unlabelled].tolist(), BATCH, uncertainty,
                    settings, reviewed_groups=set(groups[labelled].tolist()),
                )  # fmt: skip
                pick = unlabelled[order]
        labelled += [int(i) for i in pick]
        unlabelled = np.setdiff1d(unlabelled, pick)
        if len(set(y[labelled])) >= 2:
            model = fit(x[labelled], y[labelled])
            score = f1_score(y_test, model.predict(x_test), average="macro")
            if score >= target:
                return len(labelled)
    return len(labelled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", default="logmel", choices=["logmel", "birdnet"])
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    data = embed_dataset(args.embedder)
    pool = data["split"] != "test"
    scaler = StandardScaler().fit(data["x"][pool])
    x = scaler.transform(data["x"][pool])
    y, groups = data["species"][pool], data["recording"][pool]
    x_test, y_test = scaler.transform(data["x"][~pool]), data["species"][~pool]
    full = f1_score(y_test, fit(x, y).predict(x_test), average="macro")
    target = 0.95 * full
    print(
        f"{args.embedder}: pool {len(x)} windows of {len(set(groups))} recordings, test "
        f"{len(x_test)}; full-pool macro-F1 {full:.3f}, target {target:.3f}"
    )
    needed: dict[str, list[int]] = {}
    for strategy in ("random", "margin", "queue before", "queue"):
        needed[strategy] = [
            run(strategy, seed, x, y, groups, x_test, y_test, target) for seed in range(args.seeds)
        ]
        print(
            f"{strategy:>6}: labels needed {needed[strategy]} mean {np.mean(needed[strategy]):.0f}"
        )
    for strategy in ("margin", "queue before", "queue"):
        print(f"{strategy} / random = {np.mean(needed[strategy]) / np.mean(needed['random']):.2f}x")


if __name__ == "__main__":
    main()
