"""Gated promotion: the challenger becomes champion only when the gate says so.

The registry's alias move is the atomic switch; this module decides whether to make it. Every
decision is written to the audit trail (passed, refused, or overridden with a reason), which
is also where the retraining log reads its notes. An override needs a reason, always.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wildloop import audit
from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput
from wildloop.evaluation.comparison import Comparison, compare_models
from wildloop.evaluation.evaluator import Predict
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import get_version, require_fit
from wildloop.store.tables import ModelVersion

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GATE_ACTIONS = ("model.gate.pass", "model.gate.refuse", "model.gate.override")


@dataclass(frozen=True)
class PromotionResult:
    promoted: bool
    forced: bool
    challenger_id: int
    previous_champion_id: int | None
    comparison: Comparison
    reprocess_job_id: int | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.comparison.decision.reasons

    def as_dict(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "forced": self.forced,
            "challenger_id": self.challenger_id,
            "previous_champion_id": self.previous_champion_id,
            "reasons": list(self.reasons),
            "reprocess_job_id": self.reprocess_job_id,
            "comparison": self.comparison.as_dict(),
        }


def promote_challenger(
    project: Project,
    model: str | int = "challenger",
    *,
    force: bool = False,
    reason: str | None = None,
    actor_id: int | None = None,
    snapshot: int | str | None = None,
    reprocess: bool | None = None,
    figures: bool = True,
    predict: Predict | None = None,
) -> PromotionResult:
    """Compare ``model`` with the champion on one test snapshot and promote it if the gate
    passes (or if ``force`` with a ``reason``); optionally queue a reprocess afterwards."""
    if force and not (reason and reason.strip()):
        raise BadInput("--force needs --reason: say why the gate is overridden (it is logged)")
    with project.db.session() as session:
        challenger = get_version(session, model)
        require_fit(challenger, project.classes)
        challenger_id = challenger.id
        champion_id = aliases.resolve(session, "champion")
    if champion_id == challenger_id:
        raise BadInput("that model is already the champion")
    comparison = compare_models(
        project, challenger_id, champion_id, snapshot, figures=figures, predict=predict
    )
    decision = comparison.decision
    promoted = decision.promote or force
    action = (
        "model.gate.pass"
        if decision.promote
        else ("model.gate.override" if force else "model.gate.refuse")
    )
    with project.db.session() as session:
        audit.record(
            session,
            actor_id=actor_id,
            action=action,
            entity="model_version",
            entity_id=challenger_id,
            before={"champion_id": champion_id},
            after=comparison.as_dict() | {"figures": None},
            reason=reason if force and not decision.promote else None,
        )
        if promoted:
            why = (
                "; ".join(decision.reasons)
                if decision.promote
                else f"gate overridden: {reason} (gate said: {'; '.join(decision.reasons)})"
            )
            aliases.promote(session, challenger_id, actor_id, why)
    job_id = None
    if promoted and (
        reprocess if reprocess is not None else project.config.triggers.reprocess_after_promotion
    ):
        job_id = _submit_reprocess(project, challenger_id, champion_id, actor_id)
    return PromotionResult(
        promoted,
        force and not decision.promote,
        challenger_id,
        champion_id,
        comparison,
        job_id,
    )


def make_first_champion(
    session: Session,
    version_id: int,
    actor_id: int | None,
    reason: str | None = None,
    *,
    classes: ClassMap,
) -> aliases.AliasMove | None:
    """Make a version champion when there is none yet (nothing to compare it with), in the
    caller's transaction with an audit entry; None when a champion exists, and the caller
    must go through :func:`promote_challenger`. A version whose classes are not the
    project's (``classes``) is refused, as by the gate.

    The insert only succeeds while the alias is unset, so a champion set by someone else in
    the meantime is never replaced here (that raises ``Conflict``).
    """
    if aliases.resolve(session, "champion") is not None:
        return None
    version = session.get(ModelVersion, version_id)
    if version is not None:
        require_fit(version, classes)
    return aliases.move_alias(
        session,
        "champion",
        version_id,
        actor_id,
        reason or "first champion: there was none to compare with",
        action="model.promote",
        only_if_unset=True,
    )


def _submit_reprocess(
    project: Project, version_id: int, previous: int | None, actor_id: int | None
) -> int:
    """Queue the engine's reprocess of the archive with the new champion."""
    from wildloop.processing.predict_job import submit_reprocess

    submitted = submit_reprocess(
        project,
        model=str(version_id),
        compare_to=str(previous) if previous else None,
        created_by=actor_id,
    )
    return submitted.job_id
