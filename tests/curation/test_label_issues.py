"""Likely label errors on generated photos: planted wrong classes rank at the top of the
label-issues job's list (a real crop embedder, real folds, real cleanlab), and a second
reviewer's decisions are conflict-checked and audited."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from tests.individuals.scenes import labelled_photos, relabel
from wildloop.cli.app import app as cli_app
from wildloop.curation.label_issues import decide, list_issues
from wildloop.curation.label_issues_job import submit_label_issues
from wildloop.errors import Conflict, PermissionDenied
from wildloop.jobs.local import run_job
from wildloop.project import Project
from wildloop.review.labels import current_labels
from wildloop.store.tables import AuditEntry, LabelIssue, Media
from wildloop.synthetic.coats import Coat
from wildloop.users.roles import Actor, Role

COATS = {
    "buck": Coat(6, ((230, 230, 230), (20, 20, 20)), vertical=True),
    "doe": Coat(14, ((200, 120, 30), (40, 20, 10)), vertical=False),
    "pig": Coat(3, ((30, 160, 60), (240, 240, 40)), vertical=False),
}
PER_CLASS = 12
PLANTED = 3


def _planted(project: Project, folder: Path) -> tuple[dict[int, str], set[int]]:
    """Label photos of three coats, then give PLANTED boxes another class (by 'labeller');
    returns each media's true class and the media ids whose label is wrong."""
    animals = list(COATS.items())
    boxes = labelled_photos(project, folder, animals, PER_CLASS, seed=2)
    truth: dict[int, str] = {}
    with project.db.session() as session:
        for media_id, path in session.execute(select(Media.id, Media.path)):
            truth[media_id] = animals[int(Path(path).name[1:3])][0]
    with project.db.session() as session:
        # Untimed photos ingest as one burst, so one split: hold every sixth out as test.
        for n, media_id in enumerate(sorted(truth)):
            session.execute(
                update(Media)
                .where(Media.id == media_id)
                .values(split="test" if n % 6 == 0 else "train")
            )
    rng = random.Random(7)
    flipped = rng.sample([(a, b) for a, ids in boxes.items() for b in ids], PLANTED)
    wrong: set[int] = set()
    for a, box_id in flipped:
        other = rng.choice([name for name in COATS if name != animals[a][0]])
        relabel(project, box_id, other)
    with project.db.session() as session:
        for media_id, true_class in truth.items():
            labels = current_labels(session, media_id)
            assert labels is not None
            if project.classes.name_of(labels.boxes[0].class_id or 0) != true_class:
                wrong.add(media_id)
    assert len(wrong) == PLANTED
    return truth, wrong


def test_planted_label_errors_rank_first_and_decisions_are_checked(
    project: Project, tmp_path: Path
) -> None:
    _, wrong = _planted(project, tmp_path / "photos")
    rita = Actor(project.author("rita"), "rita", Role.REVIEWER)
    labeller = Actor(project.author("labeller"), "labeller", Role.REVIEWER)
    status = run_job(project, submit_label_issues(project, created_by=rita.id))
    assert status["state"] == "succeeded", status
    result = status["result"]
    assert result["boxes"] == 3 * PER_CLASS and result["unembedded"] == 0, result
    with project.db.session() as session:
        issues = list_issues(session, project.classes)
    assert issues, result
    top = {i.media_id for i in issues[:PLANTED]}
    precision = len(top & wrong) / PLANTED
    # Chance is PLANTED / 36 = 0.08: two of the three planted errors must lead the list.
    assert precision >= 2 / 3, (precision, [(i.media_id, i.quality) for i in issues])
    first = next(i for i in issues if i.media_id in wrong)
    assert first.labelled_by == "labeller" and first.suggested_probability > 0.5

    with project.db.session() as session, pytest.raises(PermissionDenied, match="second"):
        decide(session, first.id, "change", actor=labeller, classes=project.classes)
    with project.db.session() as session, pytest.raises(Conflict, match="revision"):
        decide(
            session,
            first.id,
            "change",
            actor=rita,
            classes=project.classes,
            expected_revision=first.revision - 1,
        )
    with project.db.session() as session:
        decide(session, first.id, "change", actor=rita, classes=project.classes)
    with project.db.session() as session:
        labels = current_labels(session, first.media_id)
        assert labels is not None
        assert project.classes.name_of(labels.boxes[0].class_id or 0) == first.suggested_class
        row = session.get_one(LabelIssue, first.id)
        assert (row.status, row.decided_by) == ("changed", rita.id)
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor_id == rita.id)
        ).all()
        assert {"label_issues.decide", "label_issues.change"} <= set(actions)
    with project.db.session() as session, pytest.raises(Conflict, match="already decided"):
        decide(session, first.id, "keep", actor=rita, classes=project.classes)

    # A refresh keeps decided rows and never raises their box again.
    status = run_job(project, submit_label_issues(project, created_by=rita.id))
    assert status["state"] == "succeeded", status
    with project.db.session() as session:
        reopened = list_issues(session, project.classes)
        changed = list_issues(session, project.classes, status="changed")
    assert first.label_box_id not in {i.label_box_id for i in reopened}
    assert [i.id for i in changed] == [first.id]


def test_the_cli_finds_lists_and_decides(project: Project, tmp_path: Path) -> None:
    _, wrong = _planted(project, tmp_path / "photos")
    where = ["--project", str(project.root)]
    runner = CliRunner()
    found = runner.invoke(cli_app, ["label-issues", "find", "--as", "rita", "--json", *where])
    assert found.exit_code == 0, found.output
    status = json.loads(found.output[found.output.index("{") :])  # after the progress bar
    assert status["result"]["issues"] >= 1
    listed = runner.invoke(cli_app, ["label-issues", "list", "--json", *where])
    assert listed.exit_code == 0, listed.output
    issues = json.loads(listed.output)
    assert issues[0]["media_id"] in wrong and issues[0]["labelled_by"] == "labeller"
    first = str(issues[0]["id"])
    own = runner.invoke(
        cli_app, ["label-issues", "decide", first, "keep", "--as", "labeller", *where]
    )
    assert isinstance(own.exception, PermissionDenied)
    kept = runner.invoke(
        cli_app, ["label-issues", "decide", first, "keep", "--as", "rita", "--json", *where]
    )
    assert kept.exit_code == 0, kept.output
    assert (json.loads(kept.output)["status"], json.loads(kept.output)["decided_by"]) == (
        "kept",
        "rita",
    )
    text = runner.invoke(cli_app, ["label-issues", "list", "--status", "kept", *where])
    assert f"issue {first} " in text.output and "by labeller" in text.output
