"""Consistency checks over individuals: profiles a person should look at again.

``contradictory_classes`` is the seed's "cross-sex contamination" query: an individual with a
sighting whose box is now labelled another class (a buck's photo relabelled doe after it was
assigned). Label revisions are immutable, so a sighting keeps the box it was given; its class
*now* is the class of the current revision's box that overlaps it most (IoU >= 0.5), and a
box with no such match is reported as no longer labelled. ``unassign`` is the fix.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.store.tables import Individual, LabelBox, LabelRevision, Media, Sighting

MIN_IOU = 0.5
FIX = "unassign the sighting (wildloop individuals unassign ID) or correct the box's label"


def _box(row: LabelBox) -> Box | None:
    if row.x is None or row.y is None or row.w is None or row.h is None:
        return None
    return Box.clipped(row.x, row.y, row.w, row.h)


def current_classes(session: Session, sightings: list[Sighting]) -> dict[int, int | None]:
    """Each sighting's class in its media's current labels (None: no longer labelled)."""
    media_ids = sorted({s.media_id for s in sightings})
    current: dict[int, list[LabelBox]] = {}
    for start in range(0, len(media_ids), 500):
        rows = session.execute(
            select(LabelRevision.media_id, LabelBox)
            .join(LabelBox, LabelBox.revision_id == LabelRevision.id)
            .join(
                Media,
                (Media.id == LabelRevision.media_id)
                & (Media.label_revision == LabelRevision.revision),
            )
            .where(LabelRevision.media_id.in_(media_ids[start : start + 500]))
        ).all()
        for media_id, box in rows:
            current.setdefault(int(media_id), []).append(box)
    own_boxes = {
        b.id: b
        for b in session.scalars(
            select(LabelBox).where(LabelBox.id.in_([s.label_box_id for s in sightings]))
        )
    }
    found: dict[int, int | None] = {}
    for s in sightings:
        boxes = current.get(s.media_id, [])
        if any(b.id == s.label_box_id for b in boxes):
            found[s.id] = s.class_id
            continue
        mine = _box(own_boxes[s.label_box_id])
        best, best_iou = None, MIN_IOU
        for b in boxes:
            other = _box(b)
            if mine is None or other is None or b.false_positive:
                continue
            overlap = mine.iou(other)
            if overlap >= best_iou:
                best, best_iou = b.class_id, overlap
        found[s.id] = best
    return found


def contradictory_classes(session: Session, classes: ClassMap) -> list[dict[str, Any]]:
    """Live individuals with sightings whose current class is not the individual's own,
    each with the sightings at fault and what fixes them."""
    rows = session.execute(
        select(Individual, Sighting)
        .join(Sighting, Sighting.individual_id == Individual.id)
        .where(Individual.merged_into_id.is_(None))
        .order_by(Individual.id, Sighting.id)
    ).all()
    now = current_classes(session, [s for _, s in rows])
    found: dict[int, dict[str, Any]] = {}
    for individual, sighting in rows:
        class_now = now[sighting.id]
        if class_now == individual.class_id:
            continue
        entry = found.setdefault(
            individual.id,
            {
                "individual_id": individual.id,
                "name": individual.name,
                "class": classes.display_name(individual.class_id),
                "contradicting": [],
                "fix": FIX,
            },
        )
        entry["contradicting"].append(
            {
                "sighting_id": sighting.id,
                "media_id": sighting.media_id,
                "class_now": classes.display_name(class_now),
            }
        )
    return list(found.values())
