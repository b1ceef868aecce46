"""Two-stage models on the Models page in headless Chromium over real HTTP: an admin pairs a
detector with a crop classifier by keyboard, then starts the fast loop (only the classifier
retrains) and watches it run to its end with a real worker. Screenshots go to
test-artifacts/models-two-stage*.png."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.loop import ingest_frames, label_frames
from tests.support.models_page import USERS
from tests.support.review import add_users
from tests.web.test_models_browser import shot
from tests.web.test_web_browser import browser, log_in, running, tab  # noqa: F401
from wildloop.cli.demo_cmds import DEMO_DETECTOR
from wildloop.evaluation.promotion import make_first_champion
from wildloop.jobs.local import LocalExecutor, run_job
from wildloop.models.registration import register_model
from wildloop.project import Project
from wildloop.store.tables import Job, ModelVersion
from wildloop.training.classifier_job import start_classifier_training

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def two_stage(project: Project, scenes: Any, tmp_path: Path) -> Project:
    """Reviewed scenes, the demo detector as champion and one trained crop classifier (with
    the challenger pipeline its training made)."""
    frames = scenes(bursts=16, seed=3)
    label_frames(project, frames, ingest_frames(project, frames, tmp_path / "scenes"))
    add_users(project, USERS)
    detector = register_model(project, DEMO_DETECTOR, "demo-detector")
    with project.db.session() as session:
        make_first_champion(session, detector.id, None, "first", classes=project.classes)
    status = run_job(project, start_classifier_training(project).job_id)
    assert status["state"] == "succeeded", status
    project.config.triggers.reprocess_after_promotion = False  # the loop's end, sooner
    return project


def test_an_admin_pairs_a_pipeline_and_runs_the_fast_loop(
    browser: Any,  # noqa: F811 (the imported fixture)
    two_stage: Project,
) -> None:
    project = two_stage
    with project.db.session() as session:
        classifier = session.scalar(
            select(ModelVersion).where(ModelVersion.task == "crop-classifier")
        )
        assert classifier is not None
        classifier_name = classifier.name
    with running(project) as base, tab(browser, base) as page:
        log_in(page, "ada", "/models")
        first = page.locator("#pipelines tbody tr[data-pipeline]")
        assert first.count() == 1  # the one the classifier's training paired
        assert "demo-detector" in first.inner_text() and classifier_name in first.inner_text()

        # Pair the two versions by keyboard: pick, type, and Enter submits the form.
        page.focus("#pipeline-detector")
        page.keyboard.press("ArrowDown")  # one detector: it stays chosen
        page.focus("#pipeline-classifier")
        page.keyboard.press("ArrowDown")
        page.fill("#pipeline-score", "0.3")
        page.focus("#pipeline-name")
        page.keyboard.type("deer-two-stage")
        page.keyboard.press("Enter")
        page.locator("#flash").filter(has_text="pipeline deer-two-stage").wait_for()
        row = page.locator("#pipelines tbody tr").filter(has_text="deer-two-stage")
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == "deer-two-stage" and cells[5] == "0.30"
        assert classifier_name in cells[4] and "demo-detector" in cells[3]

        # A second pipeline of the same name is refused in plain words, beside the form.
        page.fill("#pipeline-name", "deer-two-stage")
        page.click("#pipeline-form button")
        page.locator("#pipeline-result").filter(has_text="deer-two-stage").wait_for()
        assert page.locator("#pipeline-result").inner_text().startswith("Refused:")
        shot(page, "models-two-stage")

        # The fast loop, with a worker to run it: its progress shows live until it ends.
        page.click("#fast-loop")
        queued = page.locator("#action-result").filter(has_text="fast loop is queued")
        queued.wait_for()
        loop_id = int(queued.inner_text().split("#")[1].split(":")[0])
        executor = LocalExecutor(project, workers=1)
        executor.start()
        try:
            page.locator("#live-jobs").filter(has_text=f"#{loop_id} loop").wait_for()
            ended = re.compile(rf"#{loop_id}\b.*finished")  # "Jobs #6, #5 finished", too
            page.locator("#live-jobs .banner").filter(has_text=ended).wait_for(timeout=180_000)
        finally:
            executor.stop()
        with project.db.session() as session:
            job = session.get(Job, loop_id)
            assert job is not None and job.state == "succeeded", (job.state, job.error)
            steps = {s["step"]: s for s in job.result["steps"]}
        train = steps["train"]
        assert train["status"] == "done" and train["data"]["stage"] == "classifier"
        # The finished loop refreshes the log: the new classifier, started by the loop.
        log = page.locator("#retrain-log tr[data-stage=classifier]").filter(has_text="loop")
        log.first.wait_for()
        shot(page, "models-two-stage-loop")
