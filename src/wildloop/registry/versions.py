"""Registering model versions and finding them again.

A version is immutable once written: its artifact hash, classes and provenance (source,
parent, snapshot, params, metrics, code version) never change. Every registered ``.pt`` is
also exported to ONNX at registration so CPU workers can run it without torch.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop import __version__, audit
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.project import Project
from wildloop.registry.artifacts import ArtifactStore
from wildloop.store.tables import ModelAlias, ModelVersion

SOURCES = ("registered", "trained", "external")
FORMATS = ("pt", "onnx")


@dataclass(frozen=True)
class Provenance:
    """Where a version came from; every field is optional except what the caller knows."""

    source: str = "registered"
    parent_id: int | None = None
    snapshot_id: int | None = None
    job_id: int | None = None
    params: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    notes: str | None = None
    code_version: str | None = None


def artifact_store(project: Project) -> ArtifactStore:
    return ArtifactStore(project.path("artifacts"))


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

    A ``.pt`` gives its own class list and is exported to ONNX; an ``.onnx`` from Ultralytics
    carries its class names in metadata, else ``classes`` must be given.
    """
    from wildloop.inference import onnx_info, ultralytics_adapter

    prov = provenance or Provenance()
    if prov.source not in SOURCES:
        raise BadInput(f"unknown model source {prov.source!r}; use one of {', '.join(SOURCES)}")
    path = ultralytics_adapter.require_weights(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise BadInput(f"{path.name}: wildloop registers .pt (Ultralytics) or .onnx detectors")
    _check_name_free(project, name)
    store = artifact_store(project)
    if fmt == "pt":
        info = ultralytics_adapter.read_pt(path)
        if info.task != "detect":
            raise BadInput(f"{path.name} is a {info.task} model; wildloop needs a detector")
        size = imgsz or info.imgsz
        found_classes = info.classes
        with tempfile.TemporaryDirectory(prefix="wildloop-register-") as tmp:
            onnx_path = ultralytics_adapter.export_onnx(path, Path(tmp) / "model.onnx", size)
            onnx_sha = store.put(onnx_path, "onnx")
        sha = store.put(path, "pt")
    else:
        meta = onnx_info.read_onnx(path)
        size = imgsz or meta.imgsz or 640
        found_classes = meta.classes or []
        sha = onnx_sha = store.put(path, "onnx")
    chosen = _choose_classes(found_classes, classes, path)
    version = ModelVersion(
        name=name,
        task="detect",
        source=prov.source,
        artifact_sha256=sha,
        artifact_format=fmt,
        onnx_sha256=onnx_sha,
        classes=chosen,
        imgsz=size,
        parent_id=prov.parent_id,
        snapshot_id=prov.snapshot_id,
        job_id=prov.job_id,
        code_version=prov.code_version or f"wildloop {__version__}",
        params=prov.params or {},
        metrics=prov.metrics or {},
        notes=prov.notes,
    )
    with project.db.session() as session:
        session.add(version)
        session.flush()
        audit.record(
            session,
            actor_id=actor_id,
            action="model.register",
            entity="model_version",
            entity_id=version.id,
            after={"name": name, "sha256": sha, "format": fmt, "classes": chosen},
        )
    return version


def register_head(
    project: Project,
    path: Path,
    name: str,
    *,
    task: str,
    fmt: str,
    classes: list[str],
    provenance: Provenance,
    actor_id: int | None = None,
) -> ModelVersion:
    """Store a trained head (e.g. an audio classifier's ``.npz``) and record it as a new
    version; its backend and window settings travel in ``provenance.params``."""
    _check_name_free(project, name)
    sha = artifact_store(project).put(path, fmt)
    version = ModelVersion(
        name=name,
        task=task,
        source=provenance.source,
        artifact_sha256=sha,
        artifact_format=fmt,
        classes=list(classes),
        parent_id=provenance.parent_id,
        snapshot_id=provenance.snapshot_id,
        job_id=provenance.job_id,
        code_version=provenance.code_version or f"wildloop {__version__}",
        params=provenance.params or {},
        metrics=provenance.metrics or {},
        notes=provenance.notes,
    )
    with project.db.session() as session:
        session.add(version)
        session.flush()
        audit.record(
            session,
            actor_id=actor_id,
            action="model.register",
            entity="model_version",
            entity_id=version.id,
            after={"name": name, "sha256": sha, "format": fmt, "task": task, "classes": classes},
        )
    return version


def register_external(
    session: Session,
    name: str,
    classes: list[str],
    *,
    notes: str | None = None,
    params: dict[str, Any] | None = None,
    actor_id: int | None = None,
) -> ModelVersion:
    """Record a model that ran elsewhere (e.g. MegaDetector) and has no artifact here."""
    if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
        raise Conflict(f"a model version named {name!r} already exists; choose another name")
    version = ModelVersion(
        name=name,
        task="detect",
        source="external",
        classes=classes,
        params=params or {},
        metrics={},
        notes=notes,
        code_version=f"wildloop {__version__}",
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        actor_id=actor_id,
        action="model.register",
        entity="model_version",
        entity_id=version.id,
        after={"name": name, "source": "external", "classes": classes},
    )
    return version


def get_version(session: Session, ref: str | int) -> ModelVersion:
    """A version by id, by alias (``champion``/``challenger``) or by name."""
    version: ModelVersion | None = None
    text = str(ref).strip()
    if text.isdigit():
        version = session.get(ModelVersion, int(text))
    if version is None:
        alias = session.get(ModelAlias, text)
        if alias is not None:
            version = session.get(ModelVersion, alias.model_version_id)
    if version is None:
        version = session.scalar(select(ModelVersion).where(ModelVersion.name == text))
    if version is None:
        hint = (
            "no model has been promoted to champion yet; run `wildloop model promote ID`"
            if text in ("champion", "challenger")
            else "see `wildloop model list`"
        )
        raise NotFound(f"no model version {text!r}: {hint}")
    return version


def list_versions(session: Session) -> list[dict[str, Any]]:
    """Every version with its aliases, newest first, as JSON-ready dicts."""
    aliases: dict[int, list[str]] = {}
    for alias in session.scalars(select(ModelAlias)):
        aliases.setdefault(alias.model_version_id, []).append(alias.alias)
    versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id.desc()))
    return [describe_version(v, aliases.get(v.id, [])) for v in versions]


