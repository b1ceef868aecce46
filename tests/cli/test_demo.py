"""`wildloop demo` builds a working project offline: photos, a champion, its predictions."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from wildloop.cli.app import app
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Media, PredictionSet, User


def test_demo_project_has_every_photo_predicted_by_the_shipped_detector(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    result = CliRunner().invoke(app, ["demo", str(root), "--bursts", "6", "--no-serve"])
    assert result.exit_code == 0, result.output
    with Project.open(root) as project, project.db.session() as session:
        champion = aliases.resolve(session, "champion")
        photos = session.scalar(select(func.count()).select_from(Media).where(Media.status == "ok"))
        sets = session.execute(
            select(PredictionSet.status, func.count(), func.sum(PredictionSet.count))
            .where(PredictionSet.model_version_id == champion)
            .group_by(PredictionSet.status)
        ).all()
        admin = session.scalar(select(User.role).where(User.username == "admin"))
        training = project.config.training
    assert (training.epochs, training.imgsz) == (10, 320)  # a CPU retraining takes minutes
    assert photos and photos >= 18
    assert [(status, n) for status, n, _ in sets] == [("ok", photos)]
    assert sets[0][2] > 0  # the detector finds animals in generated scenes
    assert admin == "admin"
    again = CliRunner().invoke(app, ["demo", str(root), "--bursts", "6", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert "0 new photos" in again.output.replace("\n", " ") or "Ingested 0" in again.output
