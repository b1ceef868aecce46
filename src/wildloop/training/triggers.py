"""When to retrain without being asked: after N new reviewed items, or on a cron schedule.

Each trigger retrains one stage. ``triggers.after_reviewed`` and a ``detector`` schedule
create the same training job a person would (``start_training``, or ``start_head_training``
in an audio project, where N is ``audio.retrain_after_reviews`` reviewed windows);
``triggers.classifier_after_reviewed`` and a ``classifier`` schedule start the fast loop's
training (``start_classifier_training``: only the crop classifier, paired with the
champion's detector in a challenger pipeline). So "every 50 new reviewed items retrain the
classifier" sits beside "every 1000 retrain the detector"; each counts the items new since
the last successful training of its own stage. The trigger and stage are recorded in the
job's params. A check is cheap and stateless: the counts and the last trainings come from
the database, so any process (the web app, a cron line running ``wildloop triggers check
--run``, ``wildloop triggers watch``) can run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, and_, func, select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.audio.head_job import StartedHeadTraining, start_head_training
from wildloop.domain.model_kinds import CLASSIFIER
from wildloop.errors import BadInput, Conflict
from wildloop.jobs.training_guard import active_training
from wildloop.project import Project
from wildloop.store.tables import Job, LabelRevision, Media, SnapshotItem
from wildloop.training.classifier_job import StartedClassifierTraining, start_classifier_training
from wildloop.training.job import KIND, StartedTraining, start_training

STAGES = ("detector", "classifier")
Started = StartedTraining | StartedHeadTraining | StartedClassifierTraining


@dataclass(frozen=True)
class StageCount:
    """One stage's count trigger: reviewed items new since its last successful training."""

    new_reviewed: int
    threshold: int
    last_training_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "new_reviewed": self.new_reviewed,
            "threshold": self.threshold,
            "last_training_at": _iso(self.last_training_at),
        }


@dataclass(frozen=True)
class TriggerCheck:
    """What a check found. ``new_reviewed``, ``threshold`` and ``last_training_at`` are the
    detector stage's (the only stage of an audio project); ``classifier`` is the crop
    classifier's count, None in an audio project."""

    due: str | None  # "reviewed" or "schedule" when a training should start now
    reason: str
    new_reviewed: int
    threshold: int
    last_training_at: datetime | None
    next_scheduled_at: datetime | None
    stage: str | None = None  # the stage the due training retrains
    classifier: StageCount | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "stage": self.stage,
            "reason": self.reason,
            "new_reviewed": self.new_reviewed,
            "threshold": self.threshold,
            "last_training_at": _iso(self.last_training_at),
            "next_scheduled_at": _iso(self.next_scheduled_at),
            "classifier": self.classifier.as_dict() if self.classifier else None,
        }


def stage_of(params: dict[str, Any]) -> str:
    """The stage a training job's params retrain (an audio head is the detector's stage:
    the project's one model)."""
    return "classifier" if params.get("task") == CLASSIFIER else "detector"


def new_reviewed_items(project: Project, stage: str = "detector") -> tuple[int, datetime | None]:
    """Reviewed train/val items whose current labels are not in the snapshot of the last
    successful training of ``stage`` (new or changed since), and when that training was
    submitted."""
    with project.db.session() as session:
        last = _last_training(session, stage)
        snapshot_id = int(last.params["snapshot_id"]) if last else -1
        count = session.scalar(
            select(func.count())
            .select_from(Media)
            .join(
                LabelRevision,
                and_(
                    LabelRevision.media_id == Media.id,
                    LabelRevision.revision == Media.label_revision,
                ),
            )
            .outerjoin(
                SnapshotItem,
                and_(
                    SnapshotItem.snapshot_id == snapshot_id,
                    SnapshotItem.label_revision_id == LabelRevision.id,
                ),
            )
            .where(
                Media.status == "ok",
                Media.reviewed.is_(True),
                Media.split.in_(("train", "val")),
                SnapshotItem.media_id.is_(None),
            )
        )
        return int(count or 0), (last.created_at if last else None)


def _last_training(session: Session, stage: str) -> Row[tuple[dict[str, Any], datetime]] | None:
    """The params and submission time of the newest successful training of ``stage`` (its
    stage is in its params, so trainings are read newest first until one matches: there
    are few, and only these two columns are read)."""
    query = (
        select(Job.params, Job.created_at)
        .where(Job.kind == KIND, Job.state == "succeeded")
        .order_by(Job.id.desc())
    )
    for row in session.execute(query).all():
        if stage_of(row.params or {}) == stage:
            return row
    return None


def after_reviewed(project: Project) -> int:
    """New reviewed items that start a training (0: never); windows in an audio project."""
    if project.config.modality == "audio":
        return project.config.audio.retrain_after_reviews
    return project.config.triggers.after_reviewed


