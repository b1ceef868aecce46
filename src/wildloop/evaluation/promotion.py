"""Gated promotion: the challenger becomes champion only when the gate says so.

The registry's alias move is the atomic switch; this module decides whether to make it. Every
decision is written to the audit trail (passed, refused, or overridden with a reason), which
is also where the retraining log reads its notes. An override needs a reason, always.

A promotion is bound to the comparison that justified it: the alias moves only from the
champion that comparison scored (a compare-and-swap), so a champion someone else promoted
meanwhile is never replaced unseen; that promotion is refused with ``Conflict`` (HTTP 409)
and has to be compared again. Every path (CLI, API, Models page, the loop job) goes through
:func:`apply_gate`. A quantised copy is compared with its parent by the parity rule and may
only take its parent's place (``wildloop.evaluation.parity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wildloop import audit
from wildloop.domain.classes import ClassMap
from wildloop.errors import BadInput, Conflict
from wildloop.evaluation.class_thresholds import follow_champion
from wildloop.evaluation.compare_job import ComparisonRun, comparison_of, comparison_run
from wildloop.evaluation.comparison import Comparison, compare_models
from wildloop.evaluation.evaluator import Predict
from wildloop.evaluation.parity import require_parent_is_champion
from wildloop.processing.predict_job import submit_reprocess
from wildloop.project import Project
from wildloop.registry import aliases
from wildloop.registry.versions import get_version, require_fit
from wildloop.store.tables import ModelVersion

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

GATE_ACTIONS = ("model.gate.pass", "model.gate.refuse", "model.gate.override")
CHAMPION_CHANGED = "the champion changed while comparing; compare again"


@dataclass(frozen=True)
class PromotionResult:
    promoted: bool
    forced: bool
    challenger_id: int
    previous_champion_id: int | None
    comparison: Comparison
    reprocess_job_id: int | None = None
    thresholds: str | None = None  # what became of the per-class thresholds (promoted only)

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
            "thresholds": self.thresholds,
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
    check_override(force, reason)
    with project.db.session() as session:
        challenger = get_version(session, model)
        require_fit(challenger, project.classes)
        challenger_id = challenger.id
        champion_id = aliases.resolve(session, "champion")
        if champion_id != challenger_id:
            require_parent_is_champion(session, challenger_id, champion_id)
    if champion_id == challenger_id:
        raise BadInput("that model is already the champion")
    comparison = compare_models(
        project, challenger_id, champion_id, snapshot, figures=figures, predict=predict
    )
    promoted, forced = apply_gate(
        project, comparison.as_dict(), force=force, reason=reason, actor_id=actor_id
    )
    thresholds = follow_champion(project, challenger_id, actor_id) if promoted else None
    job_id = None
    if promoted and _wants_reprocess(project, reprocess):
        job_id = _submit_reprocess(project, challenger_id, champion_id, actor_id)
    return PromotionResult(
        promoted, forced, challenger_id, champion_id, comparison, job_id, thresholds
    )


def promote_compared(
    project: Project,
    comparison: dict[str, Any],
    *,
    force: bool = False,
    reason: str | None = None,
    actor_id: int | None = None,
    reprocess: bool | None = None,
) -> dict[str, Any]:
    """Promotion from a comparison already computed (a ``compare`` job's result): the gate
    and the swap only, no inference; the shape of :meth:`PromotionResult.as_dict`."""
    check_override(force, reason)
    promoted, forced = apply_gate(
        project, comparison, force=force, reason=reason, actor_id=actor_id
    )
    challenger_id, champion_id = compared_pair(comparison)
    thresholds = follow_champion(project, challenger_id, actor_id) if promoted else None
    job_id = None
    if promoted and _wants_reprocess(project, reprocess):
        job_id = _submit_reprocess(project, challenger_id, champion_id, actor_id)
    return {
        "promoted": promoted,
        "forced": forced,
        "challenger_id": challenger_id,
        "previous_champion_id": champion_id,
        "reasons": list(comparison["decision"]["reasons"]),
        "reprocess_job_id": job_id,
        "thresholds": thresholds,
        "comparison": comparison,
    }


def promote_when_compared(
    project: Project,
    model: str | int = "challenger",
    *,
    comparison_job: int | None = None,
    force: bool = False,
    reason: str | None = None,
    actor_id: int | None = None,
    reprocess: bool | None = None,
) -> dict[str, Any] | ComparisonRun:
    """Promotion for requests, which never compute: from the finished comparison job
    ``comparison_job`` (the one the person looked at), else from this pair's current one.
    While that comparison is still computing (or was just queued) its run is returned, and
    the caller asks again once it is done; then the gate and the swap, as
    :func:`promote_compared`. ``Conflict`` when the champion is no longer the one compared.
    """
    check_override(force, reason)
    with project.db.session() as session:
        challenger_id = get_version(session, model).id
        champion_id = aliases.resolve(session, "champion")
        if champion_id != challenger_id:
            require_parent_is_champion(session, challenger_id, champion_id)
    if champion_id == challenger_id:
        raise BadInput("that model is already the champion")
    if comparison_job is None:
        run = comparison_run(project, challenger_id, champion_id, created_by=actor_id)
    else:
        run = comparison_of(project, comparison_job)
        if run.challenger_id != challenger_id:
            raise Conflict(
                f"comparison job {run.job_id} scored version {run.challenger_id}, not "
                f"{challenger_id}; compare the model you want to promote"
            )
    if run.state == "computing":
        return run
    if run.state == "failed" or run.result is None:
        raise Conflict(f"the comparison (job {run.job_id}) failed: {run.error}; compare again")
    if run.champion_id != champion_id:
        raise Conflict(
            f"{CHAMPION_CHANGED} (job {run.job_id} compared with version {run.champion_id}, "
            f"the champion is now {champion_id})"
        )
    return promote_compared(
        project, run.result, force=force, reason=reason, actor_id=actor_id, reprocess=reprocess
    )


def check_override(force: bool, reason: str | None) -> None:
    if force and not (reason and reason.strip()):
        raise BadInput("--force needs --reason: say why the gate is overridden (it is logged)")


def compared_pair(comparison: dict[str, Any]) -> tuple[int, int | None]:
    """(challenger, champion) version ids a comparison scored; None when there was no
    champion."""
    champion = comparison.get("champion")
    return (
        int(comparison["challenger"]["model_version_id"]),
        int(champion["model_version_id"]) if champion else None,
    )


def apply_gate(
    project: Project,
    comparison: dict[str, Any],
    *,
    force: bool,
    reason: str | None,
    actor_id: int | None,
    alias: str = "champion",
) -> tuple[bool, bool]:
    """Audit the gate's decision on ``comparison`` and, if it passes (or is forced), move
    ``alias`` (``champion``, or ``reid-champion`` for re-ID embedders) from the version that
    comparison scored, in one transaction. Returns
    (promoted, forced); ``Conflict`` when the champion is no longer the compared one."""
    challenger_id, champion_id = compared_pair(comparison)
    decision = comparison["decision"]
    passes = bool(decision["promote"])
    promoted = passes or force
    action = (
        "model.gate.pass" if passes else ("model.gate.override" if force else "model.gate.refuse")
    )
    reasons = "; ".join(decision["reasons"])
    try:
        with project.db.session() as session:
            audit.record(
                session,
                actor_id=actor_id,
                action=action,
                entity="model_version",
                entity_id=challenger_id,
                before={"champion_id": champion_id},
                after=comparison | {"figures": None},
                reason=reason if force and not passes else None,
            )
            if promoted:
                why = reasons if passes else f"gate overridden: {reason} (gate said: {reasons})"
                aliases.promote(
                    session,
                    challenger_id,
                    actor_id,
                    why,
                    alias,
                    only_if=champion_id,
                    only_if_unset=champion_id is None,
                )
    except aliases.AliasMoved as exc:
        raise Conflict(
            f"{CHAMPION_CHANGED} (it was compared with version {exc.expected}, "
            f"the champion is now {exc.found})"
        ) from exc
    return promoted, force and not passes


def _wants_reprocess(project: Project, reprocess: bool | None) -> bool:
    return reprocess if reprocess is not None else project.config.triggers.reprocess_after_promotion


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
    require_parent_is_champion(session, version_id, None)  # a quantised copy: never first
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
    submitted = submit_reprocess(
        project,
        model=str(version_id),
        compare_to=str(previous) if previous else None,
        created_by=actor_id,
    )
    return submitted.job_id
