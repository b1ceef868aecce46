"""`wildloop model train-classifier --method`: bad settings are refused before a job is
queued, with their error (whose exit code `main` maps; the training itself is tested in
tests/training/test_yolo_cls.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from wildloop.cli.app import app
from wildloop.errors import BadInput, Unavailable
from wildloop.project import Project
from wildloop.store.tables import Job

runner = CliRunner()


def test_train_classifier_refuses_bad_yolo_cls_settings(project: Project, tmp_path: Path) -> None:
    where = ["-p", str(project.root)]
    cases = [
        (["--method", "svm"], BadInput, "unknown classifier method"),
        (["--method", "yolo-cls", "--crop-size", "100"], BadInput, "multiple of 32"),
        (["--start-weights", str(tmp_path / "cls.pt")], BadInput, "for --method yolo-cls"),
        (["--method", "yolo-cls", "--start-weights", str(tmp_path / "c.pt")], Unavailable, "never"),
    ]
    for args, error, words in cases:
        result = runner.invoke(app, ["model", "train-classifier", *args, *where])
        assert type(result.exception) is error, result.output
        assert words in str(result.exception)
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_train_refuses_a_collapse_class_the_project_lacks(project: Project) -> None:
    """`wildloop train --collapse` names the one class a class-agnostic detector learns; an
    unknown name is refused before a snapshot or job exists."""
    result = runner.invoke(app, ["train", "--collapse", "no-such", "-p", str(project.root)])
    assert type(result.exception) is BadInput, result.output
    assert "not a project class" in str(result.exception)
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
