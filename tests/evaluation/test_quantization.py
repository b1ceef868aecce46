"""int8 copies of a trained detector: derived through a job, recorded with their parent,
run through the one pipeline, and allowed to serve only after the parity gate against the
parent on the frozen test split (``gate.parity_tolerance``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.engine import champion, invoke, register
from tests.support.loop import ingest_frames, label_frames
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.errors import BadInput, Conflict
from wildloop.evaluation.parity import check_parity, latest_parity
from wildloop.evaluation.promotion import make_first_champion, promote_challenger
from wildloop.inference.quantize import quantize_onnx
from wildloop.project import Project
from wildloop.registry.versions import (
    QUANTIZED,
    Provenance,
    StoredArtifacts,
    artifact_store,
    get_version,
    record_version,
)
from wildloop.store.tables import AuditEntry, Job, Media, PredictionSet
from wildloop.web.models_view import models_overview

pytestmark = pytest.mark.xdist_group("trained-detector")


@pytest.fixture
def labelled(project: Project, scenes, tmp_path: Path, trained_pt: Path) -> Project:
    """Labelled scenes with a frozen test snapshot (about 45 images: fewer make one box's
    IoU swing mAP50-95 by more than the tolerance); the trained detector ``v1`` is champion."""
    frames = scenes(bursts=60, seed=21)
    label_frames(project, frames, ingest_frames(project, frames, tmp_path / "scenes"))
    create_snapshot(project, "test")
    register(project, trained_pt, "v1", imgsz=160, promote=True)
    project.config.triggers.reprocess_after_promotion = False
    project.config.evaluation.bootstrap_samples = 0
    return project


def damaged_copy(project: Project, source_onnx: Path, tmp_path: Path) -> int:
    """A quantised copy of ``v1`` that is really an int8 quantisation of other weights (an
    untrained detector): a deliberately broken quantisation the parity gate must catch."""
    target = quantize_onnx(source_onnx, tmp_path / "broken.int8.onnx", "dynamic")
    sha = artifact_store(project).put(target, "onnx")
    with project.db.session() as session:
        parent = get_version(session, "v1")
        classes, class_ids, parent_id = list(parent.classes), parent.class_ids, parent.id
    assert class_ids is not None
    version = record_version(
        project,
        "v1-broken-int8",
        StoredArtifacts(sha, "onnx", sha),
        classes,
        class_ids,
        160,
        provenance=Provenance(source=QUANTIZED, parent_id=parent_id),
    )
    return version.id


def test_quantize_derives_a_version_that_passes_parity_and_serves(labelled: Project) -> None:
    project = labelled
    out = invoke(project, "model", "quantize", "v1", "--calibration", "32")
    assert "registered v1-int8" in out
    assert "parity gate passes" in out, out
    with project.db.session() as session:
        parent, derived = get_version(session, "v1"), get_version(session, "v1-int8")
        train_images = session.scalar(select(Media.id).where(Media.split == "train").limit(1))
        job = session.scalars(select(Job).where(Job.kind == "quantize")).one()
        evaluated = set(
            session.scalars(
                select(PredictionSet.media_id).where(PredictionSet.model_version_id == derived.id)
            )
        )
    assert train_images is not None
    assert derived.parent_id == parent.id and derived.source == QUANTIZED
    assert derived.classes == parent.classes and derived.class_ids == parent.class_ids
    assert derived.imgsz == parent.imgsz and derived.job_id == job.id
    assert derived.onnx_sha256 != parent.onnx_sha256
    quant = derived.params["quantization"]
    assert quant["method"] == "static" and quant["calibration_images"] == 32
    # The stored file is the registered bytes (content-addressed, checked on load).
    stored = artifact_store(project).verify(derived.onnx_sha256 or "", "onnx")
    assert (
        stored.stat().st_size
        < 0.5 * artifact_store(project).verify(parent.onnx_sha256 or "", "onnx").stat().st_size
    )
    # Its test predictions came through the one pipeline, as a predict job.
    test_ids = {
        e.media_id for e in load_snapshot(project, job.result["parity"]["snapshot"]).entries
    }
    assert evaluated == test_ids
    parity = job.result["parity"]
    change = parity["derived"]["map50_95"] - parity["parent"]["map50_95"]
    assert parity["passed"] and change >= -project.config.gate.parity_tolerance
    assert f"{parity['derived']['map50_95']:.4f}" in parity["reasons"][0]
    shown = json.loads(invoke(project, "model", "show", "v1-int8"))
    assert shown["parent_id"] == parent.id and shown["parity"]["passed"] is True
    listed = {v["name"]: v for v in models_overview(project).versions}  # the Models page
    assert listed["v1-int8"]["parent"] == "v1" and listed["v1-int8"]["parity"]["passed"]

    # Promotion runs the same parity gate and swaps the parent out by compare-and-swap.
    result = promote_challenger(project, "v1-int8", figures=False)
    assert result.promoted and not result.forced
    assert result.comparison.decision.rule == "parity"
    assert result.previous_champion_id == parent.id
    assert champion(project) == derived.id


def test_a_broken_quantisation_is_refused_with_its_figures(
    labelled: Project, untrained_onnx: Path, tmp_path: Path
) -> None:
    project = labelled
    broken = damaged_copy(project, untrained_onnx, tmp_path)
    comparison = check_parity(project, broken)
    assert comparison["decision"]["rule"] == "parity"
    assert not comparison["decision"]["promote"]
    with project.db.session() as session:
        verdict = latest_parity(session, broken)
    assert verdict is not None and verdict["passed"] is False
    result = promote_challenger(project, "v1-broken-int8", figures=False)
    assert not result.promoted
    reason = result.reasons[0]
    derived = result.comparison.challenger.metrics["map50_95"]
    parent = result.comparison.champion.metrics["map50_95"] if result.comparison.champion else None
    assert parent is not None and parent - derived > project.config.gate.parity_tolerance
    assert f"{derived:.4f}" in reason and f"{parent:.4f}" in reason
    assert "below the parity tolerance" in reason
    assert champion(project) == get_version_id(project, "v1")
    with project.db.session() as session:
        refused = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.entity == "model_version", AuditEntry.entity_id == str(broken)
            )
        ).all()
    assert refused == ["model.register", "model.parity.refuse", "model.gate.refuse"]


def test_a_quantised_copy_is_never_the_first_champion(
    project: Project, trained_pt: Path, untrained_onnx: Path, tmp_path: Path
) -> None:
    register(project, trained_pt, "v1", imgsz=160, promote=False)
    copy = damaged_copy(project, untrained_onnx, tmp_path)
    with project.db.session() as session, pytest.raises(BadInput, match="quantised copy"):
        make_first_champion(session, copy, None, classes=project.classes)
    with pytest.raises(BadInput, match="Make the parent champion first"):
        invoke(project, "model", "promote", "v1-broken-int8")
    assert champion(project) is None


def test_a_quantised_copy_replaces_only_its_parent(
    labelled: Project, untrained_onnx: Path, untrained_pt: Path, tmp_path: Path
) -> None:
    project = labelled
    copy = damaged_copy(project, untrained_onnx, tmp_path)
    other = register(project, untrained_pt, "other", imgsz=160, promote=True)
    with pytest.raises(Conflict, match="can only replace its own parent"):
        promote_challenger(project, copy, figures=False)
    assert champion(project) == other.id
    with project.db.session() as session:
        gated = session.scalars(
            select(AuditEntry.action).where(AuditEntry.action.like("model.gate.%"))
        ).all()
    assert gated == []  # refused before any scoring


def get_version_id(project: Project, name: str) -> int:
    with project.db.session() as session:
        return get_version(session, name).id
