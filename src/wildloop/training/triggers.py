"""When to retrain without being asked: after N new reviewed items, or on a cron schedule.

Both triggers create the same training job a person would (``start_training``, or
``start_head_training`` in an audio project, where N is ``audio.retrain_after_reviews``
reviewed windows), with the trigger recorded in its params. A check is cheap and stateless:
the counts and the last training come from the database, so any process (the web app, a
cron line running ``wildloop triggers check --run``, ``wildloop triggers watch``) can run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select

from wildloop.audio.head_job import StartedHeadTraining, start_head_training
from wildloop.errors import BadInput, Conflict
from wildloop.jobs.training_guard import active_training
from wildloop.project import Project
from wildloop.store.tables import Job, LabelRevision, Media, SnapshotItem
from wildloop.training.job import KIND, StartedTraining, start_training


@dataclass(frozen=True)
class TriggerCheck:
    due: str | None  # "reviewed" or "schedule" when a training should start now
    reason: str
    new_reviewed: int
    threshold: int
    last_training_at: datetime | None
    next_scheduled_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "reason": self.reason,
            "new_reviewed": self.new_reviewed,
            "threshold": self.threshold,
            "last_training_at": self.last_training_at.isoformat()
            if self.last_training_at
            else None,
            "next_scheduled_at": (
                self.next_scheduled_at.isoformat() if self.next_scheduled_at else None
            ),
        }


def new_reviewed_items(project: Project) -> tuple[int, datetime | None]:
    """Reviewed train/val items whose current labels are not in the last successful training's
    snapshot (new or changed since), and when that training was submitted."""
    with project.db.session() as session:
        last = session.execute(
            select(Job.params, Job.created_at)
            .where(Job.kind == KIND, Job.state == "succeeded")
            .order_by(Job.id.desc())
            .limit(1)
        ).first()
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


def after_reviewed(project: Project) -> int:
    """New reviewed items that start a training (0: never); windows in an audio project."""
    if project.config.modality == "audio":
        return project.config.audio.retrain_after_reviews
    return project.config.triggers.after_reviewed


def check_triggers(project: Project, now: datetime | None = None) -> TriggerCheck:
    now = now or datetime.now(UTC)
    settings = project.config.triggers
    threshold = after_reviewed(project)
    new, last_at = new_reviewed_items(project)
    next_at = None
    schedule_due = False
    if settings.schedule:
        from croniter import croniter

        if not croniter.is_valid(settings.schedule):
            raise BadInput(f"triggers.schedule {settings.schedule!r} is not a cron expression")
        previous_fire = croniter(settings.schedule, now).get_prev(datetime)
        next_at = croniter(settings.schedule, now).get_next(datetime)
        schedule_due = last_at is None or previous_fire > last_at
    if active_training(project) is not None:
        return TriggerCheck(
            None,
            "a training is already in progress",
            new,
            threshold,
            last_at,
            next_at,
        )
    if threshold and new >= threshold:
        return TriggerCheck(
            "reviewed",
            f"{new} reviewed items are new since the last training (threshold {threshold})",
            new,
            threshold,
            last_at,
            next_at,
        )
    if schedule_due and new > 0:
        return TriggerCheck(
            "schedule",
            f"the schedule {settings.schedule!r} has fired since the last training",
            new,
            threshold,
            last_at,
            next_at,
        )
    why = f"{new} new reviewed items"
    if threshold:
        why += f" (training starts at {threshold})"
    if schedule_due and new == 0:
        why += "; the schedule fired but nothing changed since the last training"
    return TriggerCheck(None, why, new, threshold, last_at, next_at)


def run_triggers(
    project: Project, now: datetime | None = None, created_by: int | None = None
) -> tuple[TriggerCheck, StartedTraining | StartedHeadTraining | None]:
    """Start a training if a trigger is due; a concurrent start elsewhere is not an error."""
    check = check_triggers(project, now)
    if check.due is None:
        return check, None
    start = start_head_training if project.config.modality == "audio" else start_training
    try:
        return check, start(project, trigger=check.due, created_by=created_by)
    except Conflict:
        return check, None
