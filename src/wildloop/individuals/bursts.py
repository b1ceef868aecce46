"""Burst linking: a box confirmed as an individual carries its burst track with it.

The current human boxes of the frames of one burst are linked into tracks by
``domain.tracks`` (same class, overlapping boxes in consecutive frames). Confirming one box
of a track as individual X records the rest of the track as suggested sightings of X (a
person confirms or unassigns them), or, when asked explicitly, as a person's sightings.
Boxes already in another individual are left where they are.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.domain.tracks import FrameBox, link_tracks, track_of
from wildloop.individuals.profiles import assign
from wildloop.store.tables import LabelBox, LabelRevision, Media, Sighting
from wildloop.users.roles import Actor

TrackMode = Literal["none", "suggest", "assign"]
TRACK_MODES: tuple[TrackMode, ...] = ("none", "suggest", "assign")


def burst_boxes(session: Session, sequence_id: int) -> list[FrameBox]:
    """The current human animal boxes of a burst's frames, each keyed by its label box id."""
    rows = session.execute(
        select(LabelBox.id, Media.frame_num, Media.id, LabelBox.class_id, LabelBox.x, LabelBox.y)
        .add_columns(LabelBox.w, LabelBox.h)
        .join(LabelRevision, LabelRevision.id == LabelBox.revision_id)
        .join(
            Media,
            (Media.id == LabelRevision.media_id) & (Media.label_revision == LabelRevision.revision),
        )
        .where(
            Media.sequence_id == sequence_id,
            LabelBox.false_positive.is_(False),
            LabelBox.class_id.is_not(None),
            LabelBox.x.is_not(None),
        )
    ).all()
    return [
        FrameBox(key, frame if frame is not None else media_id, class_id, Box(x, y, w, h))
        for key, frame, media_id, class_id, x, y, w, h in rows
    ]


def track_for(session: Session, label_box_id: int) -> list[int]:
    """The label boxes of the burst track holding ``label_box_id``, in frame order (the box
    alone when its photo is in no burst)."""
    sequence_id = session.scalar(
        select(Media.sequence_id)
        .join(LabelRevision, LabelRevision.media_id == Media.id)
        .join(LabelBox, LabelBox.revision_id == LabelRevision.id)
        .where(LabelBox.id == label_box_id)
    )
    if sequence_id is None:
        return [label_box_id]
    return track_of(link_tracks(burst_boxes(session, sequence_id)), label_box_id)


def follow_track(
    session: Session,
    actor: Actor,
    individual_id: int,
    label_box_id: int,
    *,
    classes: ClassMap,
    mode: TrackMode,
) -> list[int]:
    """Record the other boxes of ``label_box_id``'s burst track as sightings of the
    individual (``suggest``: suggestions; ``assign``: a person's); returns their sighting
    ids. Boxes in another individual already are skipped, not moved."""
    if mode == "none":
        return []
    others = [k for k in track_for(session, label_box_id) if k != label_box_id]
    owners = dict(
        session.execute(
            select(Sighting.label_box_id, Sighting.individual_id).where(
                Sighting.label_box_id.in_(others)
            )
        ).all()
    )
    source = "person" if mode == "assign" else "suggestion"
    return [
        assign(session, actor, individual_id, key, classes=classes, source=source).id
        for key in others
        if owners.get(key, individual_id) == individual_id
    ]
