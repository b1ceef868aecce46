"""Per-class thresholds of a detector read from what people reviewed.

For one model version: the reviewed images (of the chosen splits, at their current label
revision) that the version has predictions for; its boxes are matched to the human boxes by
the evaluator's matching at IoU 0.5; per class, the precision-recall curve over its boxes and
the cut-off for a target precision (or of best F1). Each computation is stored as a row of
``class_threshold_sets`` (kept, never updated: reviews grow), and ``apply_thresholds`` writes
the newest into the project's ``thresholds.per_class``, audited.

Only items the version already predicted are used: computing never runs inference, so the
curve says how the deployed predictions would have been cut.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from wildloop import audit
from wildloop.errors import BadInput, NotFound
from wildloop.evaluation.evaluator import model_detections
from wildloop.evaluation.matching import IOU_THRESHOLDS, ImageDetections, ImageTruth, build_table
from wildloop.evaluation.precision_thresholds import (
    pr_curve,
    threshold_for_best_f1,
    threshold_for_precision,
)
from wildloop.project import Project
from wildloop.registry.versions import get_version
from wildloop.store.tables import (
    ClassThresholdSet,
    LabelBox,
    LabelRevision,
    Media,
    PredictionSet,
)
from wildloop.users.roles import Actor, require_admin

DEFAULT_SPLITS = ("val", "test")
SPLITS = ("train", "val", "test")
MATCH_IOU = 0.5
MODES = ("precision", "best_f1")


@dataclass(frozen=True)
class ThresholdSet:
    id: int
    model_version_id: int
    model: str
    mode: str
    target_precision: float | None
    iou: float
    splits: list[str]
    items: int
    classes: dict[str, Any]
    created_at: datetime

    def thresholds(self) -> dict[str, float]:
        """Class name -> chosen threshold, for the classes where one was found."""
        return {
            name: float(v["threshold"]["threshold"])
            for name, v in self.classes.items()
            if v["threshold"]["threshold"] is not None
        }

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["created_at"] = self.created_at.isoformat()
        out["thresholds"] = self.thresholds()
        return out


def check_request(mode: str, target_precision: float, splits: Sequence[str]) -> None:
    """Refuse a request before any work (the CLI and the API call this before submitting)."""
    if mode not in MODES:
        raise BadInput(f"mode must be one of {', '.join(MODES)}")
    if not 0 < target_precision <= 1:
        raise BadInput("the target precision must lie in (0, 1]")
    unknown = sorted(set(splits) - set(SPLITS))
    if not splits or unknown:
        raise BadInput(f"splits must be among {', '.join(SPLITS)} (got {list(splits)})")


def reviewed_items(project: Project, version_id: int, splits: Sequence[str]) -> list[int]:
    """Reviewed images of these splits that the version has a good prediction set for."""
    with project.db.session() as session:
        return list(
            session.scalars(
                select(Media.id)
                .join(
                    PredictionSet,
                    (PredictionSet.media_id == Media.id)
                    & (PredictionSet.model_version_id == version_id)
                    & (PredictionSet.status == "ok"),
                )
                .where(
                    Media.kind == "image",
                    Media.status == "ok",
                    Media.reviewed.is_(True),
                    Media.split.in_(list(splits)),
                )
                .order_by(Media.id)
            )
        )


def _truth(project: Project, media_ids: Sequence[int]) -> dict[int, list[tuple[Any, int]]]:
    """Human boxes (x, y, w, h) and class id of each item's current revision."""
    out: dict[int, list[tuple[Any, int]]] = {m: [] for m in media_ids}
    with project.db.session() as session:
        for start in range(0, len(media_ids), 500):
            rows = session.execute(
                select(LabelRevision.media_id, LabelBox.class_id, LabelBox.x, LabelBox.y)
                .add_columns(LabelBox.w, LabelBox.h)
                .join(LabelBox, LabelBox.revision_id == LabelRevision.id)
                .join(
                    Media,
                    (Media.id == LabelRevision.media_id)
                    & (Media.label_revision == LabelRevision.revision),
                )
                .where(
                    LabelRevision.media_id.in_(media_ids[start : start + 500]),
                    LabelBox.class_id.is_not(None),
                    LabelBox.false_positive.is_(False),
                )
            ).all()
            for r in rows:
                if None not in (r.x, r.y, r.w, r.h):
                    out[r.media_id].append(((r.x, r.y, r.w, r.h), int(r.class_id)))
    return out


def class_curves(
    project: Project,
    version_id: int,
    media_ids: Sequence[int],
    *,
    mode: str,
    target_precision: float,
) -> dict[str, Any]:
    """Per project class: the chosen threshold and the PR curve of the version's boxes."""
    truth = _truth(project, media_ids)
    dets = model_detections(project, version_id, media_ids)
    truths = [
        ImageTruth.of([b for b, _ in truth[m]], [c for _, c in truth[m]], f"media/{m}")
        for m in media_ids
    ]
    detections = [
        ImageDetections.of(
            [r[0] for r in dets.get(m, [])],
            [r[1] for r in dets.get(m, [])],
            [r[2] for r in dets.get(m, [])],
        )
        for m in media_ids
    ]
    class_ids = [c.id for c in project.classes]
    table = build_table(truths, detections, class_ids)
    column = int(np.flatnonzero(np.isclose(IOU_THRESHOLDS, MATCH_IOU))[0])
    out: dict[str, Any] = {}
    for k, cid in enumerate(table.class_ids):
        mask = table.det_class == cid
        hits, scores = table.det_tp[mask, column], table.det_score[mask]
        positives = int(table.gt_counts[:, k].sum())
        if mode == "best_f1":
            choice = threshold_for_best_f1(hits, scores, positives)
        else:
            choice = threshold_for_precision(hits, scores, target_precision, positives)
        out[project.classes.name_of(int(cid))] = {
            "threshold": choice.as_dict(),
            "boxes": int(mask.sum()),
            "curve": pr_curve(hits, scores, positives),
        }
    return out


