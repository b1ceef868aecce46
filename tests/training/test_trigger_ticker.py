"""The server's trigger ticker: one check starts the training a due trigger asks for, the
thread keeps checking on its interval, and a bad setting is reported once, not raised."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.loop import ingest_frames, label_frames
from wildloop.cli.serve_cmds import start_trigger_ticker
from wildloop.project import Project
from wildloop.store.tables import Job
from wildloop.training.ticker import Tick, TriggerTicker, tick


@pytest.fixture
def reviewed(project: Project, scenes, tmp_path: Path) -> Project:
    frames = scenes(bursts=6, seed=4)
    label_frames(project, frames, ingest_frames(project, frames, tmp_path / "scenes"))
    return project


def training_jobs(project: Project) -> list[Job]:
    with project.db.session() as session:
        jobs = list(session.scalars(select(Job).where(Job.kind == "train").order_by(Job.id)))
        session.expunge_all()
        return jobs


def test_a_tick_starts_the_training_a_trigger_asks_for(reviewed: Project) -> None:
    project = reviewed
    project.config.triggers.after_reviewed = 0
    assert tick(project) == Tick(None)  # both triggers off: nothing is even counted
    project.config.triggers.after_reviewed = 10_000
    quiet = tick(project)
    assert quiet.job_id is None and quiet.check is not None and quiet.check.new_reviewed > 0
    project.config.triggers.after_reviewed = quiet.check.new_reviewed
    started = tick(project)
    assert started.job_id is not None and started.check is not None
    assert started.check.due == "reviewed"
    [job] = training_jobs(project)
    assert job.id == started.job_id and job.params["trigger"] == "reviewed"
    again = tick(project)  # one training at a time
    assert again.job_id is None and "already in progress" in again.check.reason  # type: ignore[union-attr]
    assert len(training_jobs(project)) == 1


def test_a_bad_schedule_is_an_error_result_not_an_exception(reviewed: Project) -> None:
    reviewed.config.triggers.schedule = "every full moon"
    outcome = tick(reviewed)
    assert outcome.job_id is None and "not a cron expression" in (outcome.error or "")


def test_the_ticker_thread_checks_on_its_interval(reviewed: Project) -> None:
    project = reviewed
    project.config.triggers.after_reviewed = 1
    reports: list[Tick] = []
    ticker = TriggerTicker(project, 0.05, reports.append)
    ticker.start()
    try:
        deadline = time.monotonic() + 10
        while not reports and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # a few more ticks: the training in progress blocks a second one
    finally:
        ticker.stop()
    assert len(reports) == 1 and reports[0].job_id == training_jobs(project)[0].id
    assert len(training_jobs(project)) == 1


def test_the_ticker_reports_a_lasting_error_once(reviewed: Project) -> None:
    reviewed.config.triggers.schedule = "not cron"
    reports: list[Tick] = []
    ticker = TriggerTicker(reviewed, 0.02, reports.append)
    ticker.start()
    time.sleep(0.3)
    ticker.stop()
    assert [r.error is not None for r in reports] == [True]
    assert training_jobs(reviewed) == []


def test_serve_starts_the_ticker_from_the_config(project: Project) -> None:
    project.config.triggers.check_seconds = 0
    assert start_trigger_ticker(project) is None
    project.config.triggers.check_seconds = 30
    ticker = start_trigger_ticker(project)
    assert ticker is not None and ticker.interval == 30
    started = time.monotonic()
    ticker.stop()  # does not wait for the interval to pass
    assert time.monotonic() - started < 2
