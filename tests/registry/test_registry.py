"""Registry: content-addressed artifacts, hash checks before loads, atomic alias moves."""

from __future__ import annotations

import itertools
import stat
import threading
from pathlib import Path

import pytest
from sqlalchemy import select

from wildloop.errors import BadInput, Conflict, IntegrityError, NotFound, Unavailable
from wildloop.models.registration import register_model
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.artifacts import sha256_file
from wildloop.registry.versions import Provenance, get_version, list_versions, verified_artifact
from wildloop.store.tables import AuditEntry, ModelAlias


def test_register_pt_stores_both_formats_read_only(project: Project, untrained_pt: Path) -> None:
    version = register_model(
        project,
        untrained_pt,
        "v1",
        provenance=Provenance(notes="first", params={"epochs": 0}, metrics={"map50": 0.1}),
    )
    assert version.classes == ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
    assert version.artifact_sha256 == sha256_file(untrained_pt)
    assert version.onnx_sha256 and version.onnx_sha256 != version.artifact_sha256
    pt = verified_artifact(project, version, "pt")
    onnx = verified_artifact(project, version, "onnx")
    assert pt.is_relative_to(project.root / "artifacts")
    assert pt.name == f"{version.artifact_sha256}.pt"
    assert not (pt.stat().st_mode & stat.S_IWUSR)
    assert sha256_file(onnx) == version.onnx_sha256
    with project.db.session() as session:
        listed = list_versions(session)
    assert listed[0]["name"] == "v1" and listed[0]["metrics"] == {"map50": 0.1}
    assert listed[0]["code_version"].startswith("wildloop")


def test_same_name_twice_is_a_conflict(project: Project, untrained_onnx: Path) -> None:
    register_model(project, untrained_onnx, "v1")
    with pytest.raises(Conflict, match="already exists"):
        register_model(project, untrained_onnx, "v1")


def test_tampered_artifact_is_refused(project: Project, untrained_pt: Path) -> None:
    version = register_model(project, untrained_pt, "v1")
    onnx = verified_artifact(project, version, "onnx")
    onnx.chmod(0o644)
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="modified on disk"):
        verified_artifact(project, version, "onnx")
    onnx.unlink()
    with pytest.raises(NotFound, match="missing"):
        verified_artifact(project, version, "onnx")


def test_missing_weights_explain_how_to_provide_them(project: Project, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="never downloads"):
        register_model(project, tmp_path / "yolov8n.pt", "base")


def test_onnx_registers_with_the_class_names_it_carries(
    project: Project, untrained_onnx: Path
) -> None:
    version = register_model(project, untrained_onnx, "v1-onnx")
    assert version.classes == ["buck", "doe", "fawn", "cattle", "pig", "raccoon"]
    assert version.artifact_format == "onnx" and version.imgsz == 160
    assert version.onnx_sha256 == version.artifact_sha256
    with pytest.raises(BadInput, match="6 classes"):
        register_model(project, untrained_onnx, "v1-bad", classes=["a", "b"])


def test_promote_and_rollback_walk_the_audit_trail(project: Project, untrained_onnx: Path) -> None:
    v1 = register_model(project, untrained_onnx, "v1")
    v2 = register_model(project, untrained_onnx, "v2")
    v3 = register_model(project, untrained_onnx, "v3")
    admin = project.author("admin")
    with project.db.session() as session, pytest.raises(NotFound, match="no model has been"):
        get_version(session, "champion")
    for version in (v1, v2, v3):
        with project.db.session() as session:
            aliases.promote(session, version.id, admin, reason=f"better: {version.name}")
    with project.db.session() as session:
        assert get_version(session, "champion").id == v3.id
        move = aliases.rollback(session, admin, reason="v3 misses fawns")
        assert (move.previous_id, move.version_id) == (v3.id, v2.id)
    with project.db.session() as session:
        assert aliases.rollback(session, admin).version_id == v1.id
    with project.db.session() as session, pytest.raises(Conflict, match="no earlier"):
        aliases.rollback(session, admin)
    with project.db.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "model_alias").order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == ["model.promote"] * 3 + ["model.rollback"] * 2
    assert entries[3].before == {"model_version_id": v3.id}
    assert entries[3].reason == "v3 misses fawns"
    assert all(e.actor_id == admin for e in entries)


def test_alias_move_is_atomic_with_the_callers_transaction(
    project: Project, untrained_onnx: Path
) -> None:
    v1 = register_model(project, untrained_onnx, "v1")
    v2 = register_model(project, untrained_onnx, "v2")
    with project.db.session() as session:
        aliases.promote(session, v1.id, None)
    with pytest.raises(RuntimeError), project.db.session() as session:
        aliases.promote(session, v2.id, None)
        raise RuntimeError("crash between the alias update and the commit")
    with project.db.session() as session:
        assert aliases.resolve(session, "champion") == v1.id
        moves = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "model.promote")
        ).all()
    assert len(moves) == 1


def test_concurrent_promotions_leave_one_consistent_history(
    project: Project, untrained_onnx: Path
) -> None:
    versions = [register_model(project, untrained_onnx, f"v{i}").id for i in range(4)]
    errors: list[Exception] = []

    def promote(version_id: int) -> None:
        for _ in range(3):
            try:
                with project.db.session() as session:
                    aliases.promote(session, version_id, None)
                return
            except Conflict as exc:
                errors.append(exc)

    threads = [threading.Thread(target=promote, args=(v,)) for v in versions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with project.db.session() as session:
        final = session.scalar(select(ModelAlias.model_version_id))
        chain = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "model.promote").order_by(AuditEntry.id)
        ).all()
    # Every move starts from where the previous one ended: no lost update.
    assert chain[0].before == {"model_version_id": None}
    for earlier, later in itertools.pairwise(chain):
        assert later.before["model_version_id"] == earlier.after["model_version_id"]
    assert chain[-1].after["model_version_id"] == final


def test_external_model_cannot_be_champion(project: Project) -> None:
    from wildloop.registry.versions import register_external

    with project.db.session() as session:
        md = register_external(session, "megadetector-v5a", ["animal", "person", "vehicle"])
        with pytest.raises(BadInput, match="external"):
            aliases.promote(session, md.id, None)