def compute_thresholds(
    project: Project,
    model: str | int = "champion",
    *,
    mode: str = "precision",
    target_precision: float = 0.9,
    splits: Sequence[str] = DEFAULT_SPLITS,
    job_id: int | None = None,
    created_by: int | None = None,
) -> ThresholdSet:
    """Compute and store the version's per-class thresholds from reviewed items."""
    check_request(mode, target_precision, splits)
    with project.db.session() as session:
        version = get_version(session, model)
        version_id, name = version.id, version.name
    items = reviewed_items(project, version_id, splits)
    if not items:
        raise BadInput(
            f"no reviewed images of the {', '.join(splits)} split(s) have predictions of "
            f"{name}: review some, or run the model on reviewed items first"
        )
    classes = class_curves(project, version_id, items, mode=mode, target_precision=target_precision)
    with project.db.session() as session:
        row = ClassThresholdSet(
            model_version_id=version_id,
            job_id=job_id,
            mode=mode,
            target_precision=target_precision if mode == "precision" else None,
            iou=MATCH_IOU,
            splits=list(splits),
            items=len(items),
            classes=classes,
            created_by=created_by,
        )
        session.add(row)
        session.flush()
        return _record(row, name)


def _record(row: ClassThresholdSet, model: str) -> ThresholdSet:
    return ThresholdSet(
        row.id,
        row.model_version_id,
        model,
        row.mode,
        row.target_precision,
        row.iou,
        list(row.splits),
        row.items,
        dict(row.classes),
        row.created_at,
    )


def latest_thresholds(project: Project, model: str | int = "champion") -> ThresholdSet:
    """The newest stored computation for the version (NotFound when there is none)."""
    with project.db.session() as session:
        version = get_version(session, model)
        row = session.scalar(
            select(ClassThresholdSet)
            .where(ClassThresholdSet.model_version_id == version.id)
            .order_by(ClassThresholdSet.id.desc())
            .limit(1)
        )
        if row is None:
            raise NotFound(
                f"no thresholds computed for {version.name} yet: run `wildloop thresholds "
                "compute` first"
            )
        return _record(row, version.name)


def apply_thresholds(
    project: Project, model: str | int = "champion", *, actor: Actor | None
) -> dict[str, Any]:
    """Write the newest computed thresholds into ``thresholds.per_class`` (audited).

    Only an admin may (``actor``); ``None`` is the local command line, run by whoever owns
    the config file and could edit it by hand, recorded without an actor. Classes without a
    threshold (no cut-off reached the target) keep what they had."""
    if actor is not None:
        require_admin(actor, "change class thresholds")
    found = latest_thresholds(project, model)
    chosen = found.thresholds()
    if not chosen:
        raise BadInput(
            f"the thresholds of {found.model} (set {found.id}) reach the target for no class: "
            "nothing to apply"
        )
    settings = project.config.thresholds
    before = dict(settings.per_class)
    # Values another version's thresholds left are not carried over to this one.
    kept = before if settings.per_class_model in (None, found.model_version_id) else {}
    after = {**kept, **chosen}
    with project.db.session() as session:
        audit.record(
            session,
            actor_id=actor.id if actor else None,
            action="thresholds.apply",
            entity="project",
            entity_id=project.config.name,
            before={"per_class": before},
            reason=None if actor else "command line",
            after={"per_class": after, "threshold_set_id": found.id, "model": found.model},
        )
        settings.per_class = after
        settings.per_class_model = found.model_version_id
        project.save_config()
    return {"threshold_set_id": found.id, "model": found.model, "before": before, "after": after}


def follow_champion(project: Project, champion_id: int, actor_id: int | None) -> str | None:
    """After the champion moved to ``champion_id``: its newest computed thresholds take effect
    (audited as ``thresholds.follow``), or, when it has none, per-class thresholds computed
    for another version are cleared so ``thresholds.default`` applies; per-class thresholds
    set by hand (naming no model) stay. Returns what happened, for the person who promoted
    (None when nothing changed: no per-class thresholds before or after)."""
    settings = project.config.thresholds
    before, source = dict(settings.per_class), settings.per_class_model
    try:
        found: ThresholdSet | None = latest_thresholds(project, champion_id)
    except NotFound:
        found = None
    chosen = found.thresholds() if found is not None else {}
    if found is not None and chosen:
        after, owner = chosen, champion_id
        note = (
            f"per-class thresholds of {found.model} (set {found.id}, "
            f"{len(chosen)} classes) now apply"
        )
    elif source is not None and source != champion_id and before:
        after, owner = {}, None
        note = (
            f"the new champion has no computed per-class thresholds: those of version {source} "
            f"were cleared and thresholds.default ({settings.default:g}) applies to every "
            "class; run `wildloop thresholds compute` then `wildloop thresholds apply`"
        )
    elif before and source is None:
        return (
            "per-class thresholds set by hand (computed for no model) stay in effect for the "
            "new champion; `wildloop thresholds compute` reads its own from reviews"
        )
    else:
        return None
    if (after, owner) == (before, source):
        return note
    with project.db.session() as session:
        audit.record(
            session,
            actor_id=actor_id,
            action="thresholds.follow",
            entity="project",
            entity_id=project.config.name,
            before={"per_class": before, "model_version_id": source},
            after={
                "per_class": after,
                "model_version_id": owner,
                "threshold_set_id": found.id if found is not None and chosen else None,
            },
            reason=note,
        )
        settings.per_class, settings.per_class_model = after, owner
        project.save_config()
    return note
