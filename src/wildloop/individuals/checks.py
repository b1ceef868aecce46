"""Consistency checks over individuals: profiles a person should look at again.

Three lists, each finding with what fixes it: contradictory classes, impossible travel and
profiles that straddle dataset splits.

``contradictory_classes`` is the seed's "cross-sex contamination" query: an individual with a
sighting whose box is now labelled another class (a buck's photo relabelled doe after it was
assigned). Label revisions are immutable, so a sighting keeps the box it was given; its class
*now* is the class of the current revision's box that overlaps it most (IoU >= 0.5), and a
box with no such match is reported as no longer labelled. ``unassign`` is the fix.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.store.tables import Camera, Individual, LabelBox, LabelRevision, Media, Sighting

MIN_IOU = 0.5
# Faster than a deer runs for long (about 10 km/h sustained): two cameras that far apart
# within that little time are two animals, or a wrong camera clock.
MAX_SPEED_KMH = 10.0
EARTH_RADIUS_KM = 6371.0
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


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points in degrees."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def impossible_travel(
    session: Session, max_speed_kmh: float = MAX_SPEED_KMH
) -> list[dict[str, Any]]:
    """Consecutive sightings of one individual at two cameras further apart than it could
    go in the time between them (cameras with coordinates, photos with capture times)."""
    rows = session.execute(
        select(
            Individual.id,
            Individual.name,
            Sighting.id,
            Media.captured_at,
            Camera.name,
            Camera.latitude,
            Camera.longitude,
        )
        .join(Sighting, Sighting.individual_id == Individual.id)
        .join(Media, Media.id == Sighting.media_id)
        .join(Camera, Camera.id == Media.camera_id)
        .where(
            Individual.merged_into_id.is_(None),
            Media.captured_at.is_not(None),
            Camera.latitude.is_not(None),
            Camera.longitude.is_not(None),
        )
        .order_by(Individual.id, Media.captured_at, Sighting.id)
    ).all()
    found: list[dict[str, Any]] = []
    # The query leaves out rows without times or coordinates; the casts only tell mypy so.
    for before, after in pairwise(rows):
        if before[0] != after[0] or before[4] == after[4]:
            continue
        km = distance_km(
            (float(before[5] or 0), float(before[6] or 0)),
            (float(after[5] or 0), float(after[6] or 0)),
        )
        if before[3] is None or after[3] is None:
            continue
        hours = (after[3] - before[3]).total_seconds() / 3600
        if km > max_speed_kmh * hours:
            found.append(
                {
                    "individual_id": before[0],
                    "name": before[1],
                    "sightings": [before[2], after[2]],
                    "cameras": [before[4], after[4]],
                    "km": round(km, 2),
                    "minutes": round(hours * 60, 1),
                    "fix": "unassign one of the two, or correct the camera's clock offset",
                }
            )
    return found


def split_straddles(session: Session) -> list[dict[str, Any]]:
    """Individuals seen in photos of more than one dataset split: a re-ID model evaluated on
    test individuals it trained on would look better than it is."""
    rows = session.execute(
        select(Individual.id, Individual.name, Media.split, Sighting.id)
        .join(Sighting, Sighting.individual_id == Individual.id)
        .join(Media, Media.id == Sighting.media_id)
        .where(Individual.merged_into_id.is_(None), Media.split.is_not(None))
        .order_by(Individual.id, Sighting.id)
    ).all()
    splits: dict[int, dict[str, list[int]]] = {}
    names: dict[int, str] = {}
    for individual_id, name, split, sighting_id in rows:
        names[individual_id] = name
        splits.setdefault(individual_id, {}).setdefault(str(split), []).append(sighting_id)
    return [
        {
            "individual_id": i,
            "name": names[i],
            "splits": by_split,
            "fix": "split the profile (two animals?) or move its photos to one split",
        }
        for i, by_split in splits.items()
        if len(by_split) > 1
    ]


def all_checks(session: Session, classes: ClassMap) -> dict[str, list[dict[str, Any]]]:
    """Every check's findings by name (what `wildloop individuals check` prints)."""
    return {
        "contradictory_classes": contradictory_classes(session, classes),
        "impossible_travel": impossible_travel(session),
        "split_straddles": split_straddles(session),
    }
