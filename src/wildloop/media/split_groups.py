"""How the frozen splits sit over cameras and locations: counts per split, leaks, a hint.

A project grouped by sequence keeps bursts together but lets one camera's background sit in
train and test alike, which flatters the test score. These counts show it; the hint proposes
grouping by location once there are enough locations to spare some for testing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wildloop.domain.splits import GroupBy, Split, group_key, straddling
from wildloop.project import Project
from wildloop.store.tables import Camera, MediaSequence

HINT_LOCATIONS = 5


@dataclass(frozen=True)
class SequenceGroup:
    """One sequence with what its group key is made of."""

    id: int
    key: str
    split: str
    camera: str | None
    location: str | None

    def group(self, by: GroupBy) -> str:
        return group_key(by, self.key, self.camera, self.location)


def sequence_groups(session: Session) -> list[SequenceGroup]:
    """Every sequence with its camera and the camera's current location."""
    rows = session.execute(
        select(
            MediaSequence.id, MediaSequence.key, MediaSequence.split, Camera.name, Camera.location
        )
        .outerjoin(Camera, Camera.id == MediaSequence.camera_id)
        .order_by(MediaSequence.id)
    ).all()
    return [SequenceGroup(*row) for row in rows]


def split_groups(session: Session, by: GroupBy) -> dict[str, Any]:
    """Per split: sequences, cameras and locations it holds; groups found in two splits.

    A camera without a location counts as a location of its own (the same fallback as the
    group key), so "locations" is what a location-grouped split keeps apart.
    """
    sequences = sequence_groups(session)
    per_split: dict[str, dict[str, set[str]]] = {
        str(s): {"sequences": set(), "cameras": set(), "locations": set()} for s in Split
    }
    for seq in sequences:
        held = per_split.setdefault(
            seq.split, {"sequences": set(), "cameras": set(), "locations": set()}
        )
        held["sequences"].add(seq.key)
        if seq.camera is not None:
            held["cameras"].add(seq.camera)
            held["locations"].add(seq.group(GroupBy.LOCATION))
    leaks = straddling((seq.group(by), seq.split) for seq in sequences)
    return {
        "group_by": str(by),
        "per_split": {
            split: {what: len(keys) for what, keys in held.items()}
            for split, held in per_split.items()
        },
        "cameras_without_location": session.scalar(
            select(func.count()).where(Camera.location.is_(None))
        )
        or 0,
        "groups_in_two_splits": len(leaks),
        "examples_in_two_splits": sorted(leaks)[:5],
    }


def grouping_hint(session: Session, by: GroupBy) -> str | None:
    """A nudge towards location grouping for a sequence-grouped project with many places."""
    if by is not GroupBy.SEQUENCE:
        return None
    locations = (
        session.scalar(
            select(func.count(func.distinct(Camera.location))).where(Camera.location.is_not(None))
        )
        or 0
    )
    if locations < HINT_LOCATIONS:
        return None
    return (
        f"this project has {locations} locations but splits by sequence, so its test set "
        "shares places with training and scores optimistically; "
        "`wildloop splits regroup --by location` shows what would move"
    )


def project_hint(project: Project) -> str | None:
    """``grouping_hint`` for a project, in a session of its own (for CLI commands)."""
    with project.db.session() as session:
        return grouping_hint(session, project.config.splits.group_by)
