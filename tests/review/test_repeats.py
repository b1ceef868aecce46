"""Repeat detections over a real project: a planted static box is one group, animals are not."""

from __future__ import annotations

import json

from sqlalchemy import insert, select
from typer.testing import CliRunner

from tests.support.web import ReviewSetup
from wildloop.cli.app import app
from wildloop.review.repeats import repeat_groups
from wildloop.store.tables import Media, Prediction, PredictionSet


def test_a_planted_static_box_is_found_once_and_animals_are_not(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    with project.db.session() as session:
        sets = session.execute(
            select(PredictionSet.id, PredictionSet.media_id, Media.camera_id)
            .join(Media, Media.id == PredictionSet.media_id)
            .where(PredictionSet.model_version_id == review_setup.model_id)
        ).all()
        camera = sets[0].camera_id
        planted = [s for s in sets if s.camera_id == camera]
        session.execute(
            insert(Prediction),
            [
                {
                    "prediction_set_id": s.id,
                    "class_id": 4,
                    "class_name": "pig",
                    "score": 0.6,
                    "x": 0.05 + 0.001 * (n % 3),
                    "y": 0.7,
                    "w": 0.12,
                    "h": 0.2,
                }
                for n, s in enumerate(planted)
            ],
        )
        bursts = len(
            set(session.scalars(select(Media.sequence_id).where(Media.camera_id == camera)))
        )
        groups = repeat_groups(session, min_score=0.25, min_items=5, min_bursts=2)
    assert len(groups) == 1 and bursts >= 2
    assert set(groups[0].media_ids) == {s.media_id for s in planted}
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
