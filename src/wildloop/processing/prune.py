"""Removing a retired version's prediction sets, on request only.

Predictions that a person's label points at (``corrects_prediction_id``) are kept with
their sets: deleting them would change a human label row (the reference would be nulled),
and machines never modify human labels.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.errors import Conflict
from wildloop.registry.versions import get_version
from wildloop.store.bulk import rows_changed
from wildloop.store.tables import LabelBox, ModelAlias, ModelVersion, Prediction, PredictionSet


@dataclass(frozen=True)
class PruneReport:
    version_id: int
    name: str
    sets_deleted: int
    sets_kept: int


def prune_version(session: Session, ref: str, actor_id: int | None = None) -> PruneReport:
    """Retire ``ref`` (it must hold no alias) and delete its unreferenced prediction sets."""
    version = get_version(session, ref)
    held = session.scalars(
        select(ModelAlias.alias).where(ModelAlias.model_version_id == version.id)
    ).all()
    if held:
        raise Conflict(
            f"model {version.name!r} is the {', '.join(held)}; promote or roll back another "
            "version before pruning this one"
        )
    referenced = exists().where(
        LabelBox.corrects_prediction_id == Prediction.id,
        Prediction.prediction_set_id == PredictionSet.id,
    )
    kept = len(
        session.scalars(
            select(PredictionSet.id).where(PredictionSet.model_version_id == version.id, referenced)
        ).all()
    )
    deleted = rows_changed(
        session,
        delete(PredictionSet).where(PredictionSet.model_version_id == version.id, ~referenced),
    )
    session.execute(update(ModelVersion).where(ModelVersion.id == version.id).values(retired=True))
    audit.record(
        session,
        actor_id=actor_id,
        action="model.prune",
        entity="model_version",
        entity_id=version.id,
        after={"sets_deleted": deleted, "sets_kept": kept},
    )
    return PruneReport(version.id, version.name, deleted, kept)
