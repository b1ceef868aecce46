"""One decision per repeat group: a false positive hides the boxes at that place of the
camera (review, counts, later predictions), labels the frames as hard negatives, and undoes."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from tests.support.review import plant_static_box
from tests.support.web import ReviewSetup
from wildloop.analytics.detections import predicted_detections
from wildloop.domain.labels import LabelSet
from wildloop.domain.repeats import RepeatGroup
from wildloop.errors import Conflict
from wildloop.project import Project
from wildloop.review.dashboard import NO_ANIMAL, class_counts
from wildloop.review.labels import current_labels, save_labels
from wildloop.review.predictions import load_predictions
from wildloop.review.repeat_decisions import decide, labelled_frames, undo
from wildloop.review.repeats import repeat_groups
from wildloop.store.tables import AuditEntry, Media, Prediction, PredictionSet, User

RULE = {"iou": 0.85, "min_items": 5, "min_bursts": 2}


def _groups(project: Project) -> list[RepeatGroup]:
    with project.db.session() as session:
        return repeat_groups(session, min_score=project.config.thresholds.default, **RULE)


def _decide(project: Project, group: RepeatGroup, kind: str) -> tuple[int, list[list[int]]]:
    with project.db.session() as session:
        admin = session.scalar(select(User.id).where(User.username == "ada"))
        assert admin is not None
        row = decide(
            session,
            group,
            kind,
            actor_id=admin,
            classes=project.classes,
            iou=0.85,
            min_score=project.config.thresholds.default,
        )
        return row.id, labelled_frames(session, row.id)


def _reviewed(project: Project, media_ids: list[int]) -> dict[int, tuple[bool, int]]:
    with project.db.session() as session:
        rows = session.execute(
            select(Media.id, Media.reviewed, Media.label_revision).where(Media.id.in_(media_ids))
        ).all()
    return {r.id: (r.reviewed, r.label_revision) for r in rows}


def test_false_positive_hides_the_place_labels_hard_negatives_and_undoes(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    planted = plant_static_box(project, review_setup.model_id)
    [group] = _groups(project)
    # A frame a person already reviewed keeps its review.
    kept = planted[0]
    with project.db.session() as session:
        save_labels(
            session,
            kept,
            LabelSet(empty=True),
            author_id=1,
            classes=project.classes,
            expected_revision=0,
        )
    before = _reviewed(project, planted)

    decision, labelled = _decide(project, group, "false_positive")

    assert _groups(project) == []  # decided: off the list
    assert sorted(m for m, _ in labelled) == sorted(planted[1:])
    after = _reviewed(project, planted)
    assert after[kept] == before[kept]
    rock = set(group.prediction_ids)
    with project.db.session() as session:
        others = {
            m: session.scalars(
                select(Prediction.id)
                .join(PredictionSet, PredictionSet.id == Prediction.prediction_set_id)
                .where(
                    PredictionSet.media_id == m,
                    Prediction.score >= project.config.thresholds.default,
                    Prediction.id.not_in(rock),
                )
            ).all()
            for m in planted[1:]
        }
        for m in planted[1:]:
            labels = current_labels(session, m)
            assert labels is not None
            negatives = [b for b in labels.boxes if b.false_positive]
            assert [b.corrects_prediction_id in rock for b in negatives] == [True]
            # Reviewed as empty where the model saw nothing else; else it stays to review.
            assert labels.empty == (not others[m]) == after[m][0]
            shown = load_predictions(session, m, review_setup.model_id, project.config.thresholds)
            assert not any(p.shown for p in shown if p.id in rock)
            assert all(p.shown for p in shown if p.id in others[m])
    assert any(others.values()) and not all(others.values())

    # A later prediction at that place on that camera is hidden too; on a frame where it is
    # the model's only box, the frame counts as no animal.
    frame = next(m for m in planted[1:] if others[m])
    default = project.config.thresholds.default
    with project.db.session() as session:
        camera = session.scalar(select(Media.camera_id).where(Media.id == frame))
        top_class, top_score = session.execute(
            select(PredictionSet.top_class_id, PredictionSet.top_score).where(
                PredictionSet.media_id == frame
            )
        ).one()
        counts0 = class_counts(session, project.classes)
        found0 = [d for d in predicted_detections(session, {}, default) if d[0] == camera]
        session.execute(delete(Prediction).where(Prediction.id.in_(others[frame])))
        session.execute(
            update(PredictionSet)
            .where(PredictionSet.media_id == frame)
            .values(top_class_id=project.classes.id_of("pig"), top_score=0.9)
        )
    with project.db.session() as session:
        counts1 = class_counts(session, project.classes)
        found1 = [d for d in predicted_detections(session, {}, default) if d[0] == camera]
    was = project.classes.display_name(top_class) or NO_ANIMAL
    assert counts1[NO_ANIMAL]["model"] == counts0[NO_ANIMAL]["model"] + (was != NO_ANIMAL)
    assert counts1["pig"]["model"] == counts0["pig"]["model"] - (was == "pig")
    assert len(found1) == len(found0) - (top_score is not None and top_score >= default)

    with project.db.session() as session:
        out = undo(session, decision, actor_id=1, classes=project.classes)
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.entity == "repeat_decision")
        ).all()
    assert sorted(out["restored"]) == sorted(planted[1:]) and out["kept"] == []
    assert actions == ["repeats.decide", "repeats.undo"]
    # Undone: the group is back, the labelled frames are unreviewed with their old labels.
    assert [g.key for g in _groups(project)] == [group.key]
    restored = _reviewed(project, planted)
    assert all(not restored[m][0] for m in planted[1:]) and restored[kept] == before[kept]
    with project.db.session() as session:
        assert all(
            not any(b.false_positive for b in (current_labels(session, m) or LabelSet()).boxes)
            for m in planted[1:]
        )
        try:
            undo(session, decision, actor_id=1, classes=project.classes)
        except Conflict as e:
            assert "already undone" in str(e)
        else:
            raise AssertionError("a second undo must be refused")


def test_undo_keeps_a_frame_someone_saved_since(review_setup: ReviewSetup) -> None:
    project = review_setup.project
    plant_static_box(project, review_setup.model_id)
    [group] = _groups(project)
    decision, labelled = _decide(project, group, "false_positive")
    media_id, revision = labelled[0]
    with project.db.session() as session:
        save_labels(
            session,
            media_id,
            LabelSet(empty=True),
            author_id=1,
            classes=project.classes,
            expected_revision=revision,
        )
        out = undo(session, decision, actor_id=1, classes=project.classes)
    assert out["kept"] == [media_id]
    assert media_id not in out["restored"] and len(out["restored"]) == len(labelled) - 1


def test_a_real_decision_keeps_the_boxes_and_takes_the_group_off_the_list(
    review_setup: ReviewSetup,
) -> None:
    project = review_setup.project
    planted = plant_static_box(project, review_setup.model_id)
    [group] = _groups(project)
    before = _reviewed(project, planted)
    _, labelled = _decide(project, group, "real")
    assert labelled == [] and _groups(project) == []
    assert _reviewed(project, planted) == before
    with project.db.session() as session:
        shown = load_predictions(
            session, planted[0], review_setup.model_id, project.config.thresholds
        )
    assert any(p.shown for p in shown if p.id in group.prediction_ids)
