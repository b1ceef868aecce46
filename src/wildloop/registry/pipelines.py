"""Two-stage pipelines in the registry (the kinds are in ``wildloop.domain.model_kinds``).

A pipeline is a version like any other (immutable, named, an alias may point at it) whose
``detector_id`` and ``classifier_id`` fix its two stages for good, so every prediction it
makes records both versions. It stores no file: it runs its stages' files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from wildloop.domain.model_kinds import (
    CLASSIFIER,
    DEFAULT_MIN_BOX_SCORE,
    DETECT,
    PIPELINE,
    default_handoff,
    pipeline_classes,
)
from wildloop.errors import BadInput
from wildloop.project import Project
from wildloop.registry.versions import (
    Provenance,
    get_version,
    project_class_ids,
    record_kind,
)
from wildloop.store.tables import ModelVersion


def check_stages(detector: ModelVersion, classifier: ModelVersion) -> None:
    if detector.task != DETECT or not detector.onnx_sha256:
        raise BadInput(
            f"model {detector.name!r} is not a detector wildloop can run (task {detector.task}); "
            "a pipeline's first stage is a registered or trained detector"
        )
    if classifier.task != CLASSIFIER:
        raise BadInput(
            f"model {classifier.name!r} is not a crop classifier (task {classifier.task}); "
            "train one with `wildloop model train-classifier`"
        )


def register_pipeline(
    project: Project,
    name: str,
    detector_ref: str | int,
    classifier_ref: str | int,
    *,
    min_box_score: float = DEFAULT_MIN_BOX_SCORE,
    handoff: Sequence[str] | None = None,
    source: str = "registered",
    job_id: int | None = None,
    actor_id: int | None = None,
) -> ModelVersion:
    """Record a pipeline pairing two existing versions (no file is stored: it runs theirs)."""
    if not 0.0 <= min_box_score <= 1.0:
        raise BadInput(f"min box score {min_box_score} is not between 0 and 1")
    with project.db.session() as session:
        detector = get_version(session, detector_ref)
        classifier = get_version(session, classifier_ref)
        session.expunge_all()
    check_stages(detector, classifier)
    chosen = list(handoff) if handoff is not None else default_handoff(detector.classes)
    unknown = sorted(set(chosen) - set(detector.classes))
    if unknown:
        raise BadInput(
            f"{', '.join(unknown)} is not a class of {detector.name!r} "
            f"({', '.join(detector.classes)}); hand on only the detector's classes"
        )
    classes = pipeline_classes(detector.classes, classifier.classes, chosen)
    ids = _class_ids(project, detector, classifier, classes)
    params: dict[str, Any] = {
        "detector": detector.name,
        "classifier": classifier.name,
        "min_box_score": min_box_score,
        "handoff": chosen,
        "embedder": classifier.params.get("embedder"),
        "padding": classifier.params.get("padding"),
    }
    return record_kind(
        project,
        name,
        Provenance(source=source, parent_id=detector.id, job_id=job_id, params=params),
        actor_id,
        audit_after={"name": name, "task": PIPELINE, "classes": classes} | params,
        task=PIPELINE,
        classes=classes,
        class_ids=ids,
        imgsz=detector.imgsz,
        detector_id=detector.id,
        classifier_id=classifier.id,
    )


def _class_ids(
    project: Project, detector: ModelVersion, classifier: ModelVersion, classes: list[str]
) -> list[int | None]:
    by_name: dict[str, int | None] = {}
    for version in (detector, classifier):
        ids = project_class_ids(version, project.classes)
        for class_name, class_id in zip(version.classes, ids, strict=True):
            by_name.setdefault(class_name, class_id)
    return [by_name.get(c) for c in classes]


def stages(session: Session, pipeline: ModelVersion) -> tuple[ModelVersion, ModelVersion]:
    """A pipeline's detector and classifier versions."""
    if pipeline.task != PIPELINE or pipeline.detector_id is None or pipeline.classifier_id is None:
        raise BadInput(f"model {pipeline.name!r} is not a pipeline")
    return get_version(session, pipeline.detector_id), get_version(session, pipeline.classifier_id)
