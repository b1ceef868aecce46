"""The parity gate: a quantised copy serves only once it matches its parent on the test split.

``compare_models`` already judges a quantised challenger against its parent by the parity
rule; this module keeps the verdict (an audit entry per check, so ``wildloop model show``
and the Models page read it without computing) and holds the two rules that make the copy a
stand-in for its parent: it replaces only its parent as champion, and never becomes the
first champion without a comparison.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.errors import BadInput, Conflict
from wildloop.evaluation.comparison import compare_models
from wildloop.project import Project
from wildloop.registry.versions import QUANTIZED
from wildloop.store.tables import AuditEntry, ModelVersion

PARITY_ACTIONS = ("model.parity.pass", "model.parity.refuse")
_VERDICT_ACTIONS = (*PARITY_ACTIONS, "model.gate.pass", "model.gate.refuse", "model.gate.override")


def check_parity(
    project: Project,
    version_id: int,
    snapshot: int | str | None = None,
    *,
    actor_id: int | None = None,
) -> dict[str, Any]:
    """Score the quantised version and its parent on one test snapshot (the one evaluator;
    stored evaluations are reused), decide by parity and keep the verdict in the audit
    trail. Returns the comparison as a dict."""
    comparison = compare_models(project, version_id, None, snapshot, figures=False).as_dict()
    if comparison["decision"]["rule"] != "parity":
        raise BadInput(f"model version {version_id} is not a quantised copy; use `compare`")
    passed = bool(comparison["decision"]["promote"])
    with project.db.session() as session:
        audit.record(
            session,
            actor_id=actor_id,
            action=PARITY_ACTIONS[0] if passed else PARITY_ACTIONS[1],
            entity="model_version",
            entity_id=version_id,
            after=comparison,
        )
    return comparison


def latest_parity(session: Session, version_id: int) -> dict[str, Any] | None:
    """The newest parity verdict on this version (from a check or a promotion), as
    ``{"passed", "reasons", "snapshot", "parent", "derived", "checked_at"}``; None if never
    checked."""
    entries = session.execute(
        select(AuditEntry.after, AuditEntry.at)
        .where(
            AuditEntry.entity == "model_version",
            AuditEntry.entity_id == str(version_id),
            AuditEntry.action.in_(_VERDICT_ACTIONS),
        )
        .order_by(AuditEntry.id.desc())
        .limit(20)
    )
    for after, checked_at in entries:
        decision = (after or {}).get("decision") or {}
        if after and decision.get("rule") == "parity":
            return {
                "passed": bool(decision["promote"]),
                "reasons": decision["reasons"],
                "snapshot": after.get("snapshot"),
                "parent": after.get("champion"),
                "derived": after.get("challenger"),
                "checked_at": checked_at.isoformat(),
            }
    return None


def require_parent_is_champion(session: Session, version_id: int, champion_id: int | None) -> None:
    """A quantised copy stands in for its parent: it may replace its parent as champion,
    nothing else (``Conflict`` says what to do); other versions pass."""
    version = session.get(ModelVersion, version_id)
    if version is None or version.source != QUANTIZED:
        return
    if champion_id is None:
        raise BadInput(
            f"{version.name!r} is a quantised copy of version {version.parent_id}; it serves "
            "only in place of its parent once it passes the parity gate. Make the parent "
            "champion first, then promote this copy"
        )
    if champion_id != version.parent_id:
        raise Conflict(
            f"{version.name!r} is a quantised copy of version {version.parent_id}, but the "
            f"champion is version {champion_id}; it can only replace its own parent. "
            "Quantise the champion instead (`wildloop model quantize champion`)"
        )
