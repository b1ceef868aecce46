"""`wildloop demo --audio`: generated sounds ingested, embedded, a head trained on the
seeded labels as champion, and every window scored, ready for review; a rerun adds nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from wildloop.cli.app import app
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Media, ModelVersion, PredictionSet, User
from wildloop.synthetic.sounds import SOUND_CLASSES


def test_audio_demo_has_every_window_scored_by_a_trained_head(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    args = ["demo", str(root), "--audio", "--recordings", "8", "--no-serve"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with Project.open(root) as project, project.db.session() as session:
        assert project.config.modality == "audio"
        assert project.classes.names == list(SOUND_CLASSES)
        champion = aliases.resolve(session, "champion")
        assert champion is not None
        task = session.scalar(select(ModelVersion.task).where(ModelVersion.id == champion))
        windows = session.scalar(
            select(func.count()).select_from(Media).where(Media.kind == "window")
        )
        scored = session.scalar(
            select(func.count())
            .select_from(PredictionSet)
            .where(PredictionSet.model_version_id == champion, PredictionSet.status == "ok")
        )
        waiting = session.scalar(
            select(func.count())
            .select_from(Media)
            .where(Media.kind == "window", Media.reviewed.is_(False))
        )
        admin = session.scalar(select(User.role).where(User.username == "admin"))
    assert task == "audio-head"
    assert windows and windows >= 8 * 5
    assert scored == windows
    assert waiting and waiting >= windows // 3  # left for the reviewer
    assert admin == "admin"
    assert list((root / "indexes").glob("*.faiss"))  # search by example works at once
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "Ingested 0 recordings" in again.output
