"""Sequence smoothing and a hard location prior on real crops (mct-real), through the
product's domain rules, against the same classifier without them (the baseline, measured in
the same run on the same crops).

The classifier is the embedders' README recipe (MobileNet v1 vectors of crops with 0.10
padding, balanced logistic regression on train + val), which the product's head equals on
these splits (bench/crop_classifier.py). Test crops are grouped by their Reconyx sequence
(the file name's SEQ id), as the product groups bursts. mct-real has no camera locations, so
the prior's allow-list is the test split's own species: an oracle, i.e. the most a right
allow-list can do, not what a user's list will.

    python bench/smoothing_priors.py

Measured 2026-11-30 on the shared 2-core machine (wall times noisy; accuracy is not):
657 train/val and 54 test crops; the test split is only 5 sequences of 5 species, so every
figure below moves in steps of one burst. Baseline top-1 0.389 / macro-F1 0.506. Smoothing
(each burst's dominant class renames boxes below `weak`): weak 0.1 unchanged (1.00x);
weak 0.2 to 1.01 top-1 0.481 / macro-F1 0.600 (1.24x / 1.19x): the head's softmax over 20
species rarely passes 0.2, so nearly every box is "weak" and the burst vote decides. Hard
prior, oracle allow-list (the 5 test species), no roll-up: the 23 kept boxes score top-1
0.913, but 31 of 54 boxes are dropped (a roll-up class would keep them as "animal"). Soft
x0.1 re-ranking all 20 class scores (what the domain rule does given a full score vector;
a pipeline gives it all classifier scores, see ADR 0015): top-1 0.556 (1.43x), macro-F1
0.469 (0.93x).

The product's settings gate (`wildloop model compare-settings`, evaluation/settings_gate.py)
on the same test split, the classifier trained by the product's job, the oracle allow-list
at mct-real's one camera, starting from priors off and smoothing off; measured 2026-11-30
(load average ~13; whole script 259.8 s wall, 37.8 s user CPU; each gate comparison 6-9 s
wall, 0.9 s CPU, most of it embedding the 54 test crops). Its figures equal the ones above:
smoothing weak 0.1: macro-F1 0.506 -> 0.506, interval [+0.000, +0.000] over 5 sequences,
REFUSE; weak 0.2 and weak 1: top-1 0.389 -> 0.481, macro-F1 0.506 -> 0.600, interval
[+0.000, +0.180], PASS; soft x0.1: top-1 0.389 -> 0.556, macro-F1 0.506 -> 0.469, interval
[-0.166, +0.076], REFUSE (macro-F1 falls, as above). Hard prior: 31 of 54 boxes dropped,
top-1 0.389 -> 0.389 (21 right of 54 either way; the 23 kept are 0.913 right, as above),
macro-F1 unchanged, REFUSE: the gate counts a dropped box as a miss and its macro-F1 averages
over the truth's classes, so removing wrong calls of species absent from the test split earns
nothing; a roll-up class would keep those boxes as "animal" (not measured: mct-real has none).
With 5 test sequences every interval is wide, and `gate.require_significant` would refuse all.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).parent))
from crop_classifier import clock, macro_f1, mct_project, since
from wildloop.composition import register_job_kinds
from wildloop.crops.classifier import normalise
from wildloop.crops.embedder import project_crop_embedder
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.domain.location_priors import LocationPrior, apply_prior
from wildloop.domain.sequence_smoothing import smooth_burst
from wildloop.evaluation.classifier_eval import labelled_images
from wildloop.evaluation.settings_gate import compare_settings, current_settings, parse_settings
from wildloop.inference.crops import cut_crops
from wildloop.jobs.local import run_job
from wildloop.media.camera_priors import list_priors, set_prior
from wildloop.project import Project
from wildloop.training.classifier_job import start_classifier_training


def vectors(entries: list, embedder) -> tuple[np.ndarray, list[int], list[str]]:
    rows, labels, seqs = [], [], []
    for item in labelled_images(entries):
        image = np.asarray(Image.open(item.path).convert("RGB"))
        rows.append(embedder.embed(cut_crops(image, list(item.boxes), embedder.size, 0.10)))
        labels += list(item.class_ids)
        seqs += [Path(item.path).name.split("_")[0]] * len(item.class_ids)
    return np.vstack(rows), labels, seqs


def report(name: str, truth: list[int], predicted: list[int | None], base: tuple) -> tuple:
    kept = [(t, p) for t, p in zip(truth, predicted, strict=True) if p is not None]
    top1 = float(np.mean([t == p for t, p in kept])) if kept else 0.0
    f1 = macro_f1([t for t, _ in kept], [p for _, p in kept]) if kept else 0.0
    ratio = f"  ratio {top1 / base[0]:.2f}x / {f1 / base[1]:.2f}x" if base else ""
    print(f"{name:34s} top-1 {top1:.3f}  macro-F1 {f1:.3f}  kept {len(kept)}/{len(truth)}{ratio}")
    return top1, f1


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-smooth-") as tmp:
        project = mct_project(Path(tmp) / "mct")
        classes = project.classes.names
        training, _ = create_snapshot(project, "training")
        test, _ = create_snapshot(project, "test")
        embedder = project_crop_embedder(project)
        start = clock()
        x_train, y_train, _ = vectors(list(load_snapshot(project, training.id).entries), embedder)
        x_test, y_test, seqs = vectors(list(load_snapshot(project, test.id).entries), embedder)
        print(f"embed   : {len(y_train)} train/val + {len(y_test)} test crops, {since(start)}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = LogisticRegression(max_iter=2000, class_weight="balanced")
            lr.fit(normalise(x_train), y_train)
        proba = lr.predict_proba(normalise(x_test))
        names = [classes[int(c)] for c in lr.classes_]
        ids = {n: int(c) for n, c in zip(names, lr.classes_, strict=True)}
        top = [(names[int(np.argmax(p))], float(np.max(p))) for p in proba]
        print(f"test    : {len(set(seqs))} sequences, {len(set(y_test))} species")
        base = report("baseline (no smoothing, no prior)", y_test, [ids[n] for n, _ in top], ())
        for weak in (0.1, 0.2, 0.3, 0.5, 1.01):
            bursts: dict[str, list[int]] = defaultdict(list)
            for i, s in enumerate(seqs):
                bursts[s].append(i)
            smoothed = list(top)
            for members in bursts.values():
                out = smooth_burst([[top[i]] for i in members], weak)
                for i, frame in zip(members, out, strict=True):
                    smoothed[i] = frame[0]
            report(f"smoothing weak={weak}", y_test, [ids[n] for n, _ in smoothed], base)
        oracle = LocationPrior.of({classes[t] for t in y_test})
        hard = [apply_prior({n: s}, oracle, "hard", 0.1) for n, s in top]
        report(
            "hard prior (oracle allow-list)", y_test, [ids[h[0]] if h else None for h in hard], base
        )
        soft = [
            apply_prior(dict(zip(names, map(float, p), strict=True)), oracle, "soft", 0.1)
            for p in proba
        ]
        report("soft x0.1 on all scores (oracle)", y_test, [ids[s[0]] for s in soft if s], base)
        gate(project, sorted({classes[t] for t in y_test}))


def gate(project: Project, oracle: list[str]) -> None:
    """The product's settings gate on the same test split: the classifier trained by the
    product's job (equal to the baseline above, bench/crop_classifier.py), scored under the
    project's settings and each proposal; its verdicts should agree with the figures above."""
    register_job_kinds()
    start = clock()
    status = run_job(project, start_classifier_training(project).job_id)
    assert status["state"] == "succeeded", status
    model = status["result"]["model"]
    print(f"gate    : classifier {model} trained by the product's job, {since(start)}")
    project.config.priors.mode = "off"  # the starting point: neither priors nor smoothing
    with project.db.session() as session:
        cameras = [c["camera"] for c in list_priors(session)]
        for camera in cameras:  # the bench's oracle allow-list, at every camera
            set_prior(session, camera, oracle, None, project.classes.names, None)
    print(f"gate    : {len(cameras)} cameras given the oracle allow-list")
    for proposal in (
        "smoothing=on,weak=0.1",
        "smoothing=on,weak=0.2",
        "smoothing=on,weak=1",
        "priors=hard",
        "priors=soft,factor=0.1",
    ):
        start = clock()
        result = compare_settings(
            project, parse_settings(proposal, current_settings(project)), model=model
        ).as_dict()
        old, new = result["current"], result["proposed"]
        interval = result["macro_f1_difference_interval"]
        verdict = "PASS" if result["decision"]["promote"] else "REFUSE"
        print(
            f"gate    : {proposal:24s} top-1 {old['top1']:.3f} -> {new['top1']:.3f}  "
            f"macro-F1 {old['macro_f1']:.3f} -> {new['macro_f1']:.3f}  dropped "
            f"{new['dropped']}/{new['crops']}  95% [{interval['low']:+.3f}, "
            f"{interval['high']:+.3f}] over {interval['resampled_sequences']} sequences  "
            f"{verdict}  ({since(start)})"
        )
        for reason in result["decision"]["reasons"]:
            print(f"            {reason}")


if __name__ == "__main__":
    main()
