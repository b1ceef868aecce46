"""Before/after summary of a processing job, stored as the job's result.

For the media a job covered it compares the new version's predictions with an earlier
version's (per-class counts, mean confidence, items whose top class changed) and with the
current human labels of reviewed items (items that now disagree). Only predictions at or
above the display threshold (per class, else the default) count, as a reviewer sees them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from wildloop.processing.prediction_settings import describe
from wildloop.project import Project
from wildloop.store.tables import (
    Job,
    JobChunk,
    LabelBox,
    LabelRevision,
    Media,
    ModelVersion,
    Prediction,
    PredictionSet,
)

GROUP = 500
EXAMPLES = 20


@dataclass
class _Side:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    score_sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    items: int = 0
    failed: int = 0

    def add(self, found: list[tuple[str, float]]) -> None:
        for name, score in found:
            self.counts[name] += 1
            self.score_sums[name] += score

    def as_dict(self) -> dict[str, Any]:
        total = sum(self.counts.values())
        return {
            "items": self.items,
            "failed": self.failed,
            "detections": total,
            "mean_confidence": round(sum(self.score_sums.values()) / total, 4) if total else None,
            "per_class": {
                name: {
                    "count": n,
                    "mean_confidence": round(self.score_sums[name] / n, 4),
                }
                for name, n in sorted(self.counts.items())
            },
        }


def summarise_job(project: Project, job_id: int) -> dict[str, Any]:
    thresholds = project.config.thresholds
    with project.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None
        params = dict(job.params or {})
        media_ids = _job_media(session, job_id)
        after_id = int(params["model_version_id"])
        before_id = params.get("compare_to")
        names = {
            v.id: v.name
            for v in session.scalars(
                select(ModelVersion).where(ModelVersion.id.in_([after_id, before_id or after_id]))
            )
        }
        after, before = _Side(), _Side()
        changed: list[dict[str, Any]] = []
        disagree: list[dict[str, Any]] = []
        changed_n = disagree_n = reviewed_n = 0
        for group in _groups(media_ids):
            new = _predictions(session, after_id, group, thresholds)
            old = _predictions(session, before_id, group, thresholds) if before_id else {}
            labels = _label_classes(session, group, project)
            for media_id in group:
                found = new.get(media_id)
                if found is None:
                    continue
                status, boxes = found
                after.items += 1
                after.failed += status == "failed"
                after.add(boxes)
                top_new = _top(boxes)
                if media_id in old:
                    before.items += 1
                    before.failed += old[media_id][0] == "failed"
                    before.add(old[media_id][1])
                    top_old = _top(old[media_id][1])
                    if top_old != top_new:
                        changed_n += 1
                        if len(changed) < EXAMPLES:
                            changed.append(
                                {"media_id": media_id, "before": top_old, "after": top_new}
                            )
                if media_id in labels and status == "ok":
                    reviewed_n += 1
                    predicted = sorted({name for name, _ in boxes})
                    if predicted != labels[media_id]:
                        disagree_n += 1
                        if len(disagree) < EXAMPLES:
                            disagree.append(
                                {
                                    "media_id": media_id,
                                    "label": labels[media_id],
                                    "predicted": predicted,
                                }
                            )
    return {
        "purpose": params.get("purpose"),
        "scope": params.get("scope"),
        "items": len(media_ids),
        "display_threshold": thresholds.default,
        "settings": params.get("settings"),
        "settings_described": describe(params["settings"]) if params.get("settings") else None,
        "after": {"model_version_id": after_id, "name": names.get(after_id)} | after.as_dict(),
        "before": (
            {"model_version_id": before_id, "name": names.get(before_id)} | before.as_dict()
            if before_id
            else None
        ),
        "top_class_changed": {"count": changed_n, "examples": changed},
        "reviewed_disagreeing": {"reviewed": reviewed_n, "count": disagree_n, "examples": disagree},
    }


def _job_media(session: Session, job_id: int) -> list[int]:
    ids: list[int] = []
    for payload in session.scalars(
        select(JobChunk.payload).where(JobChunk.job_id == job_id).order_by(JobChunk.seq)
    ):
        ids.extend(payload.get("media_ids", []))
    return ids


def _groups(ids: Iterable[int]) -> Iterator[list[int]]:
    it = iter(ids)
    while group := list(islice(it, GROUP)):
        yield group


def _predictions(
    session: Session, version_id: int, media_ids: list[int], thresholds: Any
) -> dict[int, tuple[str, list[tuple[str, float]]]]:
    sets = dict(
        session.execute(
            select(PredictionSet.media_id, PredictionSet.status).where(
                PredictionSet.model_version_id == version_id,
                PredictionSet.media_id.in_(media_ids),
            )
        ).all()
    )
    out: dict[int, tuple[str, list[tuple[str, float]]]] = {m: (s, []) for m, s in sets.items()}
    rows = session.execute(
        select(PredictionSet.media_id, Prediction.class_name, Prediction.score)
        .join(Prediction, Prediction.prediction_set_id == PredictionSet.id)
        .where(
            PredictionSet.model_version_id == version_id,
            PredictionSet.media_id.in_(media_ids),
            Prediction.score >= min([thresholds.default, *thresholds.per_class.values()]),
        )
    ).all()
    for media_id, name, score in rows:
        if score >= thresholds.per_class.get(name, thresholds.default):
            out[media_id][1].append((name, score))
    return out


def _label_classes(
    session: Session, media_ids: list[int], project: Project
) -> dict[int, list[str]]:
    """Class names in the current human labels of reviewed items (empty list = no animal)."""
    revisions = session.execute(
        select(Media.id, LabelRevision.id)
        .join(
            LabelRevision,
            and_(
                LabelRevision.media_id == Media.id, LabelRevision.revision == Media.label_revision
            ),
        )
        .where(Media.id.in_(media_ids), Media.reviewed.is_(True))
    ).all()
    by_revision = {rev: media for media, rev in revisions}
    labels: dict[int, set[str]] = {media: set() for media, _ in revisions}
    if by_revision:
        boxes = session.execute(
            select(LabelBox.revision_id, LabelBox.class_id).where(
                LabelBox.revision_id.in_(list(by_revision)),
                LabelBox.class_id.is_not(None),
                LabelBox.false_positive.is_(False),
                LabelBox.invalid_reason.is_(None),
            )
        ).all()
        classes = project.classes
        for revision_id, class_id in boxes:
            if class_id is not None:
                labels[by_revision[revision_id]].add(classes.name_of(class_id))
    return {m: sorted(names) for m, names in labels.items()}


def _top(boxes: list[tuple[str, float]]) -> str | None:
    return max(boxes, key=lambda b: b[1])[0] if boxes else None
