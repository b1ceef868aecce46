"""Counts of media by status, split and camera, and what each split holds: what
`wildloop status` and the dashboard show."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from wildloop.media.split_groups import grouping_hint, split_groups
from wildloop.project import Project
from wildloop.store.tables import Camera, Media, MediaSequence


def media_summary(project: Project) -> dict[str, Any]:
    with project.db.session() as session:
        by_status = dict(
            session.execute(select(Media.status, func.count()).group_by(Media.status)).all()
        )
        by_split = dict(
            session.execute(
                select(Media.split, func.count()).where(Media.status == "ok").group_by(Media.split)
            ).all()
        )
        by_camera = dict(
            session.execute(
                select(Camera.name, func.count(Media.id))
                .join(Media, Media.camera_id == Camera.id)
                .where(Media.status == "ok")
                .group_by(Camera.name)
                .order_by(Camera.name)
            ).all()
        )
        sequences = session.scalar(select(func.count()).select_from(MediaSequence)) or 0
        reviewed = (
            session.scalar(
                select(func.count()).where(Media.status == "ok", Media.reviewed.is_(True))
            )
            or 0
        )
        by = project.config.splits.group_by
        groups = split_groups(session, by)
        hint = grouping_hint(session, by)
    total = sum(by_status.values())
    return {
        "project": project.config.name,
        "media": total,
        "by_status": {s: by_status.get(s, 0) for s in ("ok", "failed", "duplicate")},
        "by_split": {s: by_split.get(s, 0) for s in ("train", "val", "test")}
        | ({"unassigned": by_split[None]} if by_split.get(None) else {}),
        "by_camera": by_camera,
        "sequences": sequences,
        "reviewed": reviewed,
        "splits": groups,
        "hint": hint,
    }
