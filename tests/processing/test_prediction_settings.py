"""Every prediction set records the settings that made it: fixed when the job is
submitted, stored once per distinct value, shown by the CLI, the API and the item detail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.support.engine import ingest_dir, register
from wildloop.cli.app import app
from wildloop.jobs.local import run_job
from wildloop.processing.predict_job import submit_process, submit_reprocess
from wildloop.processing.prediction_settings import describe, settings_of_version
from wildloop.project import Project
from wildloop.store.tables import Job, PredictionSet, PredictionSettings
from wildloop.synthetic.scenes import Frame


def test_sets_record_the_settings_fixed_when_their_job_was_submitted(
    project: Project, scenes: Callable[..., list[Frame]], untrained_pt: Path, tmp_path: Path
) -> None:
    scenes(bursts=2, seed=4)
    items = ingest_dir(project, tmp_path / "scenes")
    v1 = register(project, untrained_pt, "v1", imgsz=160, promote=True)
    project.config.priors.mode, project.config.priors.factor = "soft", 0.2
    job = submit_process(project).job_id
    # A change after submission does not reach the job: its sets say what it applied.
    project.config.smoothing.enabled = True
    assert run_job(project, job)["state"] == "succeeded"
    found = settings_of_version_of(project, v1.id)
    assert [r["sets"] for r in found] == [items]
    made = found[0]["settings"]
    assert made["priors"] == {"mode": "soft", "factor": 0.2}
    assert made["smoothing"]["enabled"] is False and "pipeline" not in made
    assert found[0]["described"].startswith("priors soft x0.2, smoothing off")

    v2 = register(project, untrained_pt, "v2", imgsz=160, promote=False)
    status = run_job(project, submit_reprocess(project, model="v2").job_id)
    assert status["result"]["settings"]["smoothing"]["enabled"] is True
    assert "smoothing on" in status["result"]["settings_described"]
    with project.db.session() as session:
        assert session.scalar(select(func.count()).select_from(PredictionSettings)) == 2
        assert (
            session.scalar(
                select(func.count()).where(
                    PredictionSet.model_version_id == v2.id, PredictionSet.settings_id.is_(None)
                )
            )
            == 0
        )
        params = session.get(Job, job).params  # type: ignore[union-attr]
    assert params["settings"] == made

    cli = CliRunner().invoke(
        app, ["predictions", "settings", "--model", "v2", "--json", "--project", str(project.root)]
    )
    assert cli.exit_code == 0, cli.output
    shown = json.loads(cli.output)
    assert shown["model"] == "v2" and shown["settings"][0]["settings"]["smoothing"]["enabled"]
    assert describe(None).startswith("not recorded")


def settings_of_version_of(project: Project, version_id: int) -> list[dict[str, object]]:
    with project.db.session() as session:
        return settings_of_version(session, version_id)
