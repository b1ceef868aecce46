"""wildloop's evaluator against pycocotools on the same detections: agreement and speed.

Generates perturbed test sets (truth boxes; detections that are jittered, relabelled, dropped
and invented, with tied scores) and scores each with both. Prints the largest absolute
difference in mAP50-95, mAP50 and per-class AP50-95 (the requirement is <= 0.002), and the
time of each (pycocotools is the baseline; wildloop's figure includes building the match
table that the bootstrap then reuses).

    python bench/evaluator_vs_pycocotools.py --sets 50 --images 200 --classes 6
"""

from __future__ import annotations

import argparse
import contextlib
import io
import time

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from wildloop.evaluation.average_precision import average_precision
from wildloop.evaluation.matching import ImageDetections, ImageTruth, build_table

WIDTH, HEIGHT = 640, 480


def generate(rng: np.random.Generator, images: int, classes: int):
    truths, detections = [], []
    jitter = rng.uniform(0.5, 20)  # px; varies the score range across sets
    for _ in range(images):
        n = int(rng.integers(0, 7))
        wh = rng.uniform(15, 220, (n, 2))
        xy = rng.uniform(0, 1, (n, 2)) * (np.array([WIDTH, HEIGHT]) - wh)
        boxes = np.concatenate([xy, wh], axis=1)
        cls = rng.integers(0, classes, n)
        truths.append(ImageTruth.of(boxes, cls, "g"))
        keep = rng.random(n) < 0.85
        det = boxes[keep] + rng.normal(0, jitter, (int(keep.sum()), 4))
        det[:, 2:] = np.clip(det[:, 2:], 4, None)
        dcls = np.where(rng.random(len(det)) < 0.1, rng.integers(0, classes, len(det)), cls[keep])
        extra = int(rng.integers(0, 5))
        fake = np.column_stack(
            [
                rng.uniform(0, 560, extra),
                rng.uniform(0, 400, extra),
                rng.uniform(8, 120, extra),
                rng.uniform(8, 120, extra),
            ]
        )
        boxes_all = np.concatenate([det, fake])
        scores = rng.uniform(0.05, 1, len(boxes_all)).round(2)
        detections.append(
            ImageDetections.of(
                boxes_all, scores, np.concatenate([dcls, rng.integers(0, classes, extra)])
            )
        )
    return truths, detections


def with_pycocotools(truths, detections, classes: int):
    images, anns, results = [], [], []
    for i, (t, d) in enumerate(zip(truths, detections, strict=True), 1):
        images.append({"id": i, "width": WIDTH, "height": HEIGHT})
        for b, c in zip(t.boxes, t.classes, strict=True):
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": int(c),
                    "bbox": list(map(float, b)),
                    "area": float(b[2] * b[3]),
                    "iscrowd": 0,
                }
            )
        for b, s, c in zip(d.boxes, d.scores, d.classes, strict=True):
            results.append(
                {
                    "image_id": i,
                    "category_id": int(c),
                    "bbox": list(map(float, b)),
                    "score": float(s),
                }
            )
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {
            "images": images,
            "annotations": anns,
            "categories": [{"id": c, "name": str(c)} for c in range(classes)],
        }
        gt.createIndex()
        ev = COCOeval(gt, gt.loadRes(results), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    p = ev.eval["precision"][:, :, :, 0, 2]
    per_class = {
        c: float(p[:, :, k][p[:, :, k] > -1].mean())
        for k, c in enumerate(ev.params.catIds)
        if (p[:, :, k] > -1).any()
    }
    return float(ev.stats[0]), float(ev.stats[1]), per_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", type=int, default=50)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--classes", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    worst = {"map50_95": 0.0, "map50": 0.0, "class_ap50_95": 0.0}
    t_ours = t_ref = 0.0
    values = []
    for _ in range(args.sets):
        truths, dets = generate(rng, args.images, args.classes)
        t = time.perf_counter()
        ref95, ref50, ref_cls = with_pycocotools(truths, dets, args.classes)
        t_ref += time.perf_counter() - t
        t = time.perf_counter()
        ours = average_precision(build_table(truths, dets, range(args.classes)))
        t_ours += time.perf_counter() - t
        values.append(ref95)
        worst["map50_95"] = max(worst["map50_95"], abs(ours.map50_95 - ref95))
        worst["map50"] = max(worst["map50"], abs(ours.map50 - ref50))
        for c, v in ref_cls.items():
            worst["class_ap50_95"] = max(worst["class_ap50_95"], abs(ours.curves[c].ap50_95 - v))
    print(f"{args.sets} generated test sets x {args.images} images, {args.classes} classes")
    print(f"mAP50-95 range over sets (pycocotools): {min(values):.4f} .. {max(values):.4f}")
    for key, value in worst.items():
        print(f"max |wildloop - pycocotools| {key:>14}: {value:.2e}  (limit 2.0e-03)")
    print(
        f"time per set: pycocotools {t_ref / args.sets * 1000:.1f} ms (baseline), "
        f"wildloop {t_ours / args.sets * 1000:.1f} ms, ratio {t_ours / t_ref:.2f}x"
    )
    assert max(worst.values()) <= 0.002, worst


if __name__ == "__main__":
    main()
