"""Cameras' location priors: storing allow-lists and finding the one for each media item.

Names are checked against the project's classes when set, since a typo in an allow-list
would silently drop or roll up every box at that camera. Changes are audited like any other
camera change; they act on predictions made from then on (reprocess to apply them to old ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop import audit
from wildloop.domain.location_priors import LocationPrior
from wildloop.errors import BadInput, NotFound
from wildloop.store.tables import Camera, Media


def list_priors(session: Session) -> list[dict[str, Any]]:
    """Every camera's allow-list (None: any class) and roll-up parent."""
    return [
        {"camera": c.name, "allowed": c.allowed_classes, "rollup": c.rollup_class}
        for c in session.scalars(select(Camera).order_by(Camera.name))
    ]


def set_prior(
    session: Session,
    name: str,
    allowed: Sequence[str] | None,
    rollup: str | None,
    known: Sequence[str],
    actor_id: int | None,
) -> dict[str, Any]:
    """Replace a camera's allow-list and roll-up; ``allowed`` None or empty clears both."""
    camera = session.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        raise NotFound(f"no camera named {name!r}; `wildloop camera list` shows them")
    by_key = {k.lower(): k for k in known}
    names = [a.strip() for a in allowed or [] if a.strip()]
    unknown = [a for a in [*names, *([rollup] if rollup else [])] if a.lower() not in by_key]
    if unknown:
        raise BadInput(
            f"unknown classes {', '.join(map(repr, unknown))}; the project's classes are "
            f"{', '.join(known)}"
        )
    if rollup and not names:
        raise BadInput("a roll-up class needs an allow-list: name the classes seen here")
    before = _state(camera)
    kept = list(dict.fromkeys(by_key[a.lower()] for a in names))
    camera.allowed_classes = kept or None
    camera.rollup_class = by_key[rollup.lower()] if rollup and kept else None
    audit.record(
        session,
        actor_id=actor_id,
        action="camera.priors",
        entity="camera",
        entity_id=camera.id,
        before=before,
        after=_state(camera),
    )
    return {"camera": camera.name, **_state(camera)}


def priors_for_media(session: Session, media_ids: Sequence[int]) -> dict[int, LocationPrior]:
    """The prior of each media item whose camera has an allow-list (the others: none)."""
    if not media_ids:
        return {}
    rows = session.execute(
        select(Media.id, Camera.allowed_classes, Camera.rollup_class)
        .join(Camera, Camera.id == Media.camera_id)
        .where(Media.id.in_(media_ids), Camera.allowed_classes.is_not(None))
    ).all()
    return {mid: LocationPrior.of(allowed, rollup) for mid, allowed, rollup in rows if allowed}


def _state(camera: Camera) -> dict[str, Any]:
    return {"allowed": camera.allowed_classes, "rollup": camera.rollup_class}
