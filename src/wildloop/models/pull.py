"""The model a field device pulls: one version's ONNX file, named by its sha256.

A device asks for ``champion`` (or a version's id or name) and gets the ONNX bytes the
registry recorded, with their sha256 as the ETag, so it downloads a model only when the
champion moved. A version that is not one ONNX file is refused with the reason: a pipeline
(its classes come from the crop classifier, which a device running the detector alone would
never apply), an audio head (a head on an embedder) or an external model (no file at all).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wildloop.domain.model_kinds import DETECT, PIPELINE
from wildloop.errors import Conflict
from wildloop.project import Project
from wildloop.registry.versions import artifact_store, get_version

ONNX = "onnx"


@dataclass(frozen=True)
class DeviceModel:
    version_id: int
    name: str
    sha256: str
    classes: list[str]


def device_model(project: Project, ref: str = "champion") -> DeviceModel:
    """The version ``ref`` names, if it is one ONNX file a device can run; Conflict says why
    not otherwise. Reads only the registry: answering "unchanged" never touches the file."""
    with project.db.session() as session:
        version = get_version(session, ref)
        if version.task == PIPELINE:
            raise Conflict(
                f"model {version.name!r} is a pipeline (a detector and a crop classifier); a "
                "device gets one ONNX file, and the detector alone would report its own "
                "classes, not the pipeline's. Pull the detector by its name or id if that is "
                "what the device should run"
            )
        if version.task != DETECT or version.onnx_sha256 is None:
            raise Conflict(
                f"model {version.name!r} ({version.task}, {version.source}) has no ONNX file a "
                "device can run"
            )
        return DeviceModel(version.id, version.name, version.onnx_sha256, list(version.classes))


def device_model_file(project: Project, model: DeviceModel) -> Path:
    """The model's ONNX file, its sha256 checked just now (a changed file is refused)."""
    return artifact_store(project).verify(model.sha256, ONNX)
