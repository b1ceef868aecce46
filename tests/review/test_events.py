"""Events on a real project: one action labels every frame of a burst in one transaction,
a stale frame refuses it whole, the count is the most in one frame, and the model's
smoothed suggestion is shown but never applied without the accept action."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from tests.support.review import db_state
from tests.support.web import ReviewSetup
from wildloop.cli.app import app
from wildloop.domain.boxes import Box
from wildloop.domain.events import event_counts, suggest
from wildloop.domain.labels import LabelBoxValue, LabelSet
from wildloop.errors import BadInput, Conflict, PermissionDenied
from wildloop.project import Project
from wildloop.review.actions import ReviewContext
from wildloop.review.events import apply_event_action, event_view, events_page
from wildloop.review.labels import current_labels, save_labels
from wildloop.review.predictions import load_predictions
from wildloop.store.tables import AuditEntry, LabelRevision, Media
from wildloop.users.accounts import load_actor
from wildloop.users.roles import Actor

WEAK = 0.5


def _ctx(project: Project) -> ReviewContext:
    return ReviewContext(classes=project.classes, thresholds=project.config.thresholds)


def _actor(project: Project, name: str) -> Actor:
    with project.db.session() as session:
        actor = load_actor(session, project.author(name))
    assert actor is not None
    return actor


def _event_with_boxes(setup: ReviewSetup) -> int:
    """A burst of several frames in which the model shows boxes on at least one."""
    project = setup.project
    ctx = _ctx(project)
    with project.db.session() as session:
        rows = session.execute(
            select(Media.sequence_id, func.count())
            .group_by(Media.sequence_id)
            .order_by(Media.sequence_id)
        ).all()
        for sequence_id, frames in rows:
            if frames < 3:
                continue
            view = event_view(session, ctx, sequence_id, setup.model_id, WEAK)
            if view.suggestion.class_name is not None:
                return int(sequence_id)
    raise AssertionError("the generated scenes have no burst with boxes")


def _expected(project: Project, event_id: int) -> dict[int, int]:
    with project.db.session() as session:
        view = event_view(session, _ctx(project), event_id, None, WEAK)
    return {f.id: f.label_revision for f in view.frames}


def test_event_view_shows_every_frame_and_a_suggestion_it_never_applies(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    event_id = _event_with_boxes(review_setup)
    before = db_state(project)
    with project.db.session() as session:
        view = event_view(session, _ctx(project), event_id, review_setup.model_id, WEAK)
        frames = list(
            session.scalars(
                select(Media.id)
                .where(Media.sequence_id == event_id)
                .order_by(Media.captured_at, Media.id)
            )
        )
        shown = [
            [
                (p.class_name, p.score)
                for p in load_predictions(
                    session, f, review_setup.model_id, project.config.thresholds
                )
                if p.shown
            ]
            for f in frames
        ]
    assert [f.id for f in view.frames] == frames
    assert view.suggestion == suggest(shown, WEAK)
    assert view.suggestion_text.startswith(f"suggested: {view.suggestion.class_name} ×")
    assert f"of {len(frames)} frames" in view.suggestion_text
    assert view.reviewed_frames == 0 and view.counts == {}
    # Every frame shows the model's boxes (none reviewed yet), with their scores.
    assert all(b.score is not None for f in view.frames for b in f.boxes)
    assert [len(f.boxes) for f in view.frames] == [len(s) for s in shown]
    # Looking, listing and the CLI write nothing: the suggestion waits for its key.
    with project.db.session() as session:
        listed = events_page(session, unreviewed=True, limit=500)
    assert event_id in [e.id for e in listed.items]
    result = CliRunner().invoke(app, ["events", "show", str(event_id), "-p", str(project.root)])
    assert result.exit_code == 0, result.output
    assert view.suggestion_text in result.output
    listed_cli = CliRunner().invoke(
        app, ["events", "list", "--unreviewed", "--json", "-p", str(project.root)]
    )
    assert listed_cli.exit_code == 0, listed_cli.output
    assert [e["id"] for e in json.loads(listed_cli.output)["items"]] == [e.id for e in listed.items]
    assert db_state(project) == before


def test_accepting_the_suggestion_labels_every_frame_in_one_revision_each(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    event_id = _event_with_boxes(review_setup)
    with project.db.session() as session:
        loaded = event_view(session, _ctx(project), event_id, review_setup.model_id, WEAK)
    suggested = loaded.suggestion
    shown = {f.id: len(f.boxes) for f in loaded.frames}
    expected = _expected(project, event_id)
    with project.db.session() as session:
        audits = session.scalar(select(func.count()).select_from(AuditEntry))
        result = apply_event_action(
            session,
            _ctx(project),
            _actor(project, "rita"),
            event_id,
            "accept",
            expected_revisions=expected,
            model_id=review_setup.model_id,
            weak=WEAK,
        )
    assert result.revisions == dict.fromkeys(expected, 1)
    assert suggested.class_name is not None
    suggested_id = project.classes.id_of(suggested.class_name)
    with project.db.session() as session:
        audits_after = session.scalar(select(func.count()).select_from(AuditEntry))
        labels = {i: current_labels(session, i) for i in expected}
        view = event_view(session, _ctx(project), event_id, None, WEAK)
    assert audits_after == audits + len(expected)  # one revision and audit entry per frame
    for media_id, label in labels.items():
        assert label is not None
        kept = [b for b in label.boxes if not b.false_positive]
        assert len(kept) == shown[media_id]  # every shown box, now of the suggested class
        assert all(b.class_id == suggested_id for b in kept)
        assert label.empty == (not kept)  # frames without boxes are saved as empty frames
    assert result.counts == view.counts == {suggested.class_name: max(shown.values())}
    assert view.reviewed_frames == len(expected) and view.next_unreviewed_id != event_id


def test_a_frame_saved_since_refuses_the_whole_event_and_nothing_is_half_done(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    event_id = _event_with_boxes(review_setup)
    expected = _expected(project, event_id)
    last = max(expected)
    with project.db.session() as session:  # remy saves one frame after rita loaded the event
        save_labels(
            session,
            last,
            LabelSet(empty=True),
            author_id=project.author("remy"),
            classes=project.classes,
            expected_revision=0,
        )
    before = db_state(project)
    for action, class_name in (("accept", None), ("empty", None), ("set_class", "doe")):
        refused = pytest.raises(Conflict, match=rf"media {last} \(now revision 1\).*nothing was")
        with refused, project.db.session() as session:
            apply_event_action(
                session,
                _ctx(project),
                _actor(project, "rita"),
                event_id,
                action,
                expected_revisions=expected,
                class_id=project.classes.id_of(class_name) if class_name else None,
                model_id=review_setup.model_id,
                weak=WEAK,
            )
        assert db_state(project) == before
    # With the fresh revisions the same action lands on every frame.
    with project.db.session() as session:
        result = apply_event_action(
            session,
            _ctx(project),
            _actor(project, "rita"),
            event_id,
            "empty",
            expected_revisions=_expected(project, event_id),
            model_id=review_setup.model_id,
            weak=WEAK,
        )
        authors = dict(
            session.execute(
                select(LabelRevision.media_id, func.count())
                .where(LabelRevision.media_id.in_(list(expected)))
                .group_by(LabelRevision.media_id)
            ).all()
        )
    assert result.counts == {}
    others = {i: r for i, r in result.revisions.items() if i != last}
    assert others == {i: 1 for i in expected if i != last}
    # Every frame holds exactly the revisions numbered up to its current one; remy's frame
    # gets a second only if "no animal" changes it (records shown predictions as false).
    assert authors == result.revisions


def test_the_event_count_is_the_most_in_one_frame(review_setup: ReviewSetup) -> None:
    project = review_setup.project
    event_id = _event_with_boxes(review_setup)
    frames = sorted(_expected(project, event_id))
    doe, buck = project.classes.id_of("doe"), project.classes.id_of("buck")

    def boxes(*classes: int) -> LabelSet:
        return LabelSet(
            boxes=tuple(
                LabelBoxValue(box=Box(0.1 * i, 0.1, 0.05, 0.05), class_id=c)
                for i, c in enumerate(classes)
            )
        )

    labelled = {frames[0]: boxes(doe, doe), frames[1]: boxes(doe, buck), frames[2]: boxes(doe)}
    with project.db.session() as session:
        for media_id, labels in labelled.items():
            save_labels(
                session,
                media_id,
                labels,
                author_id=project.author("rita"),
                classes=project.classes,
                expected_revision=0,
            )
        view = event_view(session, _ctx(project), event_id, None, WEAK)
    assert view.counts == {"buck": 1, "doe": 2}  # 2 does at once, not 4 over three frames
    assert view.reviewed_frames == 3


def test_refusals_write_nothing(review_setup: ReviewSetup) -> None:
    project = review_setup.project
    event_id = _event_with_boxes(review_setup)
    expected = _expected(project, event_id)
    before = db_state(project)
    cases = [
        (
            "rita",
            "accept",
            None,
            dict(list(expected.items())[1:]),
            BadInput,
            "missing frames",
        ),
        ("rita", "accept", None, expected | {999999: 0}, BadInput, "not in it [999999]"),
        ("rita", "set_class", None, expected, BadInput, "needs a class"),
        ("rita", "empty", "doe", expected, BadInput, "'class' is for set_class"),
        ("vic", "accept", None, expected, PermissionDenied, "viewer"),
    ]
    for user, action, class_name, revisions, error, words in cases:
        refused = pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]"))
        with refused, project.db.session() as session:
            apply_event_action(
                session,
                _ctx(project),
                _actor(project, user),
                event_id,
                action,
                expected_revisions=revisions,
                class_id=project.classes.id_of(class_name) if class_name else None,
                model_id=review_setup.model_id,
                weak=WEAK,
            )
    assert db_state(project) == before


@given(
    st.lists(
        st.lists(
            st.tuples(st.sampled_from(["doe", "buck", "person"]), st.floats(0.05, 1.0)), max_size=4
        ),
        min_size=1,
        max_size=8,
    )
)
def test_suggestion_counts_the_dominant_class_at_most_once_per_box_per_frame(
    frames: list[list[tuple[str, float]]],
) -> None:
    found = suggest(frames, WEAK)
    assert found.total == len(frames)
    animals = [[n for n, _ in f if n != "person"] for f in frames]
    if not any(animals):
        assert found.class_name is None and found.count == 0
        return
    assert found.class_name in {"doe", "buck"}
    assert 1 <= found.count <= max(len(a) for a in animals)
    assert 1 <= found.frames <= len(frames)
    counts = event_counts(animals)
    assert counts == {
        c: max(Counter(a)[c] for a in animals) for c in {n for a in animals for n in a}
    }


def test_a_save_racing_the_event_action_rolls_back_every_frame(
    review_setup: ReviewSetup,
) -> None:
    """A frame saved by someone else after the revisions were checked, while the action is
    writing (its first frame's claim about to run): the last frame's conditional claim then
    fails, and the frames already written are rolled back with it."""
    project = review_setup.project
    event_id = _event_with_boxes(review_setup)
    expected = _expected(project, event_id)
    last = max(expected)
    raced: list[int] = []

    def race(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if raced or not statement.lstrip().upper().startswith("UPDATE MEDIA SET LABEL_REVISION"):
            return
        raced.append(1)
        with project.db.session() as other:  # another connection: remy saves the last frame
            save_labels(
                other,
                last,
                LabelSet(empty=True),
                author_id=project.author("remy"),
                classes=project.classes,
                expected_revision=0,
            )

    ctx, rita = _ctx(project), _actor(project, "rita")
    event.listen(project.db.engine, "before_cursor_execute", race)
    try:
        refused = pytest.raises(Conflict, match=f"media {last} was saved by remy")
        with refused, project.db.session() as session:
            apply_event_action(
                session,
                ctx,
                rita,
                event_id,
                "empty",
                expected_revisions=expected,
                model_id=review_setup.model_id,
                weak=WEAK,
            )
    finally:
        event.remove(project.db.engine, "before_cursor_execute", race)
    assert raced
    with project.db.session() as session:
        revisions = dict(
            session.execute(
                select(Media.id, Media.label_revision).where(Media.id.in_(list(expected)))
            ).all()
        )
        authors = set(session.scalars(select(LabelRevision.author_id)))
    # Only remy's save stands: none of rita's frames kept a revision.
    assert revisions == {i: 1 if i == last else 0 for i in expected}
    assert authors == {project.author("remy")}
