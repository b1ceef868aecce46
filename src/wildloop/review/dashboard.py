"""The dashboard's numbers: media by status, split and camera, review progress, counts per
effective class, marks, and the jobs running now with their progress."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from wildloop.domain.classes import ClassMap
from wildloop.domain.job_states import ACTIVE
from wildloop.review.grid import champion_id
from wildloop.review.hidden_regions import hidden_media
from wildloop.review.marked import marked_counts
from wildloop.store import hints
from wildloop.store.tables import Job, Media, ModelVersion, PredictionSet

NO_ANIMAL = "(no animal)"
RECENT_JOBS = 8


@dataclass(frozen=True)
class JobView:
    id: int
    kind: str
    state: str
    done: int
    total: int | None
    percent: float | None
    rate: float | None
    eta_seconds: float | None
    message: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def class_counts(session: Session, classes: ClassMap) -> dict[str, dict[str, int]]:
    """Items per effective class: reviewed ones by their label, the rest by the champion.

    Counted from indexes: labelled classes from (label_class_id, id), the champion's classes
    over all its prediction sets minus those of reviewed items, which are few next to the
    archive (a join over every unreviewed item would read the whole media table)."""
    out: dict[str, dict[str, int]] = {
        name: {"human": 0, "model": 0} for name in [*classes.names, NO_ANIMAL]
    }

    def add(class_id: int | None, source: str, n: int) -> None:
        name = classes.display_name(class_id) or NO_ANIMAL
        out.setdefault(name, {"human": 0, "model": 0})[source] += n

    labelled = select(Media.label_class_id, func.count()).where(Media.label_class_id.is_not(None))
    labelled = hints.use_index(labelled, Media, "ix_media_label_class_id")
    for class_id, n in session.execute(labelled.group_by(Media.label_class_id)).all():
        add(class_id, "human", n)
    reviewed = session.scalar(
        hints.use_index(
            select(func.count()).select_from(Media).where(Media.reviewed == true()),
            Media,
            "ix_media_reviewed_id",
        )
    )
    add(None, "human", (reviewed or 0) - sum(c["human"] for c in out.values()))
    champion = champion_id(session)
    if champion is None:
        return out
    every = (
        select(PredictionSet.top_class_id, func.count())
        .where(PredictionSet.model_version_id == champion)
        .group_by(PredictionSet.top_class_id)
    )
    for class_id, n in session.execute(every).all():
        add(class_id, "model", n)
    # A correlated lookup per reviewed item, so the few reviewed items drive the query.
    top = (
        select(PredictionSet.top_class_id)
        .where(PredictionSet.media_id == Media.id, PredictionSet.model_version_id == champion)
        .scalar_subquery()
        .label("top")
    )
    of_reviewed = hints.use_index(
        select(top, func.count()).where(Media.reviewed == true()).group_by(top),
        Media,
        "ix_media_reviewed_id",
    )
    for class_id, n in session.execute(of_reviewed).all():
        add(class_id, "model", -n)
    hidden = hidden_media(session, champion, 0.0)
    if hidden:  # frames whose boxes are all static false positives show no animal
        of_hidden = (
            select(PredictionSet.top_class_id, func.count())
            .join(Media, Media.id == PredictionSet.media_id)
            .where(
                PredictionSet.model_version_id == champion,
                PredictionSet.media_id.in_(hidden),
                Media.reviewed.is_(False),
            )
            .group_by(PredictionSet.top_class_id)
        )
        for class_id, n in session.execute(of_hidden).all():
            add(class_id, "model", -n)
            add(None, "model", n)
    return out


def review_overview(session: Session, classes: ClassMap) -> dict[str, Any]:
    champion = champion_id(session)
    champion_name = (
        session.scalar(select(ModelVersion.name).where(ModelVersion.id == champion))
        if champion is not None
        else None
    )
    return {
        "champion": champion_name,
        "classes": class_counts(session, classes),
        "marked": marked_counts(session),
    }


def jobs_view(session: Session, active_only: bool = False) -> list[JobView]:
    """Running and queued jobs first, then the latest finished ones."""
    active = session.scalars(select(Job).where(Job.state.in_(ACTIVE)).order_by(Job.id.desc())).all()
    recent: Sequence[Job] = []
    if not active_only:
        recent = session.scalars(
            select(Job).where(Job.state.not_in(ACTIVE)).order_by(Job.id.desc()).limit(RECENT_JOBS)
        ).all()
    return [_job(j) for j in [*active, *recent]]


def _job(job: Job) -> JobView:
    percent = None
    if job.progress_total:
        percent = round(100.0 * job.progress_done / job.progress_total, 1)
    return JobView(
        id=job.id,
        kind=job.kind,
        state=job.state,
        done=job.progress_done,
        total=job.progress_total,
        percent=percent,
        rate=job.rate,
        eta_seconds=job.eta_seconds,
        message=job.message,
        error=job.error,
        created_at=job.created_at,
        finished_at=job.finished_at,
    )
