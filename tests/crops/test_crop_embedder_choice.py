"""``[crops] model`` picks the embedder the one predict pass stores float16 vectors with."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from tests.support.engine import ingest_dir
from wildloop.crops.embedder import crop_embedder_key, project_crop_embedder
from wildloop.crops.vectors import box_vectors
from wildloop.errors import BadInput
from wildloop.jobs.local import run_job
from wildloop.models.detector_features import features_path
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import (
    Provenance,
    artifact_sha256,
    get_version,
    verified_artifact,
)
from wildloop.store.tables import CropEmbedding
from wildloop.synthetic.scenes import Frame

DEMO_DETECTOR = Path(__file__).parents[2] / "src" / "wildloop" / "synthetic" / "demo_detector.onnx"


def _process(project: Project, tmp_path: Path, scenes: Callable[..., list[Frame]]) -> int:
    scenes(bursts=1, seed=3)
    ingest_dir(project, tmp_path / "scenes")
    project.config.crops.embed = True
    project.config.crops.min_score = 0.3
    version = register_model(
        project, DEMO_DETECTOR, "demo", provenance=Provenance(source="registered")
    )
    with project.db.session() as session:
        aliases.promote(session, version.id, None, reason="test")
    assert run_job(project, submit_process(project).job_id)["state"] == "succeeded"
    return version.id


def _stored(project: Project) -> list[tuple[str, int, bytes]]:
    with project.db.session() as session:
        rows = session.execute(
            select(CropEmbedding.embedder, CropEmbedding.dim, CropEmbedding.vector)
        ).all()
    return [(r.embedder, r.dim, r.vector) for r in rows]


def test_detector_features_are_stored_per_box_under_the_detectors_key(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    project.config.crops.model = "detector"
    registered = hashlib.sha256(DEMO_DETECTOR.read_bytes()).hexdigest()
    version_id = _process(project, tmp_path, scenes)
    rows = _stored(project)
    assert rows and {(key, dim) for key, dim, _ in rows} == {(f"detector:{version_id}", 96)}
    assert all(len(blob) == 96 * 2 for _, _, blob in rows)  # float16
    assert crop_embedder_key(project) == f"detector:{version_id}"
    with project.db.session() as session:
        version = get_version(session, version_id)
        session.expunge(version)
        media = sorted({m for (m,) in session.execute(select(CropEmbedding.media_id))})
        vectors = box_vectors(session, f"detector:{version_id}", version_id, media)
    assert vectors.matrix.shape == (len(rows), 96) and vectors.matrix.std() > 0
    # The derived model sits in the cache; the registered artifact keeps its hash.
    assert features_path(project, version).is_file()
    assert artifact_sha256(version, "onnx") == registered
    stored = verified_artifact(project, version, "onnx")  # re-hashed now
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == registered
    with pytest.raises(BadInput, match="image embedder"):
        project_crop_embedder(project)


def test_mobilenet_v2_is_a_bundled_choice(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    project.config.crops.model = "mobilenet_v2"
    _process(project, tmp_path, scenes)
    rows = _stored(project)
    assert rows and {(key, dim) for key, dim, _ in rows} == {("mobilenet-v2-224", 1280)}
    vectors = np.stack([np.frombuffer(blob, "<f2") for _, _, blob in rows])
    assert np.isfinite(vectors).all() and vectors.std() > 0
    assert crop_embedder_key(project) == "mobilenet-v2-224"


def test_a_user_onnx_model_in_the_project_folder_embeds_the_boxes(
    project: Project, scenes: Callable[..., list[Frame]], tmp_path: Path
) -> None:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["image"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["vector"]),
        ],
        "mean-colour",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 32, 32])],
        [helper.make_tensor_value_info("vector", TensorProto.FLOAT, ["n", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(project.root / "mine.onnx"))
    project.config.crops.model = "mine.onnx"  # relative: read from the project folder
    _process(project, tmp_path, scenes)
    digest = hashlib.sha256((project.root / "mine.onnx").read_bytes()).hexdigest()[:12]
    rows = _stored(project)
    assert rows and {(key, dim) for key, dim, _ in rows} == {(f"onnx:{digest}", 3)}
    assert all(len(blob) == 3 * 2 for _, _, blob in rows)
