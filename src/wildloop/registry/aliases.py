"""Aliases (``champion``, ``challenger``): one row per alias, moved by one UPDATE.

Promotion and rollback are the same primitive, :func:`move_alias`, which changes the alias
row and writes the audit entry in the caller's transaction: readers see the old version or
the new one, never a mix. Workers resolve the alias per chunk, so a move takes effect
without restarting anything. The evaluation gate (issue 9) wraps :func:`promote`; it does
not replace the primitive.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.errors import BadInput, Conflict, NotFound
from wildloop.store.bulk import insert_or_skip, rows_changed
from wildloop.store.tables import AuditEntry, ModelAlias, ModelVersion
from wildloop.store.types import utcnow

ALIASES = ("champion", "challenger", "reid-champion")
MOVE_ACTIONS = ("model.promote", "model.alias", "model.rollback")


class AliasMoved(Conflict):
    """The alias no longer points where the caller expected: someone moved it meanwhile."""

    def __init__(self, alias: str, expected: int | None, found: int | None) -> None:
        self.alias, self.expected, self.found = alias, expected, found
        was = f"version {expected}" if expected is not None else "unset"
        now = f"version {found}" if found is not None else "unset"
        super().__init__(f"alias {alias!r} was moved by someone else (expected {was}, now {now})")


@dataclass(frozen=True)
class AliasMove:
    alias: str
    previous_id: int | None
    version_id: int


def move_alias(
    session: Session,
    alias: str,
    version_id: int,
    actor_id: int | None,
    reason: str | None = None,
    *,
    action: str = "model.alias",
    only_if_unset: bool = False,
    only_if: int | None = None,
) -> AliasMove:
    """Point ``alias`` at ``version_id`` atomically and audit the move (who, from, to, why).

    The UPDATE and the audit entry commit together with the caller's transaction. With
    ``only_if_unset`` the alias is only created, never moved; with ``only_if`` it is moved
    only from that version (a compare-and-swap: ``UPDATE ... WHERE model_version_id =
    :only_if``). Either raises ``AliasMoved`` (a ``Conflict``) when the alias is elsewhere.
    """
    if alias not in ALIASES:
        raise BadInput(f"unknown alias {alias!r}; wildloop knows {', '.join(ALIASES)}")
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise NotFound(f"no model version {version_id}; see `wildloop model list`")
    if alias == "champion" and version.source == "external":
        raise BadInput(
            f"{version.name!r} is an external model with no artifact; it cannot be champion "
            "because wildloop cannot run it. Register a .pt or .onnx file instead"
        )
    if version.retired:
        raise Conflict(f"model version {version.name!r} is retired and cannot take an alias")
    previous = session.scalar(select(ModelAlias.model_version_id).where(ModelAlias.alias == alias))
    if only_if_unset and previous is not None:
        raise AliasMoved(alias, None, previous)
    if only_if is not None and previous != only_if:
        raise AliasMoved(alias, only_if, previous)
    now = utcnow()
    if previous is None:
        added = session.execute(
            insert_or_skip(session, ModelAlias, ["alias"])
            .values(alias=alias, model_version_id=version_id, updated_at=now, updated_by=actor_id)
            .returning(ModelAlias.alias)
        ).scalar()
        if added is None:
            raise AliasMoved(alias, None, resolve(session, alias))
    else:
        moved = rows_changed(
            session,
            update(ModelAlias)
            .where(ModelAlias.alias == alias, ModelAlias.model_version_id == previous)
            .values(model_version_id=version_id, updated_at=now, updated_by=actor_id),
        )
        if moved != 1:
            raise AliasMoved(alias, previous, resolve(session, alias))
    audit.record(
        session,
        actor_id=actor_id,
        action=action,
        entity="model_alias",
        entity_id=alias,
        before={"model_version_id": previous},
        after={"model_version_id": version_id, "name": version.name},
        reason=reason,
    )
    return AliasMove(alias, previous, version_id)


def promote(
    session: Session,
    version_id: int,
    actor_id: int | None,
    reason: str | None = None,
    alias: str = "champion",
    *,
    only_if: int | None = None,
    only_if_unset: bool = False,
) -> AliasMove:
    """The plain atomic switch (no evaluation gate; the gate calls this once satisfied, from
    the champion it compared with: ``only_if`` it, or ``only_if_unset`` if there was none)."""
    return move_alias(
        session,
        alias,
        version_id,
        actor_id,
        reason,
        action="model.promote",
        only_if_unset=only_if_unset,
        only_if=only_if,
    )


def rollback(session: Session, actor_id: int | None, reason: str | None = None) -> AliasMove:
    """Move ``champion`` back to the version it pointed at before the current one.

    The history comes from the audit trail: promotions push a version, rollbacks pop one, so
    rolling back twice walks two steps back rather than toggling.
    """
    stack = champion_history(session)
    if len(stack) < 2:
        raise Conflict("champion has no earlier version to roll back to")
    target = stack[-2]
    return move_alias(
        session, "champion", target, actor_id, reason or "rollback", action="model.rollback"
    )


def champion_history(session: Session) -> list[int]:
    """The stack of champion versions implied by the audit trail (current last)."""
    entries = session.execute(
        select(AuditEntry.action, AuditEntry.after)
        .where(
            AuditEntry.entity == "model_alias",
            AuditEntry.entity_id == "champion",
            AuditEntry.action.in_(MOVE_ACTIONS),
        )
        .order_by(AuditEntry.id)
    ).all()
    stack: list[int] = []
    for action, after in entries:
        target = int((after or {})["model_version_id"])
        if action == "model.rollback" and len(stack) >= 2 and stack[-2] == target:
            stack.pop()
        elif not stack or stack[-1] != target:
            stack.append(target)
    return stack


def resolve(session: Session, alias: str) -> int | None:
    """The version id an alias points at now, or None when it is unset."""
    return session.scalar(select(ModelAlias.model_version_id).where(ModelAlias.alias == alias))


def clear_alias(
    session: Session,
    alias: str,
    actor_id: int | None,
    reason: str | None = None,
    *,
    only_if: int | None = None,
) -> int | None:
    """Remove ``alias`` (the re-ID embedder's roll back to its baseline, the plain crop
    vectors, which no version stands for), audited; returns the version it pointed at.
    With ``only_if`` it is removed only from that version (``AliasMoved`` otherwise)."""
    if alias not in ALIASES:
        raise BadInput(f"unknown alias {alias!r}; wildloop knows {', '.join(ALIASES)}")
    previous = resolve(session, alias)
    if only_if is not None and previous != only_if:
        raise AliasMoved(alias, only_if, previous)
    if previous is None:
        return None
    removed = rows_changed(
        session,
        delete(ModelAlias).where(
            ModelAlias.alias == alias, ModelAlias.model_version_id == previous
        ),
    )
    if removed != 1:
        raise AliasMoved(alias, previous, resolve(session, alias))
    audit.record(
        session,
        actor_id=actor_id,
        action="model.alias.clear",
        entity="model_alias",
        entity_id=alias,
        before={"model_version_id": previous},
        after={"model_version_id": None},
        reason=reason,
    )
    return previous
