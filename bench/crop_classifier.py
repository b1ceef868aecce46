"""A crop classifier on real photos (mct-real: 826 Reconyx frames, 711 hand-drawn boxes of 20
species), trained through the product against the embedders' reference recipe.

1. the product: `wildloop import-labels` (sequence-grouped splits, frozen at ingest), then
   `start_classifier_training` + the train job (cut train/val crops with context padding
   from the frame the detector would see, embed with the bundled MobileNet v1, fit the
   head with scikit-learn and export it to a numpy softmax head, score it on the frozen
   test split's ground-truth crops), timed end to end (wall and CPU seconds; the machine
   is shared with other engineers, so wall is noisy);
2. the baseline, in the same process on the same splits: the embedders' README recipe
   (crops from the full-resolution original, padding 0.10, L2-normalised vectors,
   scikit-learn LogisticRegression with balanced class weights, fitted on train + val);
3. variants of the product's head (padding, MLP, no class balance) on the same splits,
   to say what helps.

4. the other method, `--method yolo-cls` (with `--yolo-cls`): Ultralytics YOLO-cls trained
   end to end on the same train/val crops from the untrained yolov8n-cls.yaml (no
   pretrained classification weights can be had offline), exported to ONNX and scored on
   the same test crops, timed the same way (data loader workers 0, so every CPU second is
   this process's).

The pipeline's end-to-end mAP against a detector alone is not measured here: the only
detectors that can be had cheaply on this machine are trained on generated scenes (the demo
detector, the test fixture) and find nothing meaningful in real photos; a real comparison
needs a detector trained on these photos (GPU hours, or a night on 2 cores).

    python bench/crop_classifier.py [--yolo-cls] [--epochs 20] [--crop-size 128] [--no-variants]

Measured 2026-11-29 on the shared 2-core machine (load average ~12, so wall times are several
times the CPU times): 577 train / 80 val / 54 test crops (the test split holds 5 species).
product top-1 0.389, macro-F1 0.506, whole job 83.8 s wall / 18.6 s CPU (embedding 74 s wall,
fit 0.9 s); baseline top-1 0.389, macro-F1 0.506 (ratio 1.00x / 1.00x). Variants (top-1 /
macro-F1): padding 0 LR 0.352/0.498, unbalanced 0.333/0.408, MLP 0.389/0.504; padding 0.10
unbalanced 0.296/0.358, MLP 0.352/0.481; padding 0.25 LR 0.389/0.517, unbalanced
0.259/0.319, MLP 0.222/0.356. Again after the head moved to scikit-learn (load ~5): product
and baseline unchanged (0.389 / 0.506, 1.00x), whole job 50.9 s wall / 20.3 s CPU, fit
0.29 s; LR variants unchanged; MLP (now scikit-learn's MLPClassifier, 256 units) padding 0
0.370/0.498, 0.10 0.333/0.445, 0.25 0.296/0.383. Outside this script: averaging each crop's
vector with its mirror image's at padding 0.25 scored 0.444/0.553 (doubles the embedding
cost; not built).

YOLO-cls, measured 2026-11-30 (`--yolo-cls --epochs 20 --crop-size 128 --no-variants`, load
average 10-14 on the 2 shared cores, the whole script got 17% of a core's time): top-1
0.037, macro-F1 0.038 on the same 54 test crops (0.10x / 0.08x the head's 0.389 / 0.506);
best val top-1 0.075; whole job 1025.9 s wall / 186.6 s CPU (cutting 577 + 80 crops 42.6 s
wall, training 979.8 s wall). From the untrained yolov8n-cls.yaml, 577 crops of 19 species
are far too few to learn from nothing; the head wins because its backbone was pretrained on
ImageNet. With a classification .pt to start from (`--start-weights`) the comparison would
be worth running again. Again on a quieter host (load 2.5 -> 5): the same figures (seeded),
YOLO-cls whole job 245.2 s wall / 169.1 s CPU (cut 4.5 s, train 239.5 s); the head's job
13.4 s wall / 13.8 s CPU; the whole script 281 s wall, 194 s user + 9 s system CPU.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sqlalchemy import select

from wildloop.composition import register_job_kinds
from wildloop.crops.classifier import ground_truth_crops, normalise
from wildloop.crops.embedder import project_crop_embedder
from wildloop.crops.logistic import fit_crop_head
from wildloop.datasets.label_import import import_labels, read_dataset
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.evaluation.classifier_eval import labelled_images
from wildloop.inference.crops import cut_crops
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.store.tables import ModelVersion
from wildloop.training.classifier_job import start_classifier_training

DATA = Path("/work/shared/data/mct-real")


def clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(start: tuple[float, float]) -> str:
    wall, cpu = time.perf_counter() - start[0], time.process_time() - start[1]
    return f"{wall:.1f} s wall, {cpu:.1f} s CPU"


def mct_project(root: Path, extra_classes: tuple[str, ...] = ()) -> Project:
    """A fresh project holding mct-real's 20 species (then ``extra_classes``), its labels
    imported through the product (sequence-grouped splits, frozen at ingest)."""
    coco = json.loads((DATA / "coco_ct.json").read_text())
    classes = [c["name"] for c in sorted(coco["categories"], key=lambda c: c["id"])]
    project = Project.init(root, "mct", classes + list(extra_classes))
    import_labels(project, read_dataset(DATA / "coco_ct.json"))
    return project


def trained(project: Project, overrides: dict | None = None) -> tuple[dict, str]:
    """The classifier training job run here: its version's metrics and how long it took."""
    start = clock()
    started = start_classifier_training(project, overrides=overrides)
    status = run_job(project, started.job_id)
    assert status["state"] == "succeeded", status
    took = since(start)
    with project.db.session() as session:
        version = session.scalar(select(ModelVersion).where(ModelVersion.job_id == started.job_id))
        return dict(version.metrics), took


