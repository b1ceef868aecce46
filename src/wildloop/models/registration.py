"""Registering a detector file as a new model version.

A ``.pt`` gives its own class list and image size and is exported to ONNX here, so CPU
workers can run it without torch; an ``.onnx`` from Ultralytics carries its class names in
metadata. Both files go into the content-addressed store before the registry records them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from wildloop.errors import BadInput
from wildloop.inference import onnx_info, ultralytics_adapter
from wildloop.project import Project
from wildloop.registry.versions import (
    Provenance,
    StoredArtifacts,
    artifact_store,
    check_name_free,
    record_version,
)
from wildloop.store.tables import ModelVersion

FORMATS = ("pt", "onnx")


def register_model(
    project: Project,
    path: Path,
    name: str,
    *,
    classes: list[str] | None = None,
    imgsz: int | None = None,
    provenance: Provenance | None = None,
    actor_id: int | None = None,
) -> ModelVersion:
    """Store a detector file (``.pt`` or ``.onnx``) and record it as a new version.

    ``classes`` names the model's outputs in order when the file does not (or overrides
    what it says, one name per output).
    """
    path = ultralytics_adapter.require_weights(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise BadInput(f"{path.name}: wildloop registers .pt (Ultralytics) or .onnx detectors")
    check_name_free(project, name)
    store = artifact_store(project)
    if fmt == "pt":
        info = ultralytics_adapter.read_pt(path)
        if info.task != "detect":
            raise BadInput(f"{path.name} is a {info.task} model; wildloop needs a detector")
        size = imgsz or info.imgsz
        found_classes = info.classes
        chosen = _choose_classes(found_classes, classes, path)
        with tempfile.TemporaryDirectory(prefix="wildloop-register-") as tmp:
            onnx_path = ultralytics_adapter.export_onnx(path, Path(tmp) / "model.onnx", size)
            onnx_sha = store.put(onnx_path, "onnx")
        stored = StoredArtifacts(store.put(path, "pt"), "pt", onnx_sha)
    else:
        meta = onnx_info.read_onnx(path)
        size = imgsz or meta.imgsz or 640
        chosen = _choose_classes(meta.classes or [], classes, path)
        sha = store.put(path, "onnx")
        stored = StoredArtifacts(sha, "onnx", sha)
    return record_version(
        project, name, stored, chosen, size, provenance=provenance, actor_id=actor_id
    )


def _choose_classes(found: list[str], given: list[str] | None, path: Path) -> list[str]:
    if given:
        if found and len(found) != len(given):
            raise BadInput(
                f"{path.name} has {len(found)} classes ({', '.join(found[:10])}) but "
                f"{len(given)} were given; give one name per model output class, in order"
            )
        return list(given)
    if not found:
        raise BadInput(
            f"{path.name} does not say its class names; pass them with --classes a,b,c "
            "(one per model output, in order)"
        )
    return found
