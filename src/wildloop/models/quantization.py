"""Deriving an int8 version from a registered detector: cheaper CPU workers.

The parent's verified ONNX file is quantised (``wildloop.inference.quantize``) with
calibration images drawn from the project's train split (never the test split, which
judges the result), decoded and letterboxed as the pipeline feeds the model. The result goes
into the content-addressed store and is recorded as its own version: source ``quantized``,
``parent_id`` the source version, the same classes, class ids and input size. It serves
(becomes champion) only once the parity gate (``wildloop.evaluation.parity``) has compared
it with its parent on the frozen test split.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from wildloop.domain.model_kinds import DETECT
from wildloop.domain.paths import map_root, path_from_text
from wildloop.errors import BadInput
from wildloop.inference.decode import Decoder, ImageUnreadable
from wildloop.inference.quantize import METHODS, quantize_onnx
from wildloop.project import Project
from wildloop.registry.versions import (
    QUANTIZED,
    Provenance,
    StoredArtifacts,
    artifact_store,
    check_name_free,
    get_version,
    record_version,
    verified_artifact,
)
from wildloop.store.tables import Media, ModelVersion

MAX_CALIBRATION = 2000


@dataclass(frozen=True)
class QuantizeRequest:
    """A checked request: the parent's id and the new version's name."""

    parent_id: int
    name: str
    method: str
    calibration: int


def check_quantize(
    project: Project, model: str | int, method: str, calibration: int, name: str | None
) -> QuantizeRequest:
    """Refuse what cannot be quantised before a job is queued: an unknown method, a
    calibration count out of range, a version that is not a runnable detector or is itself
    a quantised copy, a name already taken."""
    if method not in METHODS:
        raise BadInput(f"unknown quantisation method {method!r}; use {' or '.join(METHODS)}")
    if not 1 <= calibration <= MAX_CALIBRATION:
        raise BadInput(f"--calibration must be between 1 and {MAX_CALIBRATION} images")
    with project.db.session() as session:
        parent = get_version(session, model)
        if parent.task != DETECT or not parent.onnx_sha256:
            raise BadInput(
                f"model {parent.name!r} is not a detector with an ONNX file; only registered "
                "or trained detectors can be quantised"
            )
        if parent.source == QUANTIZED:
            raise BadInput(
                f"model {parent.name!r} is already quantised; quantise its parent instead"
            )
        parent_id, chosen = parent.id, name or f"{parent.name}-int8"
    check_name_free(project, chosen)
    return QuantizeRequest(parent_id, chosen, method, calibration)


def quantize_version(
    project: Project,
    request: QuantizeRequest,
    *,
    job_id: int | None = None,
    actor_id: int | None = None,
    on_image: Callable[[int], None] | None = None,
) -> ModelVersion:
    """Quantise the parent and record the copy (the one a crashed run of ``job_id`` already
    recorded, if any). ``on_image(n)`` follows the calibration."""
    with project.db.session() as session:
        done = session.scalar(
            select(ModelVersion).where(
                ModelVersion.name == request.name, ModelVersion.job_id == job_id
            )
        )
        if done is not None and job_id is not None:
            session.expunge(done)
            return done
        parent = get_version(session, request.parent_id)
        session.expunge(parent)
    imgsz = parent.imgsz or 640
    source = verified_artifact(project, parent, "onnx")
    images = (
        calibration_images(project, request.calibration, imgsz)
        if request.method == "static"
        else iter(())
    )
    used = 0

    def counted(n: int) -> None:
        nonlocal used
        used = n
        if on_image is not None:
            on_image(n)

    with tempfile.TemporaryDirectory(prefix="wildloop-quantize-") as tmp:
        target = quantize_onnx(
            source, Path(tmp) / "model.int8.onnx", request.method, images, on_image=counted
        )
        sha = artifact_store(project).put(target, "onnx")
    return record_version(
        project,
        request.name,
        StoredArtifacts(sha, "onnx", sha),
        list(parent.classes),
        list(parent.class_ids or [project.classes.id_of(c) for c in parent.classes]),
        imgsz,
        provenance=Provenance(
            source=QUANTIZED,
            parent_id=parent.id,
            snapshot_id=parent.snapshot_id,
            job_id=job_id,
            params={
                "quantization": {
                    "method": request.method,
                    "format": "QDQ" if request.method == "static" else "dynamic",
                    "per_channel": True,
                    "calibration_images": used,
                    "calibration_split": "train",
                    "parent_onnx_sha256": parent.onnx_sha256,
                }
            },
            notes=f"int8 ({request.method}) quantisation of {parent.name}",
        ),
        actor_id=actor_id,
    )


def calibration_images(project: Project, count: int, imgsz: int) -> Iterator[np.ndarray]:
    """Up to ``count`` train-split images spread over the split (every k-th by id), each
    letterboxed to a square ``imgsz`` input; unreadable files are skipped."""
    with project.db.session() as session:
        rows = session.execute(
            select(Media.path)
            .where(Media.split == "train", Media.kind == "image", Media.status == "ok")
            .order_by(Media.id)
        ).all()
    if not rows:
        raise BadInput(
            "the train split holds no images to calibrate with; ingest and split media first "
            "(or use --method dynamic, which needs none)"
        )
    step = max(1, len(rows) // count)
    paths = [map_root(path_from_text(row.path), project.config.storage.media_roots) for row in rows]
    return _letterboxed(paths[::step][:count], Decoder(imgsz, rect=False))


def _letterboxed(paths: list[Path], decoder: Decoder) -> Iterator[np.ndarray]:
    for path in paths:
        try:
            yield decoder.prepare(path).array
        except ImageUnreadable:
            continue
