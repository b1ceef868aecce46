"""Registering model versions and finding them again.

A version is immutable once written: its artifact hash, classes and provenance (source,
parent, snapshot, params, metrics, code version) never change. The registry keeps the books
only: reading a model file and exporting it to ONNX is ``wildloop.models.registration``'s job,
so the registry never imports the inference layer.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop import __version__, audit
from wildloop.domain.class_mapping import ClassFit, ClassMapping, fit_classes
from wildloop.domain.classes import ClassMap
from wildloop.domain.model_kinds import CLASSIFIER, REID_EMBEDDER
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.project import Project
from wildloop.registry.artifacts import ArtifactStore, open_store
from wildloop.store.tables import ModelAlias, ModelVersion

QUANTIZED = "quantized"  # an int8 copy of its parent (``parent_id``), judged by parity
SOURCES = ("registered", "trained", "external", QUANTIZED)


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

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise BadInput(f"unknown model source {self.source!r}; use one of {', '.join(SOURCES)}")


@dataclass(frozen=True)
class StoredArtifacts:
    """A version's files in the artifact store: the registered one and its ONNX export
    (the same file when an ``.onnx`` was registered)."""

    sha256: str
    fmt: str  # pt | onnx
    onnx_sha256: str


def artifact_store(project: Project) -> ArtifactStore:
    """The project's artifact store (``storage.artifacts_url``; its own folder by default)."""
    storage = project.config.storage
    cache = Path(storage.cache_dir).expanduser() if storage.cache_dir else project.root / "cache"
    return open_store(storage.artifacts_url, project.path("artifacts"), cache / "artifacts")


def record_version(
    project: Project,
    name: str,
    stored: StoredArtifacts,
    classes: list[str],
    class_ids: list[int],
    imgsz: int,
    *,
    provenance: Provenance | None = None,
    actor_id: int | None = None,
    audit_extra: dict[str, Any] | None = None,
) -> ModelVersion:
    """Record a new immutable version for artifacts already in the project's store.

    ``class_ids`` is the project class id of each model class, in model order. Reading and
    exporting the model file, and fitting its classes to the project's, is the caller's job
    (``wildloop.models``): the registry only keeps the books.
    """
    if len(class_ids) != len(classes):
        raise BadInput(f"{len(classes)} model classes but {len(class_ids)} project class ids")
    return _record(
        project,
        name,
        provenance or Provenance(),
        actor_id,
        audit_after={
            "name": name,
            "sha256": stored.sha256,
            "format": stored.fmt,
            "classes": classes,
            "class_ids": class_ids,
        }
        | (audit_extra or {}),
        task="detect",
        artifact_sha256=stored.sha256,
        artifact_format=stored.fmt,
        onnx_sha256=stored.onnx_sha256,
        classes=classes,
        class_ids=class_ids,
        imgsz=imgsz,
    )


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
    class_ids: list[int] | None = None,
) -> ModelVersion:
    """Store a trained head (e.g. an audio classifier's ``.npz``) and record it as a new
    version; its backend and window settings travel in ``provenance.params``."""
    check_name_free(project, name)
    sha = artifact_store(project).put(path, fmt)
    return _record(
        project,
        name,
        provenance,
        actor_id,
        audit_after={"name": name, "sha256": sha, "format": fmt, "task": task, "classes": classes},
        task=task,
        artifact_sha256=sha,
        artifact_format=fmt,
        classes=list(classes),
        class_ids=class_ids,
    )


class SavableHead(Protocol):
    """A fitted head that writes itself to one file (the audio and crop heads' ``Head``)."""

    @property
    def classes(self) -> tuple[str, ...]: ...

    def save(self, path: Path) -> None: ...


def register_trained_head(
    project: Project,
    head: SavableHead,
    name: str,
    *,
    task: str,
    fmt: str,
    job_id: int,
    snapshot_id: int | None,
    params: dict[str, Any],
    metrics: dict[str, Any],
    notes: str,
    parent_id: int | None = None,
    class_ids: list[int] | None = None,
) -> ModelVersion:
    """Save a head that a training job fitted and register it with its provenance (source
    ``trained``, the job and snapshot it came from): the one step both the audio and the
    crop heads' trainings end with."""
    with tempfile.TemporaryDirectory(prefix="wildloop-head-") as tmp:
        path = Path(tmp) / f"head.{fmt}"
        head.save(path)
        return register_head(
            project,
            path,
            name,
            task=task,
            fmt=fmt,
            classes=list(head.classes),
            class_ids=class_ids,
            provenance=Provenance(
                source="trained",
                parent_id=parent_id,
                snapshot_id=snapshot_id,
                job_id=job_id,
                params=params,
                metrics=metrics,
                notes=notes,
            ),
        )


