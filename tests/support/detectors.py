"""Fixtures for the engine tests: tiny detectors built once per test session."""

from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import pytest

DEER_CLASSES = ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]


@pytest.fixture(scope="session")
def untrained_pt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised YOLOv8n-shaped detector with the deer classes (mechanics only)."""
    from wildloop.inference.ultralytics_adapter import build_untrained

    return build_untrained(
        tmp_path_factory.mktemp("models") / "untrained.pt", DEER_CLASSES, imgsz=160
    )


TRAINED_RECIPE = "scenes-seed1-16bursts-320x240-yolov8n-30ep-160px-v2-trainer"


def _write_yolo_dataset(root: Path) -> Path:
    from wildloop.synthetic.scenes import SceneGenerator

    frames = SceneGenerator(DEER_CLASSES, seed=1, size=(320, 240)).write(root / "raw", 16)
    for frame in frames:
        image = root / "images" / "train" / frame.file_name.replace("/", "_")
        image.parent.mkdir(parents=True, exist_ok=True)
        image.write_bytes(frame.jpeg)
        label = root / "labels" / "train" / f"{image.stem}.txt"
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text(
            "".join(
                f"{DEER_CLASSES.index(a.class_name)} {a.box.x + a.box.w / 2} "
                f"{a.box.y + a.box.h / 2} {a.box.w} {a.box.h}\n"
                for a in frame.animals
            )
        )
    names = dict(enumerate(DEER_CLASSES))
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/train\nnames: {names}\n")
    return data


@pytest.fixture(scope="session")
def trained_pt(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A YOLOv8n trained briefly on generated scenes: confident enough that boxes exist to
    compare. Training takes ~2 minutes on 2 cores, so the checkpoint is kept in pytest's
    cache between runs (keyed by the recipe). xdist workers share that cache: one trains
    under an exclusive lock while the others wait, and the file appears only when complete
    (a reader never sees a half-copied checkpoint)."""
    cache = Path(request.config.cache.mkdir("wildloop-trained-detector")) / TRAINED_RECIPE
    cache.mkdir(parents=True, exist_ok=True)
    weights = cache / "last.pt"
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not weights.is_file():
            _train_into(weights, tmp_path_factory.mktemp("train"))
    return weights


def _train_into(weights: Path, root: Path) -> None:
    from wildloop.training.ultralytics_trainer import TrainParams, train

    data = _write_yolo_dataset(root / "dataset")
    params = TrainParams(
        epochs=30, batch=16, imgsz=160, patience=0, device="cpu", workers=0, seed=0, amp=False
    )
    trained = train("yolov8n.yaml", data, root / "runs", params)
    partial = weights.with_suffix(".partial")
    shutil.copy(trained.best, partial)
    partial.replace(weights)


@pytest.fixture(scope="session")
def trained_scene_images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Training-style scene images (the trained detector finds animals in these)."""
    from wildloop.synthetic.scenes import SceneGenerator

    root = tmp_path_factory.mktemp("scene-images")
    frames = SceneGenerator(DEER_CLASSES, seed=1, size=(320, 240)).write(root, 4)
    return [root / f.file_name for f in frames]


@pytest.fixture(scope="session")
def untrained_onnx(untrained_pt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The untrained detector exported once (registering an .onnx needs no export)."""
    from wildloop.inference.ultralytics_adapter import export_onnx

    return export_onnx(untrained_pt, tmp_path_factory.mktemp("onnx") / "untrained.onnx", 160)