def classifier_after_reviewed(project: Project) -> int:
    """New reviewed items that start a classifier-only training (0: never; an audio project
    has no crop classifier)."""
    if project.config.modality == "audio":
        return 0
    return project.config.triggers.classifier_after_reviewed


def check_triggers(project: Project, now: datetime | None = None) -> TriggerCheck:
    """Which trigger is due now, if any: the detector's count first (the larger retrain),
    then the classifier's, then the schedule; nothing while a training is in progress."""
    now = now or datetime.now(UTC)
    settings = project.config.triggers
    threshold = after_reviewed(project)
    new, last_at = new_reviewed_items(project)
    classifier = None
    if project.config.modality != "audio":
        count, at = new_reviewed_items(project, "classifier")
        classifier = StageCount(count, classifier_after_reviewed(project), at)

    def check(due: str | None, reason: str, stage: str | None = None) -> TriggerCheck:
        return TriggerCheck(due, reason, new, threshold, last_at, next_at, stage, classifier)

    next_at = None
    schedule_due = False
    schedule_stage = settings.schedule_stage
    schedule_new = classifier.new_reviewed if schedule_stage == "classifier" and classifier else new
    if settings.schedule:
        from croniter import croniter

        if not croniter.is_valid(settings.schedule):
            raise BadInput(f"triggers.schedule {settings.schedule!r} is not a cron expression")
        previous_fire = croniter(settings.schedule, now).get_prev(datetime)
        next_at = croniter(settings.schedule, now).get_next(datetime)
        stage_last = (
            classifier.last_training_at
            if schedule_stage == "classifier" and classifier
            else last_at
        )
        schedule_due = stage_last is None or previous_fire > stage_last
    if active_training(project) is not None:
        return check(None, "a training is already in progress")
    if threshold and new >= threshold:
        return check(
            "reviewed",
            f"{new} reviewed items are new since the last training (threshold {threshold})",
            "detector",
        )
    if classifier and classifier.threshold and classifier.new_reviewed >= classifier.threshold:
        return check(
            "reviewed",
            f"{classifier.new_reviewed} reviewed items are new since the last classifier "
            f"training (threshold {classifier.threshold}): retraining the classifier only",
            "classifier",
        )
    if schedule_due and schedule_new > 0:
        return check(
            "schedule",
            f"the schedule {settings.schedule!r} ({schedule_stage}) has fired since the last "
            f"{schedule_stage} training",
            schedule_stage,
        )
    why = f"{new} new reviewed items"
    if threshold:
        why += f" (training starts at {threshold})"
    if classifier and classifier.threshold:
        why += (
            f"; {classifier.new_reviewed} since the last classifier training (the classifier "
            f"retrains at {classifier.threshold})"
        )
    if schedule_due and schedule_new == 0:
        why += "; the schedule fired but nothing changed since the last training"
    return check(None, why)


def run_triggers(
    project: Project, now: datetime | None = None, created_by: int | None = None
) -> tuple[TriggerCheck, Started | None]:
    """Start the due stage's training if a trigger is due; a concurrent start elsewhere is
    not an error."""
    check = check_triggers(project, now)
    if check.due is None:
        return check, None
    try:
        return check, _start(project, check, created_by)
    except Conflict:
        return check, None


def _start(project: Project, check: TriggerCheck, created_by: int | None) -> Started:
    assert check.due is not None
    if check.stage == "classifier":
        return start_classifier_training(project, trigger=check.due, created_by=created_by)
    if project.config.modality == "audio":
        return start_head_training(project, trigger=check.due, created_by=created_by)
    return start_training(project, trigger=check.due, created_by=created_by)


def set_triggers(
    project: Project, changes: dict[str, Any], actor_id: int | None = None
) -> dict[str, Any]:
    """Change trigger settings (None leaves one as it is), validated as the config file is,
    saved, and audited; returns the settings now in effect."""
    settings = project.config.triggers
    before = settings.model_dump()
    wanted = before | {k: v for k, v in changes.items() if v is not None}
    try:
        updated = type(settings).model_validate(wanted)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadInput(f"bad trigger settings: {problems}") from None
    if updated.schedule:
        from croniter import croniter

        if not croniter.is_valid(updated.schedule):
            raise BadInput(f"schedule {updated.schedule!r} is not a cron expression")
    after = updated.model_dump()
    if after != before:
        with project.db.session() as session:
            audit.record(
                session,
                actor_id=actor_id,
                action="triggers.set",
                entity="project",
                entity_id=project.config.name,
                before=before,
                after=after,
            )
        project.config.triggers = updated
        project.save_config()
    return after


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
