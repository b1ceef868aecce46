"""The inference pipeline against Ultralytics' own predictions, on scenes and real photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wildloop.domain.boxes import Box
from wildloop.inference import nms
from wildloop.inference.decode import reduction
from wildloop.inference.onnx_runtime import OnnxRuntime
from wildloop.inference.pipeline import ItemResult, Pipeline, PipelineItem, PipelineOptions
from wildloop.inference.ultralytics_adapter import export_onnx, predict_reference

IMGSZ = 160
# One xdist worker trains (or reads from the cache) the detector these tests share.
pytestmark = pytest.mark.xdist_group("trained-detector")
Ref = list[tuple[int, float, float, float, float, float]]


@pytest.fixture(scope="module")
def trained_onnx(trained_pt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(trained_pt, tmp_path_factory.mktemp("onnx") / "trained.onnx", IMGSZ)


def _run(onnx: Path, files: list[Path], **options: object) -> dict[Path, ItemResult]:
    pipeline = Pipeline(OnnxRuntime(onnx), PipelineOptions(imgsz=IMGSZ, **options))  # type: ignore[arg-type]
    out: dict[Path, ItemResult] = {}
    for results in pipeline.run(PipelineItem(i, f) for i, f in enumerate(files)):
        for result in results:
            out[files[result.key]] = result
    return out


def _unmatched(ref: Ref, got: ItemResult, min_iou: float, max_dconf: float) -> list[str]:
    """Ultralytics boxes with no pipeline box of the same class, close score and overlap."""
    missing = []
    for cls, conf, x, y, w, h in ref:
        truth = Box.clipped(x, y, w, h)
        if not any(
            d.class_index == cls
            and abs(d.score - conf) <= max_dconf
            and truth.iou(Box.clipped(d.x, d.y, d.w, d.h)) >= min_iou
            for d in got.detections
        ):
            missing.append(f"class {cls} conf {conf:.3f} box {x:.3f},{y:.3f},{w:.3f},{h:.3f}")
    return missing


def _compare(
    trained_pt: Path,
    onnx: Path,
    files: list[Path],
    conf: float,
    reduced: bool,
    margin: float = 0.0,
) -> tuple[int, list[str]]:
    """Match Ultralytics' boxes scoring >= conf + margin (boxes right at the threshold may
    fall either side of it between two runtimes) against the pipeline's boxes >= conf."""
    ref: dict[Path, Ref] = {}
    for f in files:
        # One call per image: a multi-image call lets Ultralytics letterbox later images
        # to the square instead of the stride rectangle it uses for a single image.
        ref.update(predict_reference(trained_pt, [f], imgsz=IMGSZ, conf=conf, iou=0.7))
    got = _run(onnx, files, conf=conf, reduced_decode=reduced)
    min_iou, max_dconf = (0.97, 0.01) if not reduced else (0.85, 0.06)
    boxes, problems = 0, []
    for f in files:
        assert got[f].ok, got[f].error
        expected = [r for r in ref[f] if r[1] >= conf + margin]
        boxes += len(expected)
        problems += [f"{f.name}: {m}" for m in _unmatched(expected, got[f], min_iou, max_dconf)]
        if not reduced and not margin:
            assert len(got[f].detections) == len(ref[f]), f.name
    return boxes, problems


def test_pipeline_matches_ultralytics_on_generated_scenes(
    trained_pt: Path, trained_onnx: Path, trained_scene_images: list[Path]
) -> None:
    # The briefly trained detector's confidence varies from machine to machine (~8-20 of
    # 24 animals above 0.25); a low threshold keeps enough boxes to compare everywhere.
    boxes, problems = _compare(trained_pt, trained_onnx, trained_scene_images, 0.1, False)
    assert boxes >= 10, "the trained detector should find animals in its own scenes"
    assert problems == []


