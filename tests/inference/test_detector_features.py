"""Detector features: the head's input maps as extra outputs, pooled over each box."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.support.detectors import DEER_CLASSES
from wildloop.inference.crops import CropModelUnavailable, CropStage
from wildloop.inference.decode import Decoder
from wildloop.inference.detector_features import (
    DetectorFeatureEmbedder,
    DetectorFeatureRuntime,
    add_feature_outputs,
    pool_boxes,
)
from wildloop.inference.onnx_runtime import OnnxRuntime
from wildloop.inference.pipeline import Pipeline, PipelineItem, PipelineOptions
from wildloop.synthetic.scenes import SceneGenerator

DEMO_DETECTOR = Path(__file__).parents[2] / "src" / "wildloop" / "synthetic" / "demo_detector.onnx"


def _naive_pool(fmap: np.ndarray, box: tuple[float, float, float, float], side: int) -> np.ndarray:
    """The mean of every cell a box (input pixels) touches, cell by cell."""
    channels, rows, cols = fmap.shape
    stride = side / rows
    x1, y1, x2, y2 = box
    c1, r1 = min(int(x1 // stride), cols - 1), min(int(y1 // stride), rows - 1)
    c2 = max(c1 + 1, min(cols, int(np.ceil(x2 / stride))))
    r2 = max(r1 + 1, min(rows, int(np.ceil(y2 / stride))))
    total = np.zeros(channels)
    for r in range(r1, r2):
        for c in range(c1, c2):
            total += fmap[:, r, c]
    return total / ((r2 - r1) * (c2 - c1))


def test_pool_boxes_is_the_mean_over_the_cells_each_box_covers() -> None:
    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(4, 8, 10)).astype(np.float32), rng.normal(size=(3, 4, 5))]
    boxes = np.array([[0, 0, 80, 64], [33.0, 17.5, 47.2, 30.1], [79, 63, 80, 64], [5, 5, 5, 5]])
    pooled = pool_boxes([m.astype(np.float32) for m in maps], boxes, 64)
    assert pooled.shape == (4, 7) and pooled.dtype == np.float32
    for i, box in enumerate(boxes):
        expected = np.concatenate([_naive_pool(m, tuple(box), 64) for m in maps])
        assert np.allclose(pooled[i], expected, atol=1e-5)
    assert np.allclose(pooled[0, :4], maps[0].mean(axis=(1, 2)), atol=1e-5)  # whole frame


def test_the_derived_model_adds_the_head_inputs_and_keeps_the_original(tmp_path: Path) -> None:
    before = hashlib.sha256(DEMO_DETECTOR.read_bytes()).hexdigest()
    names = add_feature_outputs(DEMO_DETECTOR, tmp_path / "features.onnx")
    assert hashlib.sha256(DEMO_DETECTOR.read_bytes()).hexdigest() == before
    assert names == [f"/model.{n}/cv2/act/Mul_output_0" for n in (15, 18, 21)]
    plain, derived = OnnxRuntime(DEMO_DETECTOR), DetectorFeatureRuntime(tmp_path / "features.onnx")
    batch = np.random.default_rng(1).integers(0, 255, (2, 320, 320, 3), dtype=np.uint8)
    raw, features = derived.forward_with_features(batch)
    assert np.allclose(raw, plain.forward(batch), atol=1e-4)  # same detections
    assert [m.shape for m in features.maps] == [(2, 32, 40, 40), (2, 32, 20, 20), (2, 32, 10, 10)]
    with pytest.raises(CropModelUnavailable, match="no feature outputs"):
        DetectorFeatureRuntime(DEMO_DETECTOR)


def test_pipeline_vectors_equal_the_feature_model_run_separately(tmp_path: Path) -> None:
    """Boxes' vectors from the pipeline's one pass equal pooling the maps of a separate run
    on the same letterboxed input (the demo export is static 320x320, batch 1: the pipeline
    pads wide frames at the bottom, which must not shift the mapping)."""
    frames = SceneGenerator(DEER_CLASSES, seed=3, size=(320, 240)).write(tmp_path / "s", 1)
    paths = [tmp_path / "s" / f.file_name for f in frames]
    derived = tmp_path / "features.onnx"
    add_feature_outputs(DEMO_DETECTOR, derived)
    runtime = DetectorFeatureRuntime(derived, threads=1)
    embedder = DetectorFeatureEmbedder("detector:1", 96)
    options = PipelineOptions(imgsz=320, batch_size=4, conf=0.2)
    pipeline = Pipeline(runtime, options, crops=CropStage(embedder, min_score=0.2))
    results = {
        r.key: r
        for batch in pipeline.run(PipelineItem(i, p) for i, p in enumerate(paths))
        for r in batch
    }
    decoder = Decoder(320, stride=32)
    checked = 0
    for key, path in enumerate(paths):
        prepared = decoder.prepare(path)
        outputs = runtime.run_outputs(prepared.array[None])
        box = prepared.box
        for d in results[key].detections:
            assert d.embedding is not None and d.embedding.dtype == np.float16
            x1, y1 = box.left + d.x * box.new_w, box.top + d.y * box.new_h
            xyxy = (x1, y1, x1 + d.w * box.new_w, y1 + d.h * box.new_h)
            expected = np.concatenate([_naive_pool(m[0], xyxy, 320) for m in outputs[1:]])
            assert d.embedding.shape == (96,)
            assert np.allclose(d.embedding.astype(np.float32), expected, rtol=1e-2, atol=1e-2)
            checked += 1
    assert checked >= 3


def test_detector_features_refuse_crops_cut_from_files() -> None:
    with pytest.raises(CropModelUnavailable, match="image embedder"):
        DetectorFeatureEmbedder("detector:1", 448).embed(np.zeros((1, 8, 8, 3), np.uint8))