def product(project: Project) -> dict:
    metrics, took = trained(project)
    test = metrics["test"]
    print(
        f"product : top-1 {test['top1']:.3f}  macro-F1 {test['macro_f1']:.3f} on "
        f"{test['crops']} test crops; {metrics['crops']} train/val crops; whole job {took} "
        f"(embed {metrics['training']['embed_seconds']:.1f} s, fit "
        f"{metrics['training']['seconds']:.2f} s)"
    )
    return test


def yolo_cls(project: Project, epochs: int, crop_size: int) -> dict:
    """The YOLO-cls method through the product: the same job, crops, test crops and metrics."""
    project.config.training.workers = 0
    overrides = {"method": "yolo-cls", "epochs": epochs, "crop_size": crop_size}
    metrics, took = trained(project, overrides)
    test, training = metrics["test"], metrics["training"]
    best = max((c.get("val_top1", 0.0) for c in training["curves"]), default=0.0)
    print(
        f"yolo-cls: top-1 {test['top1']:.3f}  macro-F1 {test['macro_f1']:.3f} on "
        f"{test['crops']} test crops; {metrics['crops']} train/val crops; {epochs} epochs at "
        f"{crop_size} px from yolov8n-cls.yaml; whole job {took} (cut "
        f"{training['crop_seconds']:.1f} s, train {training['seconds']:.1f} s; best val "
        f"top-1 {best:.3f})",
        flush=True,
    )
    return test


def reference_vectors(project: Project, entries: list, embedder) -> tuple[np.ndarray, list[int]]:
    """The README recipe: crops from the full-resolution original, padding 0.10."""
    rows, labels = [], []
    for item in labelled_images(entries):
        image = np.asarray(Image.open(item.path).convert("RGB"))
        crops = cut_crops(image, list(item.boxes), embedder.size, 0.10)
        rows.append(embedder.embed(crops))
        labels += list(item.class_ids)
    return np.vstack(rows), labels


def macro_f1(truth: list[int], predicted: list[int]) -> float:
    return float(f1_score(truth, predicted, labels=sorted(set(truth)), average="macro"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--yolo-cls", action="store_true", help="also train YOLO-cls")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--crop-size", type=int, default=128)
    parser.add_argument("--no-variants", action="store_true")
    args = parser.parse_args()
    register_job_kinds()
    with tempfile.TemporaryDirectory(prefix="bench-crops-") as tmp:
        start = clock()
        project = mct_project(Path(tmp) / "mct")
        print(f"import  : {since(start)}")
        test_product = product(project)

        training, _ = create_snapshot(project, "training")
        test, _ = create_snapshot(project, "test")
        train_entries = load_snapshot(project, training.id).entries
        test_entries = load_snapshot(project, test.id).entries
        embedder = project_crop_embedder(project)

        start = clock()
        x_train, y_train = reference_vectors(project, list(train_entries), embedder)
        x_test, y_test = reference_vectors(project, list(test_entries), embedder)
        embed_took = since(start)
        start = clock()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            lr = LogisticRegression(max_iter=2000, class_weight="balanced")
            lr.fit(normalise(x_train), y_train)
        fit_took = since(start)
        predicted = [int(c) for c in lr.predict(normalise(x_test))]
        top1 = float(np.mean(np.array(predicted) == np.array(y_test)))
        f1 = macro_f1(y_test, predicted)
        print(
            f"baseline: top-1 {top1:.3f}  macro-F1 {f1:.3f} on {len(y_test)} test crops "
            f"(README recipe, sklearn LR); embed {embed_took}, fit {fit_took}"
        )
        print(
            f"ratio   : product/baseline top-1 {test_product['top1'] / top1:.2f}x, "
            f"macro-F1 {test_product['macro_f1'] / f1:.2f}x"
        )
        if args.yolo_cls:
            test_yolo = yolo_cls(project, args.epochs, args.crop_size)
            print(
                f"ratio   : yolo-cls/head top-1 {test_yolo['top1'] / test_product['top1']:.2f}x, "
                f"macro-F1 {test_yolo['macro_f1'] / test_product['macro_f1']:.2f}x; "
                f"yolo-cls/baseline top-1 {test_yolo['top1'] / top1:.2f}x, "
                f"macro-F1 {test_yolo['macro_f1'] / f1:.2f}x"
            )
        if not args.no_variants:
            variants(project, train_entries, test_entries, embedder)


def variants(project: Project, train_entries, test_entries, embedder) -> None:
    """The product's crops (letterboxed frame) and head, one setting changed at a time."""
    names = {c.id: c.name for c in project.classes}
    for padding in (0.0, 0.10, 0.25):
        sets = {
            split: ground_truth_crops(
                labelled_images([e for e in train_entries if e.split == split]),
                embedder,
                imgsz=640,
                padding=padding,
            )
            for split in ("train", "val")
        }
        test = ground_truth_crops(
            labelled_images(test_entries), embedder, imgsz=640, padding=padding
        )
        for label, options in (
            ("LR balanced", {}),
            ("LR unbalanced", {"balanced": False}),
            ("MLP 256", {"hidden": 256}),
        ):
            start = clock()
            head, columns, _ = fit_crop_head(names, sets["train"], sets["val"], **options)
            took = since(start)
            predicted = [columns[int(i)] for i in np.argmax(head.scores(normalise(test.x)), 1)]
            top1 = float(np.mean(np.array(predicted) == np.array(test.class_ids)))
            print(
                f"variant : padding {padding:.2f} {label:13s} top-1 {top1:.3f} macro-F1 "
                f"{macro_f1(test.class_ids, predicted):.3f} (fit {took})",
                flush=True,
            )


if __name__ == "__main__":
    main()
