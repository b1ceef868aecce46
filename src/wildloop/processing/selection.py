"""Which media a processing job covers: scope terms parsed once, turned into one query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import Session

from wildloop.errors import BadInput, NotFound
from wildloop.store.tables import Camera, Media, PredictionSet

SCOPE_HELP = "all | unreviewed | reviewed | camera=NAME | since=YYYY-MM-DD | until=YYYY-MM-DD"


@dataclass(frozen=True)
class Scope:
    """Conjunction of filters; an empty scope means every good image."""

    reviewed: bool | None = None
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def describe(self) -> str:
        parts = []
        if self.reviewed is not None:
            parts.append("reviewed" if self.reviewed else "unreviewed")
        if self.camera:
            parts.append(f"camera={self.camera}")
        if self.since:
            parts.append(f"since={self.since.date().isoformat()}")
        if self.until:
            parts.append(f"until={self.until.date().isoformat()}")
        return ",".join(parts) or "all"


def parse_scope(terms: list[str] | str | None) -> Scope:
    """Parse ``all``, ``unreviewed``, ``camera=X``, ``since=DATE`` (several terms AND)."""
    if terms is None:
        return Scope()
    if isinstance(terms, str):
        terms = [terms]
    values: dict[str, object] = {}
    for raw in (t.strip() for chunk in terms for t in chunk.split(",")):
        if not raw or raw == "all":
            continue
        if raw in ("unreviewed", "reviewed"):
            values["reviewed"] = raw == "reviewed"
            continue
        key, sep, value = raw.partition("=")
        if not sep or not value:
            raise BadInput(f"unknown scope {raw!r}; use {SCOPE_HELP}")
        if key == "camera":
            values["camera"] = value
        elif key in ("since", "until"):
            try:
                values[key] = datetime.fromisoformat(value)
            except ValueError:
                raise BadInput(f"{key}={value}: not a date; write it as YYYY-MM-DD") from None
        else:
            raise BadInput(f"unknown scope {raw!r}; use {SCOPE_HELP}")
    return Scope(**values)  # type: ignore[arg-type]


def media_query(
    session: Session, scope: Scope, unseen_by: int | None = None, *, kind: str = "image"
) -> Select[int]:
    """Ids of good items of ``kind`` (images, or audio windows for a head) in ``scope``
    (optionally without a set from version ``unseen_by``)."""
    query = select(Media.id).where(Media.status == "ok", Media.kind == kind)
    if scope.reviewed is not None:
        query = query.where(Media.reviewed.is_(scope.reviewed))
    if scope.camera:
        camera_id = session.scalar(select(Camera.id).where(Camera.name == scope.camera))
        if camera_id is None:
            raise NotFound(f"no camera named {scope.camera!r}")
        query = query.where(Media.camera_id == camera_id)
    if scope.since:
        query = query.where(Media.captured_at >= scope.since)
    if scope.until:
        query = query.where(Media.captured_at < scope.until)
    if unseen_by is not None:
        query = query.where(
            ~exists().where(
                PredictionSet.media_id == Media.id, PredictionSet.model_version_id == unseen_by
            )
        )
    return query.order_by(Media.id)
