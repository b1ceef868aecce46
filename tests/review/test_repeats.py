"""Repeat detections over a real project: a planted static box is one group, animals are not."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.review import plant_static_box
from tests.support.web import ReviewSetup
from wildloop.cli.app import app
from wildloop.review import repeat_decisions
from wildloop.review.repeats import repeat_groups
from wildloop.store.tables import Media


def test_a_planted_static_box_is_found_once_and_animals_are_not(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    planted = plant_static_box(project, review_setup.model_id)
    with project.db.session() as session:
        camera = session.scalar(select(Media.camera_id).where(Media.id == planted[0]))
        bursts = len(
            set(session.scalars(select(Media.sequence_id).where(Media.camera_id == camera)))
        )
        groups = repeat_groups(session, min_score=0.25, min_items=5, min_bursts=2)
    assert len(groups) == 1 and bursts >= 2
    assert set(groups[0].media_ids) == set(planted)
    assert groups[0].bursts == bursts

    result = CliRunner().invoke(
        app,
        [
            "repeats",
            "--min-frames",
            "5",
            "--min-bursts",
            "2",
            "--json",
            "--project",
            str(project.root),
        ],
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [g["frames"] for g in listed] == [len(planted)]

    rule = ["--min-frames", "5", "--min-bursts", "2", "--project", str(project.root), "--json"]
    decided = CliRunner().invoke(
        app, ["repeats", "decide", str(listed[0]["group"]), "--false-positive", *rule]
    )
    assert decided.exit_code == 0, decided.output
    assert json.loads(decided.output)["labelled"] == len(planted)
    again = CliRunner().invoke(app, ["repeats", *rule])
    assert json.loads(again.output) == []
    undone = CliRunner().invoke(
        app,
        ["repeats", "undo", str(json.loads(decided.output)["decision"]), *rule[4:]],
    )
    assert undone.exit_code == 0, undone.output
    assert len(json.loads(undone.output)["restored"]) == len(planted)


def test_the_cli_runs_a_large_decision_and_its_undo_as_jobs(
    review_setup: ReviewSetup, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over SYNC_FRAMES frames (lowered here) `decide` and `undo` submit the job and run it
    in the command's process; the answer is the same as a small decision's."""
    monkeypatch.setattr(repeat_decisions, "SYNC_FRAMES", 3)
    project = review_setup.project
    planted = plant_static_box(project, review_setup.model_id)
    rule = ["--min-frames", "5", "--min-bursts", "2", "--project", str(project.root), "--json"]
    [group] = json.loads(CliRunner().invoke(app, ["repeats", *rule]).output)
    decided = CliRunner().invoke(
        app, ["repeats", "decide", str(group["group"]), "--false-positive", *rule]
    )
    assert decided.exit_code == 0, decided.output
    out = json.loads(decided.stdout)  # the progress bar is on stderr
    assert out["job"] is not None and out["labelled"] == len(planted)
    undone = CliRunner().invoke(app, ["repeats", "undo", str(out["decision"]), *rule[4:]])
    assert undone.exit_code == 0, undone.output
    result = json.loads(undone.stdout)
    assert result["job_id"] and sorted(result["restored"]) == sorted(planted)
    assert result["kept"] == []
