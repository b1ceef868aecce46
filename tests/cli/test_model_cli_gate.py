"""`wildloop model promote` and `model register --promote` cannot replace the champion
without the gate: a worse model is refused, an override needs a reason, and both are in the
audit trail. Only the first champion and the challenger alias move directly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.engine import champion, invoke
from tests.support.loop import ingest_frames, label_frames, model_from_truth
from wildloop.cli.app import app
from wildloop.datasets.snapshots import create_snapshot, load_snapshot
from wildloop.errors import BadInput, Conflict
from wildloop.project import Project
from wildloop.store.tables import AuditEntry

runner = CliRunner()


def actions(project: Project) -> list[tuple[str, str | None]]:
    with project.db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("model.%")).order_by(AuditEntry.id)
        )
        return [(e.action, e.reason) for e in rows if e.action != "model.register"]


@pytest.fixture
def models(project: Project, scenes, tmp_path: Path) -> tuple[Project, int, int]:
    """A labelled project with a frozen test set, a good model and a weak one (no champion)."""
    frames = scenes(bursts=24, seed=12)
    ids = ingest_frames(project, frames, tmp_path / "scenes")
    label_frames(project, frames, ids)
    info, _ = create_snapshot(project, "test")
    data = load_snapshot(project, info.id)
    good = model_from_truth(project, data, "good", keep=0.95, seed=1, source="trained")
    weak = model_from_truth(project, data, "weak", keep=0.4, relabel=0.4, seed=2, source="trained")
    return project, good, weak


def test_model_promote_goes_through_the_gate(models) -> None:
    project, good, weak = models
    # The first champion has nothing to be compared with: a plain, audited move.
    assert "champion: none -> " in invoke(project, "model", "promote", "good")
    assert champion(project) == good
    assert actions(project) == [("model.promote", "first champion: there was none to compare with")]

    refused = invoke(project, "model", "promote", "weak", code=Conflict.exit_code)
    assert "REFUSED" in refused and "does not beat" in refused
    assert champion(project) == good

    with pytest.raises(BadInput, match="--force needs --reason"):
        runner.invoke(
            app,
            ["model", "promote", "weak", "--force", "-p", str(project.root)],
            catch_exceptions=False,
        )
    assert champion(project) == good

    forced = json.loads(
        invoke(
            project,
            *("model", "promote", "weak", "--force", "--reason", "field test", "--no-reprocess"),
            "--json",
        )
    )
    assert forced["promoted"] and forced["forced"] and champion(project) == weak
    assert actions(project)[1:] == [
        ("model.gate.refuse", None),
        ("model.gate.override", "field test"),
        ("model.promote", actions(project)[-1][1]),
    ]
    assert "gate overridden: field test" in (actions(project)[-1][1] or "")

    # Rollback (with its reason) walks back to the previous champion.
    out = invoke(project, "model", "rollback", "--reason", "too many misses")
    assert f"champion: {weak} -> {good}" in out and champion(project) == good
    assert actions(project)[-1] == ("model.rollback", "too many misses")


def test_the_challenger_alias_moves_without_the_gate(models) -> None:
    project, good, weak = models
    invoke(project, "model", "promote", "good")
    moved = json.loads(
        invoke(project, "model", "promote", "weak", "--alias", "challenger", "--json")
    )
    assert moved == {"alias": "challenger", "previous_id": None, "version_id": weak}
    assert champion(project) == good
    assert actions(project)[-1][0] == "model.alias"
    with pytest.raises(BadInput, match="champion only"):
        runner.invoke(
            app,
            [
                *("model", "promote", "weak", "--alias", "challenger"),
                *("--force", "--reason", "x", "-p", str(project.root)),
            ],
            catch_exceptions=False,
        )


def test_register_promote_is_gated_once_a_champion_exists(models, untrained_onnx: Path) -> None:
    project, good, _ = models
    invoke(project, "model", "promote", "good")
    # An untrained detector scores about nothing on the test set: registered, not promoted.
    out = invoke(
        project,
        *("model", "register", str(untrained_onnx), "--name", "untrained", "--promote"),
        "--no-reprocess",
        code=Conflict.exit_code,
    )
    assert "registered untrained" in out and "REFUSED" in out
    assert champion(project) == good
    listed = json.loads(invoke(project, "model", "list", "--json"))
    assert listed[0]["name"] == "untrained"
    assert actions(project)[-1] == ("model.gate.refuse", None)
