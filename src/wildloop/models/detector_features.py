"""The detector-features model of a registered version: derived once, never the original.

``crops.model = "detector"`` asks the pipeline for crop vectors pooled from the detector's
own feature maps. The registered ONNX artifact is left exactly as stored (its hash is the
version's identity); a copy with the feature maps as extra outputs is derived from the
hash-verified file into the artifact cache, keyed by that hash and ``FEATURES_VERSION``, and
the pipeline runs the copy instead: one forward, boxes and features.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from wildloop.errors import BadInput
from wildloop.inference.crops import CropModelUnavailable
from wildloop.inference.detector_features import (
    FEATURES_VERSION,
    DetectorFeatureEmbedder,
    DetectorFeatureRuntime,
    add_feature_outputs,
)
from wildloop.project import Project
from wildloop.registry.versions import artifact_sha256, verified_artifact
from wildloop.store.tables import ModelVersion

_loaded: dict[tuple[str, int], tuple[DetectorFeatureRuntime, int]] = {}
_lock = threading.Lock()


def detector_key(version_id: int) -> str:
    """The embedder key detector features of version ``version_id`` are stored under."""
    return f"detector:{version_id}"


def features_path(project: Project, version: ModelVersion) -> Path:
    """Where the derived model lives (the local artifact cache: it can be made again)."""
    storage = project.config.storage
    cache = Path(storage.cache_dir).expanduser() if storage.cache_dir else project.root / "cache"
    sha = artifact_sha256(version, "onnx")
    return cache / "derived" / f"{sha}-features-v{FEATURES_VERSION}.onnx"


def features_artifact(project: Project, version: ModelVersion) -> Path:
    """The derived model with feature outputs, made from the verified ONNX on first use."""
    path = features_path(project, version)
    if not path.is_file():
        try:
            add_feature_outputs(verified_artifact(project, version, "onnx"), path)
        except CropModelUnavailable as exc:
            raise BadInput(f"crops.model = detector: {exc}") from None
    return path


def load_feature_detector(
    project: Project, version: ModelVersion, threads: int = 0
) -> tuple[DetectorFeatureRuntime, DetectorFeatureEmbedder]:
    """The runtime giving boxes and feature maps in one forward, and the crop stage's
    embedder handle (key ``detector:<version id>``, dim the maps' channels summed)."""
    path = features_artifact(project, version)
    with _lock:
        cache_key = (str(path), threads)
        if cache_key not in _loaded:
            runtime = DetectorFeatureRuntime(path, threads=threads)
            side = 32 * max(1, (version.imgsz or 640) // 32)
            _, maps = runtime.forward_with_features(np.full((1, side, side, 3), 114, np.uint8))
            _loaded[cache_key] = (runtime, sum(int(m.shape[1]) for m in maps.maps))
        runtime, dim = _loaded[cache_key]
    return runtime, DetectorFeatureEmbedder(detector_key(version.id), dim)
