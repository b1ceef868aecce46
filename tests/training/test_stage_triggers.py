"""Triggers per stage: "every N new reviewed items retrain only the classifier" beside
"every M retrain the detector", each counting from its own stage's last training, set from
the CLI, and the retraining log saying which stage each version is and what started it."""

from __future__ import annotations

import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.loop import ingest_frames, label_frames
from wildloop.cli.app import app
from wildloop.cli.demo_cmds import DEMO_DETECTOR
from wildloop.errors import BadInput
from wildloop.evaluation.promotion import make_first_champion
from wildloop.jobs.local import run_job
from wildloop.jobs.records import cancel_job
from wildloop.models.registration import register_model
from wildloop.project import Project
from wildloop.store.tables import AuditEntry, Job
from wildloop.synthetic.scenes import SceneGenerator
from wildloop.training.classifier_job import StartedClassifierTraining
from wildloop.training.job import StartedTraining
from wildloop.training.retraining_log import retraining_log
from wildloop.training.triggers import check_triggers, run_triggers

runner = CliRunner()


@pytest.fixture
def reviewed(project: Project, scenes: Any, tmp_path: Path) -> Project:
    """Reviewed generated scenes and a champion detector to pair classifiers with."""
    frames = scenes(bursts=16, seed=3)
    label_frames(project, frames, ingest_frames(project, frames, tmp_path / "scenes"))
    detector = register_model(project, DEMO_DETECTOR, "demo-detector")
    with project.db.session() as session:
        make_first_champion(session, detector.id, None, "first", classes=project.classes)
    return project


@pytest.mark.slow
def test_a_classifier_trigger_retrains_only_the_classifier(
    reviewed: Project, tmp_path: Path
) -> None:
    project = reviewed
    settings = project.config.triggers
    settings.after_reviewed = 10_000
    settings.classifier_after_reviewed = 10_000
    quiet = check_triggers(project)
    assert quiet.due is None and quiet.classifier is not None
    reviewed_items = quiet.new_reviewed
    assert reviewed_items > 0 and quiet.classifier.new_reviewed == reviewed_items
    assert "the classifier retrains at 10000" in quiet.reason

    settings.classifier_after_reviewed = reviewed_items
    check, started = run_triggers(project)
    assert (check.due, check.stage) == ("reviewed", "classifier")
    assert isinstance(started, StartedClassifierTraining)
    status = run_job(project, started.job_id)
    assert status["state"] == "succeeded", status
    assert status["result"]["pipeline"] is not None  # paired with the champion's detector
    with project.db.session() as session:
        job = session.get(Job, started.job_id)
        assert job is not None
        assert job.params["trigger"] == "reviewed" and job.params["task"] == "crop-classifier"

    # The classifier's count restarts from its training; the detector's does not.
    after = check_triggers(project)
    assert after.classifier is not None and after.classifier.new_reviewed == 0
    assert after.classifier.last_training_at is not None
    assert after.new_reviewed == reviewed_items and after.last_training_at is None
    assert after.due is None

    more = SceneGenerator(project.classes.names, seed=41).write(tmp_path / "more", 3)
    added = label_frames(project, more, ingest_frames(project, more, tmp_path / "more"))
    grown = check_triggers(project)
    assert grown.classifier is not None
    new_train_val = grown.classifier.new_reviewed
    assert 0 < new_train_val <= added
    assert grown.new_reviewed == reviewed_items + new_train_val

    # Both due: the detector goes first (the larger retrain); the classifier's count waits.
    settings.after_reviewed = grown.new_reviewed
    settings.classifier_after_reviewed = 1
    check, detector_started = run_triggers(project)
    assert (check.due, check.stage) == ("reviewed", "detector")
    assert isinstance(detector_started, StartedTraining)
    with project.db.session() as session:
        cancel_job(session, detector_started.job_id)  # its training is tested elsewhere

    rows = {r["version"]: r for r in retraining_log(project)}
    classifier_row = rows[status["result"]["model"]]
    assert (classifier_row["stage"], classifier_row["trigger"]) == ("classifier", "reviewed")
    assert classifier_row["items_added"] == classifier_row["items"]  # its stage's first
    assert rows[status["result"]["pipeline"]]["stage"] == "pipeline"
    assert rows["demo-detector"]["stage"] == "detector"


def test_a_schedule_retrains_the_stage_it_names(reviewed: Project) -> None:
    project = reviewed
    project.config.triggers.after_reviewed = 0
    project.config.triggers.schedule = "0 * * * *"
    project.config.triggers.schedule_stage = "classifier"
    check = check_triggers(project)
    assert (check.due, check.stage) == ("schedule", "classifier")
    assert "(classifier)" in check.reason
    project.config.triggers.schedule_stage = "detector"
    assert check_triggers(project).stage == "detector"


def test_triggers_are_set_from_the_cli_and_audited(project: Project) -> None:
    root = str(project.root)
    counts = ["--classifier-after-reviewed", "50", "--after-reviewed", "1000"]
    schedule = ["--schedule", "0 3 * * 0", "--schedule-stage", "classifier"]
    result = runner.invoke(
        app, ["triggers", "set", *counts, *schedule, "-p", root, "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["classifier_after_reviewed"], shown["after_reviewed"]) == (50, 1000)
    written = tomllib.loads((project.root / "wildloop.toml").read_text())["triggers"]
    assert written["classifier_after_reviewed"] == 50
    assert written["schedule_stage"] == "classifier" and written["schedule"] == "0 3 * * 0"
    with project.db.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "triggers.set"))
        assert entry is not None and entry.after["classifier_after_reviewed"] == 50

    checked = runner.invoke(app, ["triggers", "check", "-p", root, "--json"])
    assert checked.exit_code == 0, checked.output
    body = json.loads(checked.stdout)
    assert body["classifier"]["threshold"] == 50 and body["due"] is None

    for bad, why in (
        (["--schedule-stage", "both"], "schedule_stage: Input should be 'detector' or"),
        (["--schedule", "every full moon"], "not a cron expression"),
    ):
        refused = runner.invoke(app, ["triggers", "set", *bad, "-p", root])
        assert isinstance(refused.exception, BadInput) and why in str(refused.exception)
    # Refused changes leave the file as it was.
    again = tomllib.loads((project.root / "wildloop.toml").read_text())["triggers"]
    assert again == written


def test_an_audio_project_has_no_classifier_stage(make_project: Any) -> None:
    project = make_project(["owl", "frog"], name="sounds", sub="sounds")
    project.config.modality = "audio"
    project.config.triggers.classifier_after_reviewed = 1
    check = check_triggers(project, datetime.now(UTC) + timedelta(minutes=1))
    assert check.classifier is None and check.due is None
