"""The audit trail: who did what to which thing, when, from what, to what, and why."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wildloop.store.tables import AuditEntry


def record(
    session: Session,
    *,
    actor_id: int | None,
    action: str,
    entity: str,
    entity_id: object,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Add an audit entry in the caller's transaction, so it commits with the change itself."""
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
            reason=reason,
        )
    )
