"""Which re-ID embedder serves suggestions, the candidates, and a user's own re-ID model.

Three kinds can serve: the **baseline** (the configured crop embedder's plain vectors, the
bundled MobileNet by default; no version stands for it), a **projection** of those vectors
fine-tuned by wildloop (``npz``), or a user's own **model** (``.onnx``/``.tflite``)
registered like any model (task ``reid-embedder``) that embeds the crops itself through the
crop embedders' runtime (``inference.crops``), into vectors stored under its own key. The
``reid-champion`` alias says which serves; none means the baseline. The gate's figures of
each candidate are read from its last gate decision in the audit trail (nothing is
computed here: requests only read).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.crops.embedder import crop_embedder_key, project_crop_embedder
from wildloop.domain.model_kinds import REID_EMBEDDER, REID_MODEL_FORMATS
from wildloop.errors import BadInput
from wildloop.individuals.projection import REID_ALIAS, serving_version
from wildloop.inference.crops import CropEmbedder, CropModelUnavailable, load_crop_embedder
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.artifacts import sha256_file
from wildloop.registry.versions import Provenance, artifact_store, get_version, register_head
from wildloop.store.tables import AuditEntry, ModelVersion
from wildloop.users.roles import Actor, require_admin

BASELINE = "baseline"
PROJECTION = "projection"
MODEL = "model"
GATE_ACTIONS = ("model.gate.pass", "model.gate.refuse", "model.gate.override")

_loaded: dict[str, CropEmbedder] = {}
_lock = threading.Lock()


def kind_of(version: ModelVersion | None) -> str:
    if version is None:
        return BASELINE
    return MODEL if version.artifact_format in REID_MODEL_FORMATS else PROJECTION


def model_key(fmt: str, sha256: str) -> str:
    """The key a user's model stores vectors under: the crop embedders' content key."""
    return f"{fmt}:{sha256[:12]}"


def register_reid_model(
    project: Project, path: Path, name: str, actor_id: int | None = None
) -> ModelVersion:
    """Register a user's ``.onnx``/``.tflite`` re-ID embedder (crops in, one vector out).
    Its crops are embedded by a job (``individual-embed`` with its key); it serves only
    once the gate (or an admin's override) promotes it."""
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in REID_MODEL_FORMATS:
        raise BadInput(f"{path.name}: a re-ID embedder is a .onnx or .tflite image model")
    if not path.is_file():
        raise BadInput(f"no such file: {path}")
    key = model_key(fmt, sha256_file(path))
    return register_head(
        project,
        path,
        name,
        task=REID_EMBEDDER,
        fmt=fmt,
        classes=[],
        provenance=Provenance(
            params={"embedder": key, "kind": MODEL, "file": path.name},
            notes="a user-supplied re-ID embedder: crops in, vectors out",
        ),
        actor_id=actor_id,
    )


def embedder_for_key(project: Project, key: str) -> CropEmbedder:
    """The model that computes vectors of ``key``: the configured crop embedder, or a
    registered re-ID model (hash-checked, loaded once per process)."""
    if key == crop_embedder_key(project):
        return project_crop_embedder(project)
    with project.db.session() as session:
        versions = session.scalars(
            select(ModelVersion).where(
                ModelVersion.task == REID_EMBEDDER,
                ModelVersion.artifact_format.in_(REID_MODEL_FORMATS),
            )
        ).all()
        found = [v for v in versions if v.params.get("embedder") == key]
    if not found or found[0].artifact_sha256 is None or found[0].artifact_format is None:
        raise BadInput(f"no registered re-ID embedder computes {key} vectors")
    version = found[0]
    with _lock:
        if key not in _loaded:
            sha, fmt = str(version.artifact_sha256), str(version.artifact_format)
            path = artifact_store(project).verify(sha, fmt)
            try:
                _loaded[key] = load_crop_embedder(str(path), project.config.crops.threads)
            except CropModelUnavailable as exc:
                raise BadInput(f"re-ID embedder {version.name!r}: {exc}") from None
        return _loaded[key]


def model_embedder_key(session: Session, model: str | int) -> str:
    """The vector key of a registered re-ID model, by id or name."""
    version = get_version(session, model)
    if version.task != REID_EMBEDDER:
        raise BadInput(f"{version.name!r} is not a re-ID embedder")
    if kind_of(version) != MODEL:
        raise BadInput(f"{version.name!r} is a projection of crop vectors, not a re-ID model")
    return str(version.params["embedder"])


def _figures(side: dict[str, Any] | None) -> dict[str, Any] | None:
    if not side:
        return None
    return {"top1": side.get("top1"), "top5": side.get("top5"), "queries": side.get("queries")}


def embedder_status(session: Session, project: Project) -> dict[str, Any]:
    """What serves now and every candidate with its last gate figures (top-1/top-5 over
    the frozen test individuals, against what served then)."""
    serving = serving_version(session)
    versions = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.task == REID_EMBEDDER, ModelVersion.retired.is_(False))
        .order_by(ModelVersion.id.desc())
    ).all()
    gates = session.execute(
        select(AuditEntry.entity_id, AuditEntry.action, AuditEntry.after, AuditEntry.at)
        .where(AuditEntry.entity == "model_version", AuditEntry.action.in_(GATE_ACTIONS))
        .order_by(AuditEntry.id)
    ).all()
    ids = {str(v.id) for v in versions}
    last: dict[str, Any] = {}
    baseline: dict[str, Any] | None = None
    for entity_id, action, after, at in gates:
        if entity_id not in ids or not isinstance(after, dict) or "test_individuals" not in after:
            continue
        last[entity_id] = (action, after, at)
        if after.get("baseline"):
            baseline = _figures(after["baseline"])
    candidates = []
    for v in versions:
        action, after, at = last.get(str(v.id), (None, None, None))
        test = v.metrics.get("test") if isinstance(v.metrics, dict) else None
        candidates.append(
            {
                "model_version_id": v.id,
                "name": v.name,
                "kind": kind_of(v),
                "format": v.artifact_format,
                "embedder": v.params.get("embedder"),
                "serving": serving is not None and serving.id == v.id,
                "created_at": v.created_at.isoformat() if v.created_at else None,
                # The last gate's figures; a trained projection also has its training's.
                "gate": None
                if after is None
                else {
                    "decision": action.rsplit(".", 1)[-1],
                    "at": at.isoformat() if at else None,
                    "test_individuals": after.get("test_individuals"),
                    "challenger": _figures(after.get("challenger")),
                    "against": _figures(after.get("champion") or after.get("baseline")),
                    "against_name": (after.get("champion") or after.get("baseline") or {}).get(
                        "name"
                    ),
                    "interval": after.get("interval"),
                    "reasons": (after.get("decision") or {}).get("reasons", []),
                },
                "training_test": _figures(test) if isinstance(test, dict) else None,
            }
        )
    crop_key = crop_embedder_key(project)
    return {
        "serving": {
            "kind": kind_of(serving),
            "model_version_id": serving.id if serving is not None else None,
            "name": serving.name if serving is not None else f"crop vectors ({crop_key})",
            "embedder": str(serving.params["embedder"])
            if serving is not None and kind_of(serving) == MODEL
            else crop_key,
        },
        "crop_embedder": crop_key,
        "baseline": {"name": f"crop vectors ({crop_key})", "gate": baseline},
        "candidates": candidates,
    }


def roll_back_to_baseline(
    session: Session, actor: Actor, expected: int | None = None
) -> int | None:
    """Remove ``reid-champion``: the plain crop vectors serve again (audited; admins only).
    With ``expected`` only if that version still serves. Returns the version that served."""
    require_admin(actor, "change the re-ID embedder")
    return aliases.clear_alias(
        session, REID_ALIAS, actor.id, "rolled back to the baseline", only_if=expected
    )
