"""Small shared steps for engine tests: ingest generated scenes, register and promote."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from wildloop.cli.app import app
from wildloop.media.ingest import ingest_paths
from wildloop.models.registration import register_model
from wildloop.processing.predict_job import submit_process
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.store.tables import Media, ModelVersion, PredictionSet
from wildloop.synthetic.scenes import Frame


def invoke(project: Project, *args: str, code: int = 0) -> str:
    """Run ``wildloop ARGS -p PROJECT`` in process; its stdout (asserting the exit code)."""
    result = CliRunner().invoke(app, [*args, "-p", str(project.root)], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout


def champion(project: Project) -> int | None:
    with project.db.session() as session:
        return aliases.resolve(session, "champion")


def ingest_dir(project: Project, folder: Path) -> int:
    report = ingest_paths(project, [folder])
    assert report.failed == 0, report.failures
    return report.added


def register(project: Project, weights: Path, name: str, imgsz: int, promote: bool) -> ModelVersion:
    version = register_model(project, weights, name, imgsz=imgsz)
    if promote:
        with project.db.session() as session:
            aliases.promote(session, version.id, None, reason="test")
    return version


def sets_per_media(project: Project, version_id: int) -> dict[int, int]:
    with project.db.session() as session:
        rows = session.execute(
            select(PredictionSet.media_id, func.count())
            .where(PredictionSet.model_version_id == version_id)
            .group_by(PredictionSet.media_id)
        ).all()
    return dict(rows)


def good_media(project: Project) -> set[int]:
    with project.db.session() as session:
        return set(session.scalars(select(Media.id).where(Media.status == "ok")))


def reprocess_job(
    project: Project,
    scenes: Callable[..., list[Frame]],
    untrained_pt: Path,
    folder: Path,
    bursts: int = 6,
) -> tuple[int, set[int], int]:
    """Ingest ``bursts`` generated bursts from ``folder``, promote an untrained detector and
    submit a reprocess of everything; returns (job id, media ids, version id)."""
    scenes(bursts=bursts, seed=3)
    ingest_dir(project, folder)
    version = register(project, untrained_pt, "v1", imgsz=160, promote=True)
    submitted = submit_process(project)
    media = good_media(project)
    assert submitted.items == len(media) >= 3 * bursts
    return submitted.job_id, media, version.id
