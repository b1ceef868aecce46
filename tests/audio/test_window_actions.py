"""Review actions on audio windows through the shared label service: accept turns the
model's classes into spans, a number key labels the whole window, "nothing" is an empty
revision, and conflicts, undo and audit work as for images."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.audio.window_support import (
    AUDIO_CLASSES,
    Window,
    add_audio_champion,
    add_recording,
    write_recording,
)
from wildloop.errors import Conflict
from wildloop.project import Project
from wildloop.review.actions import Action, ReviewContext, perform_action
from wildloop.store.tables import AuditEntry, LabelBox, LabelRevision, Media, User
from wildloop.users.accounts import create_user
from wildloop.users.roles import Actor


@pytest.fixture
def audio_project(make_project: Callable[..., Project], tmp_path: Path) -> Project:
    return make_project(AUDIO_CLASSES, name="sounds")


def _setup(project: Project, tmp_path: Path) -> tuple[list[Window], int, Actor]:
    wav = write_recording(tmp_path / "rec.wav", 9.0, [(1.0, 2.0, 3000.0)])
    windows = add_recording(project, wav, "pond", datetime(2024, 5, 1, 5, 30))
    model_id = add_audio_champion(
        project,
        {
            windows[0].media_id: [("wren", 0.9), ("owl", 0.6)],
            windows[1].media_id: [("frog", 0.1)],  # below the display threshold
        },
    )
    with project.db.session() as session:
        create_user(session, "rita", "reviewer", None)
        user = session.scalars(select(User).where(User.username == "rita")).one()
        actor = Actor(id=user.id, username=user.username, role=user.role)
    return windows, model_id, actor


def _apply(project: Project, actor: Actor, media_id: int, action: Action, model_id: int) -> None:
    ctx = ReviewContext(classes=project.classes, thresholds=project.config.thresholds)
    with project.db.session() as session:
        perform_action(
            session, ctx, actor, media_id, action, expected_revision=None, model_id=model_id
        )


def _boxes(project: Project, media_id: int) -> list[tuple[object, ...]]:
    with project.db.session() as session:
        rows = session.execute(
            select(
                LabelBox.class_id,
                LabelBox.t_start,
                LabelBox.t_end,
                LabelBox.x,
                LabelBox.false_positive,
                LabelBox.corrects_prediction_id.is_not(None),
            )
            .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
            .join(Media, Media.id == LabelRevision.media_id)
            .where(Media.id == media_id, LabelRevision.revision == Media.label_revision)
            .order_by(LabelBox.id)
        ).all()
    return [tuple(r) for r in rows]


def test_accept_turns_the_shown_classes_into_window_spans(
    audio_project: Project, tmp_path: Path
) -> None:
    windows, model_id, actor = _setup(audio_project, tmp_path)
    first = windows[0]
    _apply(audio_project, actor, first.media_id, Action("accept"), model_id)
    wren, owl = (audio_project.classes.id_of(n) for n in ("wren", "owl"))
    assert _boxes(audio_project, first.media_id) == [
        (wren, 0.0, 3.0, None, False, True),
        (owl, 0.0, 3.0, None, False, True),
    ]
    with audio_project.db.session() as session:
        media = session.get_one(Media, first.media_id)
        assert (media.reviewed, media.label_class_id, media.label_revision) == (True, wren, 1)
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.entity_id == str(first.media_id))
        ).one()
    assert audit.action == "labels.accept"
    assert audit.after is not None
    assert audit.after["boxes"][0]["span"] == [0.0, 3.0, None, None]


def test_number_key_labels_the_whole_window_and_rejects_other_predictions(
    audio_project: Project, tmp_path: Path
) -> None:
    windows, model_id, actor = _setup(audio_project, tmp_path)
    owl = audio_project.classes.id_of("owl")
    _apply(audio_project, actor, windows[0].media_id, Action("set_class", class_id=owl), model_id)
    assert _boxes(audio_project, windows[0].media_id) == [
        (owl, 0.0, 3.0, None, False, True),  # confirms the model's owl
        (None, 0.0, 3.0, None, True, True),  # the wren was a false positive
    ]


def test_number_key_on_a_window_the_model_left_empty(
    audio_project: Project, tmp_path: Path
) -> None:
    windows, model_id, actor = _setup(audio_project, tmp_path)
    frog = audio_project.classes.id_of("frog")
    for window in windows[1:3]:  # below threshold, and no prediction set at all
        _apply(audio_project, actor, window.media_id, Action("set_class", class_id=frog), model_id)
        assert _boxes(audio_project, window.media_id) == [
            (frog, window.t_start, window.t_end, None, False, False)
        ]


def test_nothing_is_an_empty_revision_and_undo_returns_to_unreviewed(
    audio_project: Project, tmp_path: Path
) -> None:
    windows, model_id, actor = _setup(audio_project, tmp_path)
    media_id = windows[0].media_id
    _apply(audio_project, actor, media_id, Action("empty"), model_id)
    with audio_project.db.session() as session:
        revision = session.scalars(
            select(LabelRevision).where(LabelRevision.media_id == media_id)
        ).one()
        assert revision.empty
    assert [b[4] for b in _boxes(audio_project, media_id)] == [True, True]
    _apply(audio_project, actor, media_id, Action("undo"), model_id)
    with audio_project.db.session() as session:
        media = session.get_one(Media, media_id)
        assert (media.reviewed, media.label_revision) == (False, 2)


def test_a_stale_revision_is_a_conflict(audio_project: Project, tmp_path: Path) -> None:
    windows, model_id, actor = _setup(audio_project, tmp_path)
    media_id = windows[0].media_id
    _apply(audio_project, actor, media_id, Action("accept"), model_id)
    ctx = ReviewContext(classes=audio_project.classes, thresholds=audio_project.config.thresholds)
    with audio_project.db.session() as session, pytest.raises(Conflict, match="rita"):
        perform_action(
            session, ctx, actor, media_id, Action("empty"), expected_revision=0, model_id=model_id
        )