def record_kind(
    project: Project,
    name: str,
    prov: Provenance,
    actor_id: int | None,
    *,
    audit_after: dict[str, Any],
    **fields: Any,
) -> ModelVersion:
    """Record a version of a kind this module does not know (a pipeline) through the one
    place a version row is written."""
    return _record(project, name, prov, actor_id, audit_after=audit_after, **fields)


def _record(
    project: Project,
    name: str,
    prov: Provenance,
    actor_id: int | None,
    *,
    audit_after: dict[str, Any],
    **fields: Any,
) -> ModelVersion:
    """Insert one version (the kind's own ``fields`` plus its provenance) with its audit
    entry, in one transaction: the one place a version row is written."""
    check_name_free(project, name)
    version = ModelVersion(
        name=name,
        source=prov.source,
        parent_id=prov.parent_id,
        snapshot_id=prov.snapshot_id,
        job_id=prov.job_id,
        code_version=prov.code_version or f"wildloop {__version__}",
        params=prov.params or {},
        metrics=prov.metrics or {},
        notes=prov.notes,
        **fields,
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
            after=audit_after,
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
        "task": version.task,
        "source": version.source,
        "format": version.artifact_format,
        "sha256": version.artifact_sha256,
        "onnx_sha256": version.onnx_sha256,
        "classes": version.classes,
        "class_ids": version.class_ids,
        "imgsz": version.imgsz,
        "parent_id": version.parent_id,
        "detector_id": version.detector_id,
        "classifier_id": version.classifier_id,
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


def project_class_ids(version: ModelVersion, classes: ClassMap) -> list[int | None]:
    """The project class id of each model class index (None: not a project class).

    The ids fixed at registration when the version has them (a class removed from the project
    since reads as None), else by name (external versions and those registered before ids
    were stored). Processing and MegaDetector import write predictions' class ids through
    this (evaluation and the review screens read those ids); export and promotion use it too.
    """
    if version.class_ids is None:
        return classes.ids_of(version.classes)
    known = {c.id for c in classes}
    return [i if i in known else None for i in version.class_ids]


def class_fit(version: ModelVersion, classes: ClassMap) -> ClassFit:
    """How the version's classes line up with the project's now (promotion checks this)."""
    ids = project_class_ids(version, classes)
    rename = {
        name: classes.name_of(i)
        for name, i in zip(version.classes, ids, strict=True)
        if i is not None
    }
    return fit_classes(version.classes, classes, ClassMapping(rename))


def require_fit(version: ModelVersion, classes: ClassMap) -> None:
    """Refuse to make champion a version whose classes the project cannot read (the same
    message as at registration), so no screen fills with "not a project class" boxes, or a
    crop classifier alone (it names boxes but finds none: a pipeline pairs it)."""
    if version.task == REID_EMBEDDER:
        raise BadInput(
            f"model {version.name!r} is a re-ID embedder: it compares animals, it finds none. "
            "Its gate is `wildloop individuals evaluate-embedder --promote`"
        )
    if version.task == CLASSIFIER:
        raise BadInput(
            f"model {version.name!r} is a crop classifier: it names boxes but finds none. "
            "Pair it with a detector (`wildloop model pipeline DETECTOR CLASSIFIER`) and "
            "promote the pipeline"
        )
    class_fit(version, classes).check(
        f"model {version.name!r}",
        "It cannot be champion. Register the file again with --map 'theirs=ours' or --add-classes.",
        lacking=True,
    )


def artifact_sha256(version: ModelVersion, fmt: str) -> str:
    """The hash of the version's file in ``fmt`` (``pt`` or ``onnx``); NotFound says why
    there is none."""
    sha = version.onnx_sha256 if fmt == "onnx" else version.artifact_sha256
    if fmt == "pt" and version.artifact_format != "pt":
        sha = None
    if sha is None and fmt == version.artifact_format:  # stored as is (a YOLO-cls export)
        sha = version.artifact_sha256
    if sha is None:
        raise NotFound(
            f"model {version.name!r} has no {fmt} artifact"
            + (
                " (it is an external model: its predictions were imported)"
                if version.source == "external"
                else ""
            )
        )
    return sha


def verified_artifact(project: Project, version: ModelVersion, fmt: str) -> Path:
    """The version's file in ``fmt`` (``pt`` or ``onnx``), hash-checked just now."""
    return artifact_store(project).verify(artifact_sha256(version, fmt), fmt)


def check_name_free(project: Project, name: str) -> None:
    """Refuse an empty name or one a version already has (names identify versions)."""
    if not name.strip():
        raise BadInput("a model version needs a name")
    with project.db.session() as session:
        if session.scalar(select(ModelVersion.id).where(ModelVersion.name == name)) is not None:
            raise Conflict(f"a model version named {name!r} already exists; choose another name")
