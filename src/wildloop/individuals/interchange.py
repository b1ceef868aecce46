"""Individuals in exchange formats: which exported box is which animal, and the sightings an
imported package names (Camtrap DP's ``individualID``).

An export's boxes come from a frozen snapshot, a sighting from the current labels: a box is
matched to a person-confirmed sighting of its media by class and IoU >= ``MATCH_IOU`` (the
same rule the contradictory-class check uses). An import names individuals by their name:
one that exists must be of the box's class, one that does not is created.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from wildloop.domain.boxes import Box
from wildloop.domain.classes import ClassMap
from wildloop.individuals.profiles import assign, create_individual
from wildloop.store.tables import Individual, LabelBox, Sighting
from wildloop.users.roles import Actor

MATCH_IOU = 0.5
NamedBox = tuple[int, Box, str]  # class id, box, individual's name


def named_sightings(session: Session, media_ids: Iterable[int]) -> dict[int, list[NamedBox]]:
    """Each media's person-confirmed sightings as (class, box, individual's name)."""
    found: dict[int, list[NamedBox]] = defaultdict(list)
    ids = sorted(set(media_ids))
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(Sighting.media_id, Sighting.class_id, Individual.name)
            .add_columns(LabelBox.x, LabelBox.y, LabelBox.w, LabelBox.h)
            .join(Individual, Individual.id == Sighting.individual_id)
            .join(LabelBox, LabelBox.id == Sighting.label_box_id)
            .where(Sighting.media_id.in_(ids[start : start + 500]), Sighting.source == "person")
        ).all()
        for media_id, class_id, name, x, y, w, h in rows:
            if class_id is not None and x is not None:
                found[int(media_id)].append((int(class_id), Box(x, y, w, h), str(name)))
    return dict(found)


def individual_of(sightings: list[NamedBox], class_id: int, box: Box) -> str | None:
    """The name of the sighting that is this box (same class, best IoU >= MATCH_IOU)."""
    best = max(
        ((box.iou(b), name) for c, b, name in sightings if c == class_id),
        default=(0.0, None),
    )
    return best[1] if best[0] >= MATCH_IOU else None


def record_named_sightings(
    session: Session,
    actor: Actor,
    classes: ClassMap,
    revision_id: int,
    names: list[str | None],
) -> tuple[int, list[str]]:
    """Make the revision's boxes (in order) sightings of the individuals ``names`` gives
    them, creating individuals that do not exist; returns how many were recorded and the
    problems (an individual of another class: that box is left unassigned)."""
    if not actor.can_write:
        return 0, [f"{actor.username} may not assign individuals (role {actor.role}): not recorded"]
    boxes = session.scalars(
        select(LabelBox).where(LabelBox.revision_id == revision_id).order_by(LabelBox.id)
    ).all()
    recorded, problems = 0, []
    for box, name in zip(boxes, names, strict=True):
        if not name or box.class_id is None:
            continue
        individual = session.scalar(select(Individual).where(Individual.name == name))
        if individual is None:
            class_name = classes.name_of(box.class_id)
            individual = create_individual(
                session, actor, name=name, class_name=class_name, classes=classes
            )
        if individual.merged_into_id is not None:
            individual = session.get_one(Individual, individual.merged_into_id)
        if individual.class_id != box.class_id:
            problems.append(
                f"individual {name} is a {classes.display_name(individual.class_id)}, its box "
                f"a {classes.display_name(box.class_id)}: the box was left unassigned"
            )
            continue
        assign(session, actor, individual.id, box.id, classes=classes)
        recorded += 1
    return recorded, problems
