"""Registering a detector file as a new model version.

A ``.pt`` gives its own class list and image size and is exported to ONNX here, so CPU
workers can run it without torch; an ``.onnx`` from Ultralytics carries its class names in
metadata. Both files go into the content-addressed store before the registry records them.

The model's classes must be the project's: a class the project does not have is refused
before anything is written (``--map theirs=ours`` renames, ``--add-classes`` adds it), and
the project class id of every model class is stored with the version, so every reader of
its predictions maps them the same way. Project classes the model lacks are allowed (a model
may cover a subset); ``missing_classes`` names them so the caller can warn.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from wildloop.domain.class_mapping import MAP_HINT, ClassMapping, fit_classes
from wildloop.errors import BadInput
from wildloop.inference import onnx_info, ultralytics_adapter
from wildloop.project import Project
from wildloop.registry.versions import (
    Provenance,
    StoredArtifacts,
    artifact_store,
    check_name_free,
    class_fit,
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
    mapping: ClassMapping | None = None,
    class_ids: list[int] | None = None,
    provenance: Provenance | None = None,
    actor_id: int | None = None,
) -> ModelVersion:
    """Store a detector file (``.pt`` or ``.onnx``) and record it as a new version.

    ``classes`` names the model's outputs in order when the file does not (or overrides
    what it says, one name per output). ``mapping`` reads them as project classes; a caller
    that already knows the project class ids (training, from its snapshot) passes
    ``class_ids`` instead.
    """
    mapping = mapping or ClassMapping()
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
        chosen = _choose_classes(info.classes, classes, path)
        _check_fit(project, chosen, mapping, class_ids, path)
        with tempfile.TemporaryDirectory(prefix="wildloop-register-") as tmp:
            onnx_path = ultralytics_adapter.export_onnx(path, Path(tmp) / "model.onnx", size)
            onnx_sha = store.put(onnx_path, "onnx")
        stored = StoredArtifacts(store.put(path, "pt"), "pt", onnx_sha)
    else:
        meta = onnx_info.read_onnx(path)
        size = imgsz or meta.imgsz or 640
        chosen = _choose_classes(meta.classes or [], classes, path)
        _check_fit(project, chosen, mapping, class_ids, path)
        sha = store.put(path, "onnx")
        stored = StoredArtifacts(sha, "onnx", sha)
    if class_ids is None:
        fit = fit_classes(chosen, project.classes, mapping)
        if mapping.add_classes:
            project.add_classes(t for t in fit.targets if t in fit.unknown)
        class_ids = [project.classes.id_of(t) for t in fit.targets]
    return record_version(
        project,
        name,
        stored,
        chosen,
        class_ids,
        size,
        provenance=provenance,
        actor_id=actor_id,
        audit_extra={"class_map": dict(mapping.rename)} if mapping.rename else None,
    )


def missing_classes(project: Project, version: ModelVersion) -> list[str]:
    """Project classes the version never predicts (worth a warning, not a refusal)."""
    return list(class_fit(version, project.classes).missing)


def _check_fit(
    project: Project,
    classes: list[str],
    mapping: ClassMapping,
    class_ids: list[int] | None,
    path: Path,
) -> None:
    """Refuse, before anything is stored, classes the project cannot read."""
    if class_ids is not None:
        if len(class_ids) != len(classes):
            raise BadInput(
                f"{path.name}: {len(classes)} model classes but {len(class_ids)} class ids"
            )
        return
    fit = fit_classes(classes, project.classes, mapping)
    if fit.unused:
        raise BadInput(
            f"--map names classes the model {path.name} does not have: "
            f"{', '.join(fit.unused)}. Model classes: {', '.join(classes)}"
        )
    fit.check(f"the model {path.name}", f"{MAP_HINT} Nothing was registered.", lacking=True)


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
