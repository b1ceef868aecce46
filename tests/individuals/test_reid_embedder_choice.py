"""Choosing the re-ID embedder: a user's own ONNX re-ID model registered like any model,
embedded through the crop embedders' runtime by a job, gated on the same retrieval, promoted
and rolled back by API and CLI; stored vectors and suggestions follow by a job. Real ONNX
inference on generated coats, a real database, real HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.individuals.test_reid_embedder import _confirmed
from tests.support.review import add_users, logged_in_clients
from wildloop.cli.app import app as cli_app
from wildloop.individuals.embedders import model_key, register_reid_model
from wildloop.individuals.projection import REID_ALIAS, reid_space
from wildloop.individuals.suggest_job import submit_suggestions
from wildloop.inference.crops import DEFAULT_KEY
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.artifacts import sha256_file
from wildloop.store.tables import AuditEntry, LabelCropEmbedding, Sighting
from wildloop.web.app import create_app

onnx = pytest.importorskip("onnx")


def random_features_onnx(path: Path, seed: int = 0) -> Path:
    """A user's "re-ID model": one fixed random 8x8 convolution, stride 8, over a 64x64
    crop: 16 channels x 8 x 8 = 1024 numbers a crop (random features keep coats apart)."""
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).normal(size=(16, 3, 8, 8)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["image", "w"], ["features"], strides=[8, 8]),
            helper.make_node("Flatten", ["features"], ["vector"]),
        ],
        "random-features",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 64, 64])],
        [helper.make_tensor_value_info("vector", TensorProto.FLOAT, ["n", 1024])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _count(project: Project, key: str) -> int:
    with project.db.session() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(LabelCropEmbedding)
                .where(LabelCropEmbedding.embedder == key)
            )
            or 0
        )


def test_a_users_onnx_embedder_is_gated_promoted_and_rolled_back(
    project: Project, tmp_path: Path
) -> None:
    ids, boxes = _confirmed(project, tmp_path)
    add_users(project, {"ada": "admin", "rita": "reviewer"})
    rita = project.author("rita")
    # Pending suggestions scored by the baseline (every unassigned box).
    assert run_job(project, submit_suggestions(project, -1.0, rita))["state"] == "succeeded"
    with project.db.session() as s:
        before = dict(
            s.execute(
                select(Sighting.label_box_id, Sighting.score).where(Sighting.source == "suggestion")
            ).all()
        )
    assert len(before) == len(ids)

    path = random_features_onnx(tmp_path / "mine.onnx")
    version = register_reid_model(project, path, "my-reid")
    key = model_key("onnx", sha256_file(path))
    assert version.params["embedder"] == key and version.artifact_format == "onnx"
    assert _count(project, key) == 0  # registering computes nothing

    with logged_in_clients(create_app(project, secret="test-secret")) as client:
        ada, reviewer = client("ada"), client("rita")
        v1 = "/api/v1/individuals/embedder"
        status = ada.get(v1).json()
        assert status["serving"]["kind"] == "baseline"
        assert status["serving"]["embedder"] == DEFAULT_KEY
        [candidate] = status["candidates"]
        assert candidate["kind"] == "model" and candidate["gate"] is None
        refused = reviewer.post(f"{v1}/promote", json={"model": str(version.id)})
        assert refused.status_code == 403
        queued = ada.post(
            f"{v1}/promote", json={"model": "my-reid", "force": True, "reason": "field test"}
        )
        assert queued.status_code == 202, queued.text
        done = run_job(project, queued.json()["job_id"])
        assert done["state"] == "succeeded", done
        assert done["result"]["promoted"] is True
        # Its vectors were computed by the job, through the crop embedders' runtime.
        assert _count(project, key) == _count(project, DEFAULT_KEY) > 0
        with project.db.session() as s:
            assert aliases.resolve(s, REID_ALIAS) == version.id
            assert reid_space(s, project) == (key, None)
            after = dict(
                s.execute(
                    select(Sighting.label_box_id, Sighting.score).where(
                        Sighting.source == "suggestion"
                    )
                ).all()
            )
        # Suggestions were re-scored in the new embedder's space.
        assert set(after) <= set(before) and after != before
        status = ada.get(v1).json()
        assert status["serving"] == {
            "kind": "model",
            "model_version_id": version.id,
            "name": "my-reid",
            "embedder": key,
        }
        gate = status["candidates"][0]["gate"]
        assert gate["challenger"]["top1"] is not None and gate["against_name"] == "crop vectors"
        assert gate["interval"]["resampled_individuals"] == gate["test_individuals"]
        assert status["baseline"]["gate"]["top1"] == gate["against"]["top1"]
        # Suggestions are read in its vectors now.
        query = boxes[next(iter(boxes))][-1]
        found = ada.get(f"/api/v1/label-boxes/{query}/suggestions?k=3")
        assert found.status_code == 200 and len(found.json()) == 3

        stale = ada.post(f"{v1}/rollback", json={"expected": version.id + 1})
        assert stale.status_code == 409
        back = ada.post(f"{v1}/rollback", json={"expected": version.id})
        assert back.status_code == 200, back.text
        assert back.json()["previous"] == version.id
        assert run_job(project, back.json()["job_id"])["state"] == "succeeded"
        assert ada.get(v1).json()["serving"]["kind"] == "baseline"
        again = ada.post(f"{v1}/rollback", json={})
        assert again.status_code == 400 and "nothing to roll back" in again.text
    with project.db.session() as s:
        actions = s.scalars(select(AuditEntry.action)).all()
        assert "model.alias.clear" in actions and "model.gate.override" in actions


def test_the_cli_registers_gates_and_rolls_back(project: Project, tmp_path: Path) -> None:
    _confirmed(project, tmp_path)
    runner = CliRunner()
    root = ["--project", str(project.root)]

    def cli(*args: str) -> Any:
        result = runner.invoke(cli_app, ["individuals", *args, *root, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    path = random_features_onnx(tmp_path / "mine.onnx", seed=1)
    added = cli("add-embedder", str(path), "--name", "mine")
    assert added["embedder"].startswith("onnx:")
    # Without --force the gate decides; whichever way, the job says so and nothing breaks.
    promoted = cli("promote-embedder", "mine")
    assert promoted["state"] == "succeeded"
    status = cli("embedder")
    assert status["candidates"][0]["gate"]["decision"] in ("pass", "refuse")
    serving = status["serving"]["kind"]
    assert serving == ("model" if promoted["result"]["promoted"] else "baseline")
    if serving == "baseline":
        cli("promote-embedder", "mine", "--force", "--reason", "test")
    rolled = cli("rollback-embedder")
    assert rolled["state"] == "succeeded"
    assert cli("embedder")["serving"]["kind"] == "baseline"
