"""The evaluator's mAP agrees with pycocotools on the same detections (within 0.002)."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wildloop.evaluation.average_precision import average_precision
from wildloop.evaluation.matching import ImageDetections, ImageTruth, build_table

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

TOLERANCE = 0.002
WIDTH, HEIGHT = 640, 480


def cocoeval(truths, detections, classes):
    """mAP50-95, mAP50 and per-class AP50-95 from pycocotools for the same data."""
    images, annotations, results = [], [], []
    for i, (truth, dets) in enumerate(zip(truths, detections, strict=True), start=1):
        images.append({"id": i, "width": WIDTH, "height": HEIGHT, "file_name": f"{i}.jpg"})
        for box, cls in zip(truth.boxes, truth.classes, strict=True):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(cls),
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
        for box, score, cls in zip(dets.boxes, dets.scores, dets.classes, strict=True):
            results.append(
                {
                    "image_id": i,
                    "category_id": int(cls),
                    "bbox": [float(v) for v in box],
                    "score": float(score),
                }
            )
    gt = COCO()
    gt.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": int(c), "name": str(c)} for c in classes],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:
            dt.dataset = {
                "images": images,
                "annotations": [],
                "categories": gt.dataset["categories"],
            }
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    precision = ev.eval["precision"][:, :, :, 0, 2]  # T, R, K at area all, 100 detections
    per_class = {}
    for k, c in enumerate(ev.params.catIds):
        p = precision[:, :, k]
        if (p > -1).any():
            per_class[int(c)] = float(p[p > -1].mean())
    return float(ev.stats[0]), float(ev.stats[1]), per_class


def ours(truths, detections, classes):
    result = average_precision(build_table(truths, detections, classes))
    return result.map50_95, result.map50, {c: v.ap50_95 for c, v in result.curves.items()}


def assert_agree(truths, detections, classes):
    ref95, ref50, ref_cls = cocoeval(truths, detections, classes)
    got95, got50, got_cls = ours(truths, detections, classes)
    if ref95 < 0:  # pycocotools prints -1 when no class has truth boxes
        assert got_cls == {}
        return
    assert abs(got95 - ref95) <= TOLERANCE, (got95, ref95)
    assert abs(got50 - ref50) <= TOLERANCE, (got50, ref50)
    assert set(got_cls) == set(ref_cls)
    for c in ref_cls:
        assert abs(got_cls[c] - ref_cls[c]) <= TOLERANCE, (c, got_cls[c], ref_cls[c])


def perturbed_scene(rng: np.random.Generator, images: int, classes: int):
    """Truth boxes, and detections that jitter, relabel, drop and invent boxes."""
    truths, detections = [], []
    for _ in range(images):
        n = int(rng.integers(0, 6))
        w = rng.uniform(20, 200, n)
        h = rng.uniform(20, 200, n)
        x = rng.uniform(0, WIDTH - w)
        y = rng.uniform(0, HEIGHT - h)
        boxes = np.stack([x, y, w, h], axis=1) if n else np.zeros((0, 4))
        cls = rng.integers(0, classes, n)
        truths.append(ImageTruth.of(boxes, cls, group="g"))
        keep = rng.random(n) < 0.8
        jitter = boxes[keep] + rng.normal(0, 12, (int(keep.sum()), 4))
        jitter[:, 2:] = np.clip(jitter[:, 2:], 5, None)
        dcls = np.where(
            rng.random(int(keep.sum())) < 0.15, rng.integers(0, classes, int(keep.sum())), cls[keep]
        )
        extra = int(rng.integers(0, 4))
        fake = (
            np.stack(
                [
                    rng.uniform(0, 500, extra),
                    rng.uniform(0, 400, extra),
                    rng.uniform(10, 120, extra),
                    rng.uniform(10, 120, extra),
                ],
                axis=1,
            )
            if extra
            else np.zeros((0, 4))
        )
        dboxes = np.concatenate([jitter, fake])
        dcls = np.concatenate([dcls, rng.integers(0, classes, extra)])
        scores = rng.uniform(0.05, 1.0, len(dboxes)).round(3)  # rounded: ties happen
        detections.append(ImageDetections.of(dboxes, scores, dcls))
    return truths, detections


@pytest.mark.parametrize("seed", range(6))
def test_agrees_with_pycocotools_on_perturbed_scenes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truths, detections = perturbed_scene(rng, images=40, classes=4)
    assert_agree(truths, detections, range(4))


def test_perfect_detections_score_one_and_empty_detections_zero() -> None:
    truths = [ImageTruth.of([[10, 10, 50, 50], [100, 100, 40, 80]], [0, 1], "a")]
    perfect = [ImageDetections.of([[10, 10, 50, 50], [100, 100, 40, 80]], [0.9, 0.8], [0, 1])]
    nothing = [ImageDetections.of([], [], [])]
    assert ours(truths, perfect, [0, 1])[0] == pytest.approx(1.0)
    assert ours(truths, nothing, [0, 1])[0] == 0.0
    assert_agree(truths, perfect, [0, 1])
    assert_agree(truths, nothing, [0, 1])


def test_detections_on_empty_frames_are_false_positives() -> None:
    truths = [ImageTruth.of([[10, 10, 50, 50]], [0], "a"), ImageTruth.of([], [], "b")]
    clean = [ImageDetections.of([[10, 10, 50, 50]], [0.5], [0]), ImageDetections.of([], [], [])]
    noisy = [clean[0], ImageDetections.of([[0, 0, 30, 30]], [0.9], [0])]
    assert ours(truths, clean, [0])[0] > ours(truths, noisy, [0])[0]
    assert_agree(truths, noisy, [0])


def test_more_than_100_detections_per_image_are_cut_like_coco() -> None:
    rng = np.random.default_rng(7)
    truths = [ImageTruth.of([[10 + 5 * i, 10, 30, 30] for i in range(20)], [0] * 20, "a")]
    boxes = rng.uniform(0, 300, (150, 4))
    boxes[:, 2:] = 30
    detections = [ImageDetections.of(boxes, rng.uniform(0, 1, 150), [0] * 150)]
    assert_agree(truths, detections, [0])


box = st.tuples(st.floats(0, 500), st.floats(0, 400), st.floats(1, 150), st.floats(1, 150)).map(
    list
)


@st.composite
def scenes(draw):
    classes = draw(st.integers(1, 3))
    images = draw(st.integers(1, 6))
    truths, detections = [], []
    for _ in range(images):
        gt = draw(st.lists(st.tuples(box, st.integers(0, classes - 1)), max_size=5))
        dt = draw(
            st.lists(
                st.tuples(
                    box,
                    st.sampled_from([0.1, 0.3, 0.5, 0.5, 0.7, 0.9]),
                    st.integers(0, classes - 1),
                ),
                max_size=6,
            )
        )
        # Some detections copy a truth box exactly or nearly, so matches are common.
        copies = draw(st.lists(st.sampled_from(gt), max_size=len(gt))) if gt else []
        for b, c in copies:
            shift = draw(st.floats(-8, 8))
            dt.append(([b[0] + shift, b[1], b[2], b[3]], draw(st.floats(0.05, 1)), c))
        truths.append(ImageTruth.of([b for b, _ in gt], [c for _, c in gt], "g"))
        detections.append(
            ImageDetections.of([b for b, _, _ in dt], [s for _, s, _ in dt], [c for _, _, c in dt])
        )
    return truths, detections, list(range(classes))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_agrees_with_pycocotools_on_generated_detections(scene) -> None:
    truths, detections, classes = scene
    assert_agree(truths, detections, classes)