def describe_version(version: ModelVersion, aliases: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": version.id,
        "name": version.name,
        "source": version.source,
        "format": version.artifact_format,
        "sha256": version.artifact_sha256,
        "onnx_sha256": version.onnx_sha256,
        "classes": version.classes,
        "imgsz": version.imgsz,
        "parent_id": version.parent_id,
        "snapshot_id": version.snapshot_id,
        "job_id": version.job_id,
        "code_version": version.code_version,
        "params": version.params,
        "metrics": version.metrics,
        "notes": version.notes,
        "retired": version.retired,
        "created_at": version.created_at.isoformat() if version.created_at else None,
        "aliases": sorted(aliases or []),
    }


def verified_artifact(project: Project, version: ModelVersion, fmt: str) -> Path:
    """The version's file in ``fmt`` (``pt`` or ``onnx``), hash-checked just now."""
    sha = version.onnx_sha256 if fmt == "onnx" else version.artifact_sha256
    if fmt == "pt" and version.artifact_format != "pt":
        sha = None
    if sha is None:
        raise NotFound(
            f"model {version.name!r} has no {fmt} artifact"
            + (
                " (it is an external model: its predictions were imported)"
                if version.source == "external"
                else ""
            )
        )
    return artifact_store(project).verify(sha, fmt)


def _check_name_free(project: Project, name: str) -> None:
    if not name.strip():
        raise BadInput("a model version needs a name")
    with project.db.session() as session:
        if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
            raise Conflict(f"a model version named {name!r} already exists; choose another name")


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