def test_reduced_size_decode_stays_within_tolerance(
    trained_pt: Path, trained_onnx: Path, trained_scene_images: list[Path], tmp_path: Path
) -> None:
    # Upscale the scenes 4x so DCT scaling really decodes at 1/8 size.
    from PIL import Image

    big = []
    for f in trained_scene_images[:8]:
        with Image.open(f) as image:
            out = tmp_path / f.name
            image.resize((1280, 960)).save(out, quality=90)
            big.append(out)
    assert reduction(1280, 960, IMGSZ) == 8
    boxes, problems = _compare(trained_pt, trained_onnx, big, 0.1, True, margin=0.05)
    assert boxes >= 5
    # A handful of borderline boxes may move; nearly all must agree.
    assert len(problems) <= max(1, boxes // 10), problems


def test_real_photos_match_ultralytics(
    trained_pt: Path, trained_onnx: Path, shared_data: Path
) -> None:
    files = sorted((shared_data / "camtrap-samples").glob("*.jpg"))[::3]
    files += sorted((shared_data / "mct-real" / "images").glob("*.JPG"))[::100]
    assert len(files) >= 16
    # A detector trained on generated scenes fires rarely on real photos; compare at a low
    # threshold so there are boxes, with full decode so the inputs are identical.
    boxes, problems = _compare(trained_pt, trained_onnx, files, 0.02, False, margin=0.01)
    assert boxes >= 5
    assert problems == []
    got = _run(trained_onnx, files, conf=0.02)
    assert all(r.ok for r in got.values())
    for result in got.values():
        for d in result.detections:
            Box(d.x, d.y, d.w, d.h)  # raises if outside the image


def test_bad_images_fail_alone(
    trained_onnx: Path, trained_scene_images: list[Path], tmp_path: Path
) -> None:
    good = trained_scene_images[:6]
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good[0].read_bytes()[:3000])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    missing = tmp_path / "gone.jpg"
    files = [good[0], truncated, good[1], text, good[2], missing, empty, *good[3:]]
    mixed = _run(trained_onnx, files, conf=0.25, batch_size=4)
    alone = _run(trained_onnx, good, conf=0.25, batch_size=4)
    assert len(mixed) == len(files)
    assert "truncated" in (mixed[truncated].error or "")
    assert "not an image" in (mixed[text].error or "")
    assert "empty" in (mixed[empty].error or "")
    assert "not found" in (mixed[missing].error or "")
    for f in good:
        assert mixed[f].ok and mixed[f].detections == alone[f].detections


def test_torch_runtime_agrees_with_onnx(
    trained_pt: Path, trained_onnx: Path, trained_scene_images: list[Path]
) -> None:
    from wildloop.inference.torch_runtime import TorchRuntime

    files = trained_scene_images[:6]
    onnx = _run(trained_onnx, files, conf=0.25)
    pipeline = Pipeline(
        TorchRuntime(trained_pt, device="cpu"), PipelineOptions(imgsz=IMGSZ, conf=0.25)
    )
    torch_results = {
        files[r.key]: r
        for batch in pipeline.run(PipelineItem(i, f) for i, f in enumerate(files))
        for r in batch
    }
    for f in files:
        a, b = onnx[f].detections, torch_results[f].detections
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert x.class_index == y.class_index and abs(x.score - y.score) < 1e-3
            assert Box.clipped(x.x, x.y, x.w, x.h).iou(Box.clipped(y.x, y.y, y.w, y.h)) > 0.99


def test_numpy_nms_equals_torchvision() -> None:
    import torch
    from torchvision.ops import batched_nms

    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 160, (400, 2))
    sizes = rng.uniform(5, 60, (400, 2))
    boxes = np.concatenate([centres - sizes / 2, centres + sizes / 2], 1).astype(np.float32)
    scores = rng.uniform(0, 1, 400).astype(np.float32)
    classes = rng.integers(0, 3, 400)
    ours = nms.greedy(boxes + classes[:, None] * nms.MAX_WH, scores, 0.5)
    theirs = batched_nms(
        torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(classes), 0.5
    ).numpy()
    assert ours.tolist() == theirs.tolist()


def _bogus_huffman(source: Path, out: Path) -> Path:
    """A JPEG whose header parses but whose Huffman table is garbage (decode fails)."""
    data = bytearray(source.read_bytes())
    start = data.find(b"\xff\xc4")
    length = int.from_bytes(data[start + 2 : start + 4], "big")
    for k in range(start + 5, start + 2 + length):
        data[k] = 0xFF if k % 2 else 0x00
    out.write_bytes(bytes(data))
    return out


def test_device_jpeg_decode_path_agrees_and_isolates_bad_files(
    trained_pt: Path, trained_onnx: Path, trained_scene_images: list[Path], tmp_path: Path
) -> None:
    """The nvJPEG path (torchvision.io.decode_jpeg on the model's device), run here on CPU:
    CPU threads only read and check files, decoding and letterboxing happen in torch."""
    from wildloop.inference.torch_runtime import TorchRuntime

    good = trained_scene_images[:6]
    bad = _bogus_huffman(good[0], tmp_path / "bogus.jpg")
    files = [good[0], bad, *good[1:]]
    runtime = TorchRuntime(trained_pt, device="cpu", gpu_decode=True)
    pipeline = Pipeline(runtime, PipelineOptions(imgsz=IMGSZ, conf=0.25, batch_size=8))
    got = {
        files[r.key]: r
        for batch in pipeline.run(PipelineItem(i, f) for i, f in enumerate(files))
        for r in batch
    }
    assert "Huffman" in (got[bad].error or "")
    reference = _run(trained_onnx, good, conf=0.25, reduced_decode=False)
    matched = total = 0
    for f in good:
        assert got[f].ok
        for d in reference[f].detections:
            total += 1
            truth = Box.clipped(d.x, d.y, d.w, d.h)
            matched += any(
                g.class_index == d.class_index
                and abs(g.score - d.score) < 0.05
                and truth.iou(Box.clipped(g.x, g.y, g.w, g.h)) > 0.85
                for g in got[f].detections
            )
    assert total >= 5 and matched >= total - 1
